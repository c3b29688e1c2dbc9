import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailure } from '../../src/builders/backend.js';
import { backendFor } from '../../src/builders/index.js';
import { directoryDigest, mkosiBackend, seedForSpec } from '../../src/builders/mkosi.js';
import { treeDigest } from '../../src/source/pack.js';
import { useTempDirs } from '../support/temp.js';
import { buildContextFor, loadExample, type Example } from '../debian/support.js';

describe('mkosi backend (mkosi 24, real tool)', function () {
  this.timeout(600_000);
  const tempDir = useTempDirs('bit4bit-mkosi-');
  let example: Example;

  before(async () => {
    example = await loadExample('mkosi-minimal');
  });

  it('is the registered backend for type mkosi and reads the installed mkosi version', async () => {
    assert.equal(backendFor('mkosi'), mkosiBackend);
    const printed = execFileSync('mkosi', ['--version'], { encoding: 'utf8' }).trim();
    assert.equal(`mkosi ${await mkosiBackend.installedVersion()}`, printed);
  });

  it('the mkosi-minimal example pins its own source (config and lock)', async () => {
    assert.equal(await treeDigest(example.sourceDir), example.loaded.spec.source.sha256);
  });

  it('mkosi-minimal (Format=tar) built twice from clean work dirs gives one digest: the tar\'s sha256', async () => {
    const before = await treeDigest(example.sourceDir);
    const digests: string[] = [];
    const root = await tempDir();
    for (const i of [1, 2]) {
      const ctx = await buildContextFor(example, root);
      const out = await mkosiBackend.build(ctx);
      assert.equal(out.artifact, join(ctx.outDir, 'mkosi', 'mkosi-minimal.tar'), `build ${i}`);
      assert.equal(out.digest, `sha256:${createHash('sha256').update(await readFile(out.artifact)).digest('hex')}`);
      digests.push(out.digest);
    }
    assert.equal(digests[0], digests[1]);
    assert.equal(await treeDigest(example.sourceDir), before, 'the build changed its source tree');
  });

  it('refuses to build without a package lock (input-unavailable), before running mkosi', async () => {
    const ctx = await buildContextFor(example, await tempDir());
    await assert.rejects(mkosiBackend.build({ ...ctx, debianRepo: undefined }), (e: unknown) => e instanceof BuildFailure && e.failureClass === 'input-unavailable');
  });

  it('default seed: a UUID derived from the spec id, the same on every node', () => {
    const a = seedForSpec('sha256:' + 'a'.repeat(64));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(seedForSpec('sha256:' + 'a'.repeat(64)), a);
    assert.notEqual(seedForSpec('sha256:' + 'b'.repeat(64)), a);
  });
});

describe('directory digest (docs/formats/digest.md)', function () {
  const tempDir = useTempDirs('bit4bit-dirdigest-');

  it('hashes the sorted (path, type, mode, uid, gid, size, link target, content hash) list', async () => {
    const root = join(await tempDir(), 'tree');
    await mkdir(join(root, 'a'), { recursive: true });
    await writeFile(join(root, 'a', 'x'), 'hi\n');
    await writeFile(join(root, 'a-c'), '');
    await symlink('a/x', join(root, 'l'));
    await chmod(root, 0o755);
    await chmod(join(root, 'a'), 0o750);
    await chmod(join(root, 'a', 'x'), 0o4755);
    await chmod(join(root, 'a-c'), 0o600);
    const uid = String(process.getuid!());
    const gid = String(process.getgid!());
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    // Byte order: "a" < "a-c" < "a/x" ("-" is 0x2d, "/" is 0x2f) < "l".
    const records = [
      ['.', 'd', '0755', uid, gid, '0', '', ''],
      ['a', 'd', '0750', uid, gid, '0', '', ''],
      ['a-c', 'f', '0600', uid, gid, '0', '', sha('')],
      ['a/x', 'f', '4755', uid, gid, '3', '', sha('hi\n')],
      ['l', 'l', '0777', uid, gid, '0', 'a/x', ''],
    ];
    const expected = `sha256:${sha(records.map((r) => r.map((f) => `${f}\0`).join('')).join(''))}`;
    assert.equal(await directoryDigest(root), expected);

    await writeFile(join(root, 'a', 'x'), 'ho\n');
    assert.notEqual(await directoryDigest(root), expected, 'content is covered');
  });
});
