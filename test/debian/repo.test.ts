import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailure } from '../../src/builders/backend.js';
import { BlobCache } from '../../src/cache/blob-cache.js';
import { parseDebianLock, serializeDebianLock, type DebianLock } from '../../src/debian/lock.js';
import { prepareDebianRepo } from '../../src/debian/repo.js';
import { useTempDirs } from '../support/temp.js';
import { loadExample, sharedDebCache } from './support.js';

const signal = new AbortController().signal;
const quiet = () => {};

describe('debian repo: a local apt repository from exactly the locked .debs', function () {
  this.timeout(180_000);
  const tempDir = useTempDirs('bit4bit-repo-');
  let lock: DebianLock;
  let lockFile: string;

  before(async () => {
    ({ lockFile } = await loadExample('debian-base'));
    lock = parseDebianLock(await readFile(lockFile, 'utf8'));
  });

  /** A lock holding only some entries of the example's, possibly altered. */
  async function lockWith(entries: DebianLock['packages']): Promise<string> {
    const file = join(await tempDir(), 'debian.lock.json');
    await writeFile(file, serializeDebianLock({ ...lock, packages: entries }));
    return file;
  }
  const smallest = () => [...lock.packages].sort((a, b) => a.size - b.size)[0]!;

  it('fetches missing .debs into the cache and writes the same Packages and Release bytes in any directory', async () => {
    const lines: string[] = [];
    const a = await prepareDebianRepo({ lockFile, cache: sharedDebCache, workDir: await tempDir(), allowFetch: true, progress: (l) => lines.push(l), signal });
    // Second time: everything is in the cache, so fetching may be off.
    const b = await prepareDebianRepo({ lockFile, cache: sharedDebCache, workDir: await tempDir(), allowFetch: false, progress: quiet, signal });
    assert.equal(a.suite, 'bookworm');
    assert.notEqual(a.dir, b.dir);
    for (const f of ['dists/bookworm/Release', 'dists/bookworm/main/binary-amd64/Packages']) {
      assert.deepEqual(await readFile(join(a.dir, f)), await readFile(join(b.dir, f)), `${f} differs between two preparations`);
    }
    const packages = await readFile(join(a.dir, 'dists/bookworm/main/binary-amd64/Packages'));
    const release = await readFile(join(a.dir, 'dists/bookworm/Release'), 'utf8');
    assert.ok(release.includes(` ${createHash('sha256').update(packages).digest('hex')} ${packages.length} main/binary-amd64/Packages`));
    assert.equal((await readdir(join(a.dir, 'pool'))).length, lock.packages.length);
    // The archive's priority comes back through the override (apt is "required" in the archive).
    const apt = packages.toString().split('\n\n').find((s) => s.startsWith('Package: apt\n'))!;
    assert.match(apt, new RegExp(`^Priority: ${lock.packages.find((p) => p.name === 'apt')!.priority}$`, 'm'));
    assert.ok(lines.some((l) => /locked \.debs/.test(l)), lines.join('\n'));
  });

  it('refuses a .deb whose bytes are not the pinned sha256: input-hash-mismatch, nothing cached', async () => {
    const p = smallest();
    const wrong = createHash('sha256').update('not this deb').digest('hex');
    const cache = new BlobCache(await tempDir());
    await assert.rejects(
      prepareDebianRepo({ lockFile: await lockWith([{ ...p, sha256: wrong }]), cache, workDir: await tempDir(), allowFetch: true, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && e.failureClass === 'input-hash-mismatch' && e.message.includes(p.name) && e.message.includes(wrong),
    );
    assert.equal(await cache.has(wrong), false);
  });

  it('reports a .deb that is not cached when fetching is off: input-unavailable, naming the package', async () => {
    const p = smallest();
    await assert.rejects(
      prepareDebianRepo({ lockFile: await lockWith([p]), cache: new BlobCache(await tempDir()), workDir: await tempDir(), allowFetch: false, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && e.failureClass === 'input-unavailable' && e.message.includes(`${p.name} ${p.version}`),
    );
  });

  it('reports a .deb the mirror does not have: input-unavailable, naming the URL', async () => {
    const p = { ...smallest(), path: 'pool/main/b/bit4bit/bit4bit-no-such_0.0_amd64.deb' };
    await assert.rejects(
      prepareDebianRepo({ lockFile: await lockWith([p]), cache: new BlobCache(await tempDir()), workDir: await tempDir(), allowFetch: true, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && e.failureClass === 'input-unavailable' && e.message.includes('HTTP 404') && e.message.includes(p.path),
    );
  });

  it('refuses a lock entry whose .deb is another package than it claims', async () => {
    const dash = lock.packages.find((p) => p.name === 'dash')!;
    await assert.rejects(
      prepareDebianRepo({ lockFile: await lockWith([{ ...dash, name: 'dashx' }]), cache: sharedDebCache, workDir: await tempDir(), allowFetch: true, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && e.failureClass === 'build-error' && /is dash .* but the lock says dashx/.test(e.message),
    );
  });

  it('refuses a lock file that is missing or invalid', async () => {
    const dir = await tempDir();
    await assert.rejects(
      prepareDebianRepo({ lockFile: join(dir, 'nope.json'), cache: sharedDebCache, workDir: dir, allowFetch: false, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && /not a file in the source tree/.test(e.message),
    );
    await writeFile(join(dir, 'bad.json'), '{"apiVersion":"bit4bit/v1","kind":"DebianLock"}');
    await assert.rejects(
      prepareDebianRepo({ lockFile: join(dir, 'bad.json'), cache: sharedDebCache, workDir: dir, allowFetch: false, progress: quiet, signal }),
      (e: unknown) => e instanceof BuildFailure && /suite: required field is missing/.test(e.message),
    );
  });
});
