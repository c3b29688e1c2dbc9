import { copyFile, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { createHash } from 'node:crypto';
import { runHermetic } from '../build/hermetic.js';
import { BuildFailure } from '../builders/backend.js';
import type { BlobCache } from '../cache/blob-cache.js';
import { isBit4bitError } from '../errors.js';
import { parseStanzas } from './deb822.js';
import { debFileName, lockSize, MAX_LOCK_BYTES, parseDebianLock, type DebianLock, type LockedPackage } from './lock.js';

/**
 * A local apt repository made of exactly the .debs a lock names (issue #3). Builders
 * install from it with no network, so the packages a build can see are the lock, and
 * the lock is pinned by the source's sha256.
 *
 * The repository is a pure function of the lock: the same lock gives the same
 * Packages and Release bytes on every node, wherever the directory lives.
 */

export interface PrepareDebianRepoOptions {
  /** The lock file (inside the verified, unpacked source tree). */
  lockFile: string;
  /** Where .debs are kept by sha256; missing ones are fetched into it. */
  cache: BlobCache;
  /** The build's private work dir; the repo goes to `<workDir>/debian-repo`. */
  workDir: string;
  /** May missing .debs be downloaded from the lock's baseUrl + path? */
  allowFetch: boolean;
  progress: (message: string) => void;
  signal: AbortSignal;
}

export interface DebianRepo {
  /** Absolute path of the repository: `pool/*.deb` and `dists/<suite>/...`. */
  dir: string;
  suite: string;
}

/** Downloads in flight at once: enough to hide latency, few enough to be polite. */
const FETCH_CONCURRENCY = 4;
const FETCH_ATTEMPTS = 3;
/** A fixed Release date: apt wants one, and "now" would make the repo differ per run. */
const RELEASE_DATE = 'Thu, 01 Jan 1970 00:00:00 UTC';

export async function prepareDebianRepo(options: PrepareDebianRepoOptions): Promise<DebianRepo> {
  const { cache, progress, signal } = options;
  const lock = await readLock(options.lockFile);
  await fetchMissing(lock, options);

  const dir = join(options.workDir, 'debian-repo');
  const binary = join('dists', lock.suite, 'main', `binary-${lock.architecture}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'pool'), { recursive: true });
  await mkdir(join(dir, binary), { recursive: true });
  for (const p of lock.packages) {
    const target = join(dir, 'pool', debFileName(p));
    // A hard link costs nothing; across file systems, copy.
    await link(cache.path(p.sha256), target).catch(() => copyFile(cache.path(p.sha256), target));
  }

  // The archive's Priority/Section go back in as an override file: mmdebstrap's
  // minbase selects `Priority: required` from the index, and for some packages (apt,
  // debconf, zlib1g, ...) the archive's value differs from the .deb's control field.
  const override = join(options.workDir, 'debian-repo.override');
  await writeFile(override, lock.packages.map((p) => `${p.name} ${p.priority} ${p.section}\n`).join(''));
  progress(`indexing ${lock.packages.length} .debs into a local ${lock.suite} repository`);
  const { stdout: packages } = await runHermetic(['dpkg-scanpackages', '--multiversion', 'pool', override], {
    cwd: dir,
    home: options.workDir,
    tmpdir: options.workDir,
    sourceDateEpoch: 0,
    timeoutMs: 10 * 60_000,
    signal,
  }).catch((e: unknown) => {
    throw new BuildFailure('build-error', `cannot index the locked .debs: ${(e as Error).message}`);
  });
  checkIndexMatchesLock(packages, lock);

  const packagesPath = `main/binary-${lock.architecture}/Packages`;
  await writeFile(join(dir, binary, 'Packages'), packages);
  const release = [
    'Origin: bit4bit-local',
    'Label: bit4bit-local',
    `Suite: ${lock.suite}`,
    `Codename: ${lock.suite}`,
    `Date: ${RELEASE_DATE}`,
    `Architectures: ${lock.architecture}`,
    'Components: main',
    'SHA256:',
    ` ${createHash('sha256').update(packages).digest('hex')} ${Buffer.byteLength(packages)} ${packagesPath}`,
  ];
  await writeFile(join(dir, 'dists', lock.suite, 'Release'), `${release.join('\n')}\n`);
  return { dir, suite: lock.suite };
}

async function readLock(file: string): Promise<DebianLock> {
  const size = await stat(file).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
  if (size === undefined) throw new BuildFailure('build-error', `the package lock ${file} named by builder.packages.lock is not a file in the source tree`);
  if (size > MAX_LOCK_BYTES) throw new BuildFailure('build-error', `the package lock ${file} is larger than ${MAX_LOCK_BYTES} bytes`);
  try {
    return parseDebianLock(await readFile(file, 'utf8'), `package lock ${file}`);
  } catch (e) {
    throw new BuildFailure('build-error', (e as Error).message);
  }
}

/** Puts every locked .deb that is not yet in the cache into it, verified by sha256. */
async function fetchMissing(lock: DebianLock, options: PrepareDebianRepoOptions): Promise<void> {
  const { cache, progress, signal } = options;
  const missing: LockedPackage[] = [];
  for (const p of lock.packages) if (!(await cache.has(p.sha256))) missing.push(p);
  const total = `${lock.packages.length} locked .debs (${mb(lockSize(lock))})`;
  if (missing.length === 0) {
    progress(`${total}: all in the cache`);
    return;
  }
  if (!options.allowFetch) {
    throw new BuildFailure(
      'input-unavailable',
      `${missing.length} of the ${total} are not in the cache and fetching is not allowed: ${describe(missing)}`,
    );
  }
  progress(`${total}: fetching ${missing.length} (${mb(lockSize({ packages: missing }))}) from the mirror`);
  let done = 0;
  let lastReport = Date.now();
  const queue = [...missing];
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      await fetchDeb(p, cache, signal);
      done++;
      if (Date.now() - lastReport > 2000 || done === missing.length) {
        lastReport = Date.now();
        progress(`  fetched ${done}/${missing.length} (${p.name} ${p.version})`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FETCH_CONCURRENCY, missing.length) }, worker));
}

async function fetchDeb(p: LockedPackage, cache: BlobCache, signal: AbortSignal): Promise<void> {
  const url = `${p.baseUrl}/${p.path}`;
  const what = `${p.name} ${p.version} (${p.architecture}) from ${url}`;
  let lastError = '';
  for (let attempt = 1; attempt <= FETCH_ATTEMPTS; attempt++) {
    signal.throwIfAborted();
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (e) {
      if (signal.aborted) throw e;
      lastError = (e as Error).message;
      continue;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      lastError = `HTTP ${response.status}`;
      // 404/410: the mirror dropped this version (superseded); retrying will not help.
      if (response.status >= 400 && response.status < 500) break;
      continue;
    }
    try {
      // The cache hashes while writing and keeps nothing that does not match the lock.
      await cache.put(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), { expected: p.sha256, maxBytes: p.size, what });
      return;
    } catch (e) {
      if (isBit4bitError(e) && (e.code === 'input-hash-mismatch' || e.code === 'too-large')) {
        throw new BuildFailure('input-hash-mismatch', `${what}: ${e.message}; the lock pins sha256 ${p.sha256}, ${p.size} bytes`);
      }
      if (signal.aborted) throw e;
      lastError = (e as Error).message;
    }
  }
  throw new BuildFailure(
    'input-unavailable',
    `cannot fetch ${what}: ${lastError}. The mirror may have dropped this version; get the .deb (sha256 ${p.sha256}) from a peer, or refresh the lock with \`bit4bit lock debian\``,
  );
}

/**
 * dpkg-scanpackages describes the .debs by their own control data. A lock entry's
 * sha256 names one file, but its name/version fields are only claims: check that the
 * files are what the lock says, so the build installs what the lock documents.
 */
function checkIndexMatchesLock(packages: string, lock: DebianLock): void {
  const byFile = new Map(lock.packages.map((p) => [`pool/${debFileName(p)}`, p]));
  const stanzas = parseStanzas(packages, new Set(['Package', 'Version', 'Architecture', 'Filename']));
  if (stanzas.length !== lock.packages.length) {
    throw new BuildFailure('build-error', `the local repository indexes ${stanzas.length} .debs, but the lock names ${lock.packages.length}`);
  }
  for (const s of stanzas) {
    const p = byFile.get(s.get('Filename') ?? '');
    if (!p || p.name !== s.get('Package') || p.version !== s.get('Version') || p.architecture !== s.get('Architecture')) {
      throw new BuildFailure(
        'build-error',
        `the .deb ${s.get('Filename')} is ${s.get('Package')} ${s.get('Version')} (${s.get('Architecture')}), but the lock says ${p ? `${p.name} ${p.version} (${p.architecture})` : 'nothing about it'}`,
      );
    }
  }
}

function describe(packages: readonly LockedPackage[]): string {
  const shown = packages.slice(0, 10).map((p) => `${p.name} ${p.version} (sha256 ${p.sha256.slice(0, 12)}…)`);
  return shown.join(', ') + (packages.length > shown.length ? ` and ${packages.length - shown.length} more` : '');
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
