import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHermetic } from '../build/hermetic.js';
import { Bit4bitError, invalidInput, isBit4bitError } from '../errors.js';
import { parseStanzas } from './deb822.js';
import {
  lockEntries,
  lockSize,
  parseSimulatedInstall,
  validateDebianLock,
  variantBaseSet,
  type DebianLock,
  type LockVariant,
  type PackageIndex,
} from './lock.js';

/**
 * Resolves a Debian package lock against the live mirror (`bit4bit lock debian`).
 * apt does the resolving, with a private configuration and state in a temporary
 * directory: the host's /etc/apt (sources, preferences, pins, proxies) is never read,
 * and the dpkg status is empty, so `apt-get install -s` lists the whole closure.
 * apt verifies the indexes' signatures with the Debian archive keyring, so every
 * sha256 in the lock comes from a signed index.
 */

export interface ResolveDebianLockOptions {
  suite: string;
  /** Packages wanted besides the variant's base set. */
  packages: readonly string[];
  variant: LockVariant;
  architecture?: string;
  mirror?: string;
  securityMirror?: string;
  keyring?: string;
  progress?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
export const DEFAULT_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
/** Suites without -updates and -security companions. */
const ROLLING_SUITES = new Set(['sid', 'unstable', 'experimental', 'rc-buggy']);
const INDEX_FIELDS = new Set(['Package', 'Version', 'Architecture', 'SHA256', 'Size', 'Filename', 'Priority', 'Section', 'Essential']);

const SUITE = /^[a-z][a-z0-9-]{0,31}$/;
const ARCH = /^[a-z0-9][a-z0-9-]{0,31}$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]{1,127}$/;
const MIRROR = /^https?:\/\/[A-Za-z0-9.:\[\]-]+(\/[A-Za-z0-9._~%+\/-]*)?$/;

export async function resolveDebianLock(options: ResolveDebianLockOptions): Promise<DebianLock> {
  const architecture = options.architecture ?? 'amd64';
  const mirror = (options.mirror ?? DEFAULT_MIRROR).replace(/\/+$/, '');
  const securityMirror = (options.securityMirror ?? DEFAULT_SECURITY_MIRROR).replace(/\/+$/, '');
  const keyring = options.keyring ?? DEFAULT_KEYRING;
  const progress = options.progress ?? (() => {});
  // These values end up in apt's configuration files: check them before writing any.
  if (!SUITE.test(options.suite)) throw invalidInput('bad-suite', `suite ${JSON.stringify(options.suite)}: expected a Debian codename such as bookworm`);
  if (!ARCH.test(architecture)) throw invalidInput('bad-architecture', `architecture ${JSON.stringify(architecture)}: expected a Debian architecture such as amd64`);
  for (const m of [mirror, securityMirror]) {
    if (!MIRROR.test(m)) throw invalidInput('bad-mirror', `mirror ${JSON.stringify(m)}: expected an http(s) URL such as ${DEFAULT_MIRROR}`);
  }
  for (const p of options.packages) {
    if (!PACKAGE.test(p)) throw invalidInput('bad-package', `package ${JSON.stringify(p)}: expected a Debian package name (lowercase letters, digits, + . -)`);
  }
  if (/["\n]/.test(keyring)) throw invalidInput('bad-keyring', `keyring path ${JSON.stringify(keyring)} cannot contain quotes or newlines`);

  const dir = await mkdtemp(join(tmpdir(), 'bit4bit-lock-'));
  try {
    const aptConfig = await writePrivateAptConfig(dir, { suite: options.suite, architecture, mirror, securityMirror, keyring });
    const apt = (argv: string[], onLine?: (line: string) => void) =>
      runHermetic(argv, {
        cwd: dir,
        home: dir,
        tmpdir: dir,
        sourceDateEpoch: 0,
        env: { APT_CONFIG: aptConfig, DEBIAN_FRONTEND: 'noninteractive' },
        network: true,
        timeoutMs: options.timeoutMs ?? 10 * 60_000,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(onLine ? { onLine } : {}),
      });

    progress(`fetching package indexes for ${options.suite} (${architecture}) from ${mirror} and ${securityMirror}`);
    try {
      await apt(['apt-get', 'update', '-q', '--error-on=any'], (line) => {
        if (/^(Get|Err|Ign|W|E):/.test(line)) progress(`  ${line.trim()}`);
      });
    } catch (e) {
      throw rethrow(e, 'mirror-unavailable', 'environment', `could not fetch the ${options.suite} package indexes (is the mirror reachable?)`);
    }

    const targets = await apt(['apt-get', 'indextargets', '--format', '$(FILENAME)\t$(REPO_URI)', 'Identifier: Packages']);
    const indexes: PackageIndex[] = [];
    for (const line of targets.stdout.split('\n').filter(Boolean)) {
      const [file, baseUrl] = line.split('\t') as [string, string];
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text !== undefined) indexes.push({ baseUrl, stanzas: parseStanzas(text, INDEX_FIELDS) });
    }
    if (indexes.length === 0) throw new Bit4bitError('mirror-unavailable', `no package index for ${options.suite}/${architecture} was fetched`, 'environment');

    const base = variantBaseSet(options.variant, indexes, architecture);
    const wanted = [...new Set([...base, ...options.packages])];
    if (wanted.length === 0) throw invalidInput('nothing-to-lock', 'no packages requested and variant "none": nothing to lock');
    progress(`resolving the closure of ${wanted.length} packages (${base.length} from variant ${options.variant}, ${options.packages.length} requested)`);
    let simulated: string;
    try {
      simulated = (await apt(['apt-get', 'install', '-s', '-q', '--no-install-recommends', '--', ...wanted])).stdout;
    } catch (e) {
      throw rethrow(e, 'lock-unresolvable', 'invalid-input', `apt cannot install ${options.packages.join(', ') || 'the base set'} on ${options.suite}`);
    }
    const packages = lockEntries(parseSimulatedInstall(simulated), indexes);
    const lock = validateDebianLock(
      {
        apiVersion: 'bit4bit/v1',
        kind: 'DebianLock',
        suite: options.suite,
        architecture,
        variant: options.variant,
        requested: [...new Set(options.packages)].sort(),
        packages,
      },
      'resolved lock',
    );
    progress(`resolved ${packages.length} packages, ${(lockSize(lock) / 1e6).toFixed(1)} MB of .debs`);
    return lock;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface AptSetup {
  suite: string;
  architecture: string;
  mirror: string;
  securityMirror: string;
  keyring: string;
}

/**
 * APT_CONFIG is read before anything else, so pointing Dir::Etc and Dir::State at
 * the private directory keeps the host's apt configuration and state out entirely.
 */
async function writePrivateAptConfig(dir: string, s: AptSetup): Promise<string> {
  for (const sub of ['etc/apt.conf.d', 'etc/preferences.d', 'etc/sources.list.d', 'etc/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'dpkg']) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, 'dpkg/status'), '');
  const signed = `[signed-by=${s.keyring}]`;
  const sources = [`deb ${signed} ${s.mirror} ${s.suite} main`];
  if (!ROLLING_SUITES.has(s.suite)) {
    sources.push(`deb ${signed} ${s.mirror} ${s.suite}-updates main`, `deb ${signed} ${s.securityMirror} ${s.suite}-security main`);
  }
  await writeFile(join(dir, 'etc/sources.list'), `${sources.join('\n')}\n`);
  const config = [
    `Dir::Etc "${dir}/etc";`,
    'Dir::Etc::Main "/dev/null";',
    `Dir::Etc::Parts "${dir}/etc/apt.conf.d";`,
    'Dir::Etc::Trusted "/dev/null";',
    `Dir::Etc::TrustedParts "${dir}/etc/trusted.gpg.d";`,
    `Dir::State "${dir}/state";`,
    `Dir::State::Status "${dir}/dpkg/status";`,
    `Dir::Cache "${dir}/cache";`,
    `APT::Architecture "${s.architecture}";`,
    `APT::Architectures { "${s.architecture}"; };`,
    'APT::Install-Recommends "false";',
    'APT::Install-Suggests "false";',
    'Acquire::Languages "none";',
    'Acquire::GzipIndexes "false";',
    'Debug::NoLocking "true";',
    // The private state is root's; apt's _apt sandbox user could not write it.
    'APT::Sandbox::User "root";',
  ];
  const file = join(dir, 'apt.conf');
  await writeFile(file, `${config.join('\n')}\n`);
  return file;
}

function rethrow(e: unknown, code: string, kind: 'environment' | 'invalid-input', what: string): Bit4bitError {
  if (!isBit4bitError(e) || e.code !== 'build-error') return e as Bit4bitError;
  // apt's own "E:" lines say what is wrong (unknown package, unmet dependency, 404).
  const errors = e.message.split('\n').filter((l) => /^(E|Err|W):/.test(l.trim()));
  return new Bit4bitError(code, `${what}:\n  ${(errors.length ? errors : e.message.split('\n').slice(1)).join('\n  ')}`, kind);
}
