import { strict as assert } from 'node:assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rebuild, type RebuildOptions } from '../../src/build/rebuild.js';
import { runCli } from '../support/cli.js';
import { useTempDirs } from '../support/temp.js';
import { MINI_DOCKERFILE, withMiniBase, writeFixture } from './fixtures.js';

/**
 * The orchestrator with real buildah on small fixtures (see fixtures.ts): every failure
 * class, --twice, timeouts, and the CLI's exit codes.
 */
describe('rebuild: orchestrator with real buildah', function () {
  this.timeout(120_000);
  const tempDir = useTempDirs('bit4bit-rebuild-');
  let options: RebuildOptions;
  let base: string;

  before(async () => {
    ({ options, base } = await withMiniBase(tempDir));
  });

  it('two builds of a reproducible Dockerfile in fresh environments give one digest', async () => {
    const f = await writeFixture(await tempDir(), { name: 'repro', baseImages: [{ image: base }], dockerfile: `FROM ${base}\nARG SOURCE_DATE_EPOCH\nRUN echo hi > /hi && date -u -d @"$SOURCE_DATE_EPOCH" > /built\n` });
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir, twice: true });
    assert.equal(r.outcome, 'reproduced', r.failure?.message);
    assert.match(r.digest!, /^sha256:[0-9a-f]{64}$/);
    assert.equal(r.toolVersion, '1.28.2');
    assert.ok(r.durationMs > 0 && r.finishedOn >= r.startedOn);
  });

  it('--twice on a build that embeds time and random bytes is unstable, listing the differing paths', async () => {
    const f = await writeFixture(await tempDir(), { name: 'nonrepro', baseImages: [{ image: base }], dockerfile: `FROM ${base}\nRUN date +%s%N > /stamp && head -c16 /dev/urandom > /random && echo same > /same\n` });
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir, twice: true });
    assert.equal(r.outcome, 'unstable');
    assert.equal(new Set(r.digests).size, 2);
    assert.deepEqual(r.differences, ['layer 1: /random (content)', 'layer 1: /stamp (content)']);
  });

  it('a source that does not match the pinned sha256 is input-hash-mismatch, naming both hashes', async () => {
    const f = await writeFixture(await tempDir(), { name: 'tampered', dockerfile: MINI_DOCKERFILE, files: { 'a.txt': 'original\n' } });
    await writeFile(join(f.sourceDir, 'a.txt'), 'tampered\n');
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure?.class, 'input-hash-mismatch');
    assert.ok(r.failure!.message.includes(f.loaded.spec.source.sha256), r.failure!.message);
    assert.match(r.failure!.message, /has sha256 [0-9a-f]{64}, but [0-9a-f]{64} was pinned/);
  });

  it('a source that is nowhere is input-unavailable', async () => {
    const f = await writeFixture(await tempDir(), { name: 'nosource', dockerfile: MINI_DOCKERFILE, files: { 'b.txt': 'x\n' } });
    const r = await rebuild(f.loaded, options);
    assert.equal(r.failure?.class, 'input-unavailable');
  });

  it('a base image in no store and with no spec is input-unavailable', async () => {
    const missing = `localhost/missing@sha256:${'b'.repeat(64)}`;
    const f = await writeFixture(await tempDir(), { name: 'nobase', baseImages: [{ image: missing }], dockerfile: `FROM ${missing}\n` });
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.failure?.class, 'input-unavailable');
    assert.match(r.failure!.message, /not in the local image store/);
  });

  it('a lock whose .deb hash is wrong is input-hash-mismatch', async function () {
    // One real, small .deb from the mirror with its sha256 altered.
    const lock = JSON.parse(await readFile(new URL('../../../examples/hello-node/source/debian.lock.json', import.meta.url), 'utf8'));
    const pkg = lock.packages.find((p: { name: string }) => p.name === 'libc-ares2');
    lock.packages = [{ ...pkg, sha256: pkg.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0')) }];
    lock.requested = ['libc-ares2'];
    const f = await writeFixture(await tempDir(), { name: 'badlock', dockerfile: MINI_DOCKERFILE, packagesLock: 'debian.lock.json', files: { 'debian.lock.json': JSON.stringify(lock, null, 2) } });
    const r = await rebuild(f.loaded, { ...options, allowFetch: true, sourceHint: f.sourceDir });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure?.class, 'input-hash-mismatch', r.failure?.message);
  });

  it('a different installed tool version is toolchain-mismatch, before anything is fetched', async () => {
    const f = await writeFixture(await tempDir(), { name: 'oldtool', version: '1.28.1', dockerfile: MINI_DOCKERFILE, files: { 'c.txt': 'c\n' } });
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure?.class, 'toolchain-mismatch');
    assert.match(r.failure!.message, /installed buildah 1\.28\.2 differs from the version the spec pins, 1\.28\.1/);
    assert.equal(await options.cache.has(f.loaded.spec.source.sha256), false, 'nothing was fetched');
  });

  it('a RUN step that uses the network fails fast with build-error', async () => {
    const f = await writeFixture(await tempDir(), { name: 'network', baseImages: [{ image: base }], dockerfile: `FROM ${base}\nRUN curl -sS --max-time 30 http://deb.debian.org/debian/ > /index.html\n` });
    const started = Date.now();
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.failure?.class, 'build-error');
    assert.match(r.failure!.message, /curl|exit/i);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
  });

  it('a build that outlives --timeout is killed and reported as timeout', async () => {
    const f = await writeFixture(await tempDir(), { name: 'slow', baseImages: [{ image: base }], dockerfile: `FROM ${base}\nRUN sleep 120\n` });
    const started = Date.now();
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir, timeoutMs: 3000 });
    assert.equal(r.failure?.class, 'timeout');
    assert.ok(Date.now() - started < 20_000);
  });

  describe('bit4bit build (CLI)', () => {
    it('builds a spec with its source/ folder beside it and prints JSON; exit 0', async () => {
      const f = await writeFixture(await tempDir(), { name: 'cli', baseImages: [], dockerfile: 'FROM scratch\nCOPY d.txt /d.txt\n', files: { 'd.txt': 'd\n' } });
      const r = await runCli(['--home', await tempDir(), 'build', f.specFile, '--json', '--offline']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      for (const k of ['spec', 'outcome', 'digest', 'builder', 'toolVersion', 'durationMs']) assert.ok(k in out, k);
      assert.equal(out.outcome, 'reproduced');
      assert.match(r.stderr, /==> /);
    });

    it('a base pinned by tag only is refused by spec validation: exit 2', async () => {
      const f = await writeFixture(await tempDir(), { name: 'tagonly', baseImages: [{ image: 'debian:bookworm' }], dockerfile: 'FROM debian:bookworm\n' });
      const r = await runCli(['--home', await tempDir(), 'build', f.specFile]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /builder\.baseImages\[0\]\.image/);
    });

    it('a failed build exits 1 with its class', async () => {
      const f = await writeFixture(await tempDir(), { name: 'clifail', version: '0.1', dockerfile: MINI_DOCKERFILE });
      const r = await runCli(['--home', await tempDir(), 'build', f.specFile, '--json']);
      assert.equal(r.code, 1);
      assert.equal(JSON.parse(r.stdout).failure.class, 'toolchain-mismatch');
    });
  });
});
