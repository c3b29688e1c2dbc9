import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  lockEntries,
  parseDebianLock,
  parseSimulatedInstall,
  serializeDebianLock,
  validateDebianLock,
  variantBaseSet,
  type DebianLock,
} from '../../src/debian/lock.js';
import { parseStanzas } from '../../src/debian/deb822.js';
import { resolveDebianLock } from '../../src/debian/resolve.js';
import { runCli } from '../support/cli.js';
import { useTempDirs } from '../support/temp.js';

const sha = (c: string) => c.repeat(64);
const entry = (name: string, extra: Partial<DebianLock['packages'][number]> = {}) => ({
  name,
  version: '1.0-1',
  architecture: 'amd64',
  sha256: sha('a'),
  size: 10,
  path: `pool/main/${name[0]}/${name}/${name}_1.0-1_amd64.deb`,
  baseUrl: 'http://deb.debian.org/debian',
  priority: 'optional',
  section: 'libs',
  ...extra,
});
const lockOf = (packages: unknown[]) => ({ apiVersion: 'bit4bit/v1', kind: 'DebianLock', suite: 'bookworm', architecture: 'amd64', packages });

describe('debian lock: format', () => {
  it('accepts a sorted lock and serializes it canonically (parse ∘ serialize = id)', () => {
    const lock = validateDebianLock(lockOf([entry('a1'), entry('b2', { architecture: 'all' })]));
    const text = serializeDebianLock(lock);
    assert.equal(serializeDebianLock(parseDebianLock(text)), text);
    assert.ok(text.endsWith('}\n'));
  });

  it('refuses unsorted or duplicate names, naming the entry', () => {
    assert.throws(() => validateDebianLock(lockOf([entry('bb'), entry('aa')])), /packages\[1\]\.name: expected names sorted and unique/);
    assert.throws(() => validateDebianLock(lockOf([entry('aa'), entry('aa')])), /packages\[1\]\.name/);
  });

  it('refuses bad fields with the path and what is expected', () => {
    assert.throws(() => validateDebianLock(lockOf([entry('aa', { sha256: 'xyz' })])), /packages\[0\]\.sha256: expected 64 lowercase hex/);
    assert.throws(() => validateDebianLock(lockOf([entry('aa', { path: 'pool/../../etc/passwd.deb' })])), /packages\[0\]\.path/);
    assert.throws(() => validateDebianLock(lockOf([entry('aa', { baseUrl: 'file:///srv/mirror' })])), /packages\[0\]\.baseUrl/);
    assert.throws(() => validateDebianLock(lockOf([entry('aa', { architecture: 'arm64' })])), /packages\[0\]\.architecture: expected "amd64" or "all"/);
    assert.throws(() => validateDebianLock({ ...lockOf([entry('aa')]), kind: 'Lock' }), /kind: expected the string "DebianLock"/);
    assert.throws(() => parseDebianLock('{'), /not valid JSON/);
  });
});

describe('debian lock: selection and joins (pure)', () => {
  const index = {
    baseUrl: 'http://deb.debian.org/debian/',
    stanzas: parseStanzas(
      [
        'Package: dpkg\nVersion: 1.21.22\nArchitecture: amd64\nEssential: yes\nPriority: required\nSection: admin\nFilename: pool/main/d/dpkg/dpkg_1.21.22_amd64.deb\nSize: 5\nSHA256: ' + sha('1'),
        'Package: mawk\nVersion: 1.3.4\nArchitecture: amd64\nPriority: required\nSection: interpreters\nFilename: pool/main/m/mawk/mawk_1.3.4_amd64.deb\nSize: 6\nSHA256: ' + sha('2'),
        'Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nPriority: optional\nSection: devel\nDescription: hi\n there\nFilename: pool/main/h/hello/hello_2.10-3_amd64.deb\nSize: 7\nSHA256: ' + sha('3'),
        'Package: armonly\nVersion: 1\nArchitecture: arm64\nPriority: required\nFilename: pool/x.deb\nSize: 1\nSHA256: ' + sha('4'),
      ].join('\n\n'),
    ),
  };

  it('variants choose the base set from the index, like mmdebstrap', () => {
    assert.deepEqual(variantBaseSet('essential', [index], 'amd64'), ['dpkg']);
    assert.deepEqual(variantBaseSet('apt', [index], 'amd64'), ['apt', 'dpkg']);
    assert.deepEqual(variantBaseSet('minbase', [index], 'amd64'), ['apt', 'dpkg', 'mawk']);
    assert.deepEqual(variantBaseSet('none', [index], 'amd64'), []);
  });

  it('reads apt\'s simulation and joins it with the index stanzas (archive priority/section kept)', () => {
    const sim = 'NOTE: This is only a simulation!\nInst hello (2.10-3 Debian:12.15/oldstable [amd64])\nInst mawk (1.3.4 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []\nConf hello (2.10-3 Debian:12.15/oldstable [amd64])\n';
    const resolved = parseSimulatedInstall(sim);
    assert.deepEqual(resolved, [
      { name: 'hello', version: '2.10-3', architecture: 'amd64' },
      { name: 'mawk', version: '1.3.4', architecture: 'amd64' },
    ]);
    const entries = lockEntries(resolved, [index]);
    assert.deepEqual(entries.map((e) => [e.name, e.priority, e.section, e.baseUrl, e.sha256]), [
      ['hello', 'optional', 'devel', 'http://deb.debian.org/debian', sha('3')],
      ['mawk', 'required', 'interpreters', 'http://deb.debian.org/debian', sha('2')],
    ]);
    assert.throws(() => lockEntries([{ name: 'nope', version: '1', architecture: 'amd64' }], [index]), /no fetched index describes: nope 1 amd64/);
  });
});

describe('debian lock: resolution against the live mirror (apt-get, private state)', function () {
  this.timeout(180_000);
  const tempDir = useTempDirs('bit4bit-lock-');

  it('minbase: the closure holds the requested packages, apt and the Priority: required set', async () => {
    const lines: string[] = [];
    const lock = await resolveDebianLock({ suite: 'bookworm', packages: ['hello'], variant: 'minbase', progress: (l) => lines.push(l) });
    const names = new Set(lock.packages.map((p) => p.name));
    for (const n of ['hello', 'apt', 'base-files', 'base-passwd', 'bash', 'coreutils', 'dash', 'dpkg', 'libc6', 'login', 'mawk', 'mount', 'passwd', 'perl-base', 'sed', 'tar', 'util-linux']) {
      assert.ok(names.has(n), `${n} missing from the closure`);
    }
    // apt's own dependencies are in the closure too.
    assert.ok(names.has('libapt-pkg6.0') && names.has('gpgv'));
    assert.equal(lock.packages.find((p) => p.name === 'dpkg')?.priority, 'required');
    assert.deepEqual(lock.requested, ['hello']);
    assert.ok(lock.packages.every((p) => p.path.startsWith('pool/') && /^http:\/\/deb\.debian\.org\/debian(-security)?$/.test(p.baseUrl)));
    assert.deepEqual(parseDebianLock(serializeDebianLock(lock)), lock, 'the resolved lock is valid and canonical');
    assert.ok(lines.some((l) => /^resolved \d+ packages/.test(l)), lines.join('\n'));
  });

  it('bit4bit lock debian --variant none locks only the requested closure, and refuses an unknown package', async () => {
    const dir = await tempDir();
    const out = join(dir, 'hello.lock.json');
    const r = await runCli(['lock', 'debian', '--suite', 'bookworm', '--packages', 'hello', '--variant', 'none', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).packages, 4);
    const lock = parseDebianLock(await readFile(out, 'utf8'));
    assert.deepEqual(lock.packages.map((p) => p.name), ['gcc-12-base', 'hello', 'libc6', 'libgcc-s1']);
    assert.match(r.stderr, /fetching package indexes for bookworm/);

    const bad = await runCli(['lock', 'debian', '--suite', 'bookworm', '--packages', 'no-such-package-bit4bit', '--variant', 'none', '--out', join(dir, 'x.json')]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /Unable to locate package no-such-package-bit4bit/);
  });

  it('refuses bad usage before touching the network (exit 2)', async () => {
    const r = await runCli(['lock', 'debian', '--suite', 'bookworm', '--variant', 'tiny', '--out', '/tmp/x.json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--variant tiny: expected one of essential, apt, minbase, none/);
    const r2 = await runCli(['lock', 'debian', '--suite', 'bookworm"\nDir "/', '--out', '/tmp/x.json']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /expected a Debian codename/);
  });
});
