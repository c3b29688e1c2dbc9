import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailure } from '../../src/builders/backend.js';
import { backendFor } from '../../src/builders/index.js';
import { rootfsBackend } from '../../src/builders/rootfs.js';
import { treeDigest } from '../../src/source/pack.js';
import { useTempDirs } from '../support/temp.js';
import { buildContextFor, loadExample, type Example } from '../debian/support.js';

/** `skopeo inspect --raw oci:DIR:TAG | sha256sum`: an independent reading of the layout. */
function skopeoDigest(layout: string): string {
  return `sha256:${createHash('sha256').update(execFileSync('skopeo', ['inspect', '--raw', `oci:${layout}:latest`])).digest('hex')}`;
}

/** The image's single layer: its entry names and a reader for a few of its files. */
async function readLayer(layout: string, manifestDigest: string, dir: string, wanted: string[]): Promise<{ names: Set<string>; files: Map<string, string> }> {
  const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const manifest = JSON.parse(await readFile(blob(manifestDigest), 'utf8')) as { layers: { digest: string }[] };
  const layer = blob(manifest.layers[0]!.digest);
  const listed = execFileSync('tar', ['-tzf', layer], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n').filter(Boolean);
  // Entry names may carry a leading "./"; compare without it.
  const names = new Set(listed.map((n) => n.replace(/^\.\//, '')));
  const members = listed.filter((n) => wanted.includes(n.replace(/^\.\//, '')));
  execFileSync('tar', ['-xzf', layer, '-C', dir, ...members]);
  const files = new Map<string, string>();
  for (const w of wanted) if (names.has(w)) files.set(w, await readFile(join(dir, w), 'utf8'));
  return { names, files };
}

describe('rootfs backend (mmdebstrap + buildah, real tools)', function () {
  this.timeout(600_000);
  const tempDir = useTempDirs('bit4bit-rootfs-');
  let example: Example;

  before(async () => {
    example = await loadExample('debian-base');
  });

  it('is the registered backend for type rootfs and reads the installed mmdebstrap version', async () => {
    assert.equal(backendFor('rootfs'), rootfsBackend);
    const printed = execFileSync('mmdebstrap', ['--version'], { encoding: 'utf8' }).trim();
    assert.equal(`mmdebstrap ${await rootfsBackend.installedVersion()}`, printed);
  });

  it('the debian-base example pins its own source (lock included)', async () => {
    assert.equal(await treeDigest(example.sourceDir), example.loaded.spec.source.sha256);
  });

  it('debian-base built twice from clean work dirs gives one manifest digest, the one skopeo reads', async () => {
    const root = await tempDir();
    const outputs = [];
    for (const i of [1, 2]) {
      const lines: string[] = [];
      const ctx = await buildContextFor(example, root, (l) => lines.push(l));
      const out = await rootfsBackend.build(ctx);
      assert.match(out.digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(out.artifact, join(ctx.outDir, 'oci'));
      assert.equal(skopeoDigest(out.artifact), out.digest, `build ${i}: skopeo disagrees`);
      assert.ok(lines.some((l) => l.startsWith('mmdebstrap: done')), lines.join('\n'));
      outputs.push(out);
    }
    assert.equal(outputs[0]!.digest, outputs[1]!.digest);

    const { artifact, digest } = outputs[0]!;
    const layer = await readLayer(artifact, digest, await tempDir(), ['etc/apt/sources.list', 'var/lib/dpkg/status']);
    // Nothing of the building host: no resolv.conf/hostname, the standard sources.
    assert.ok(!layer.names.has('etc/resolv.conf') && !layer.names.has('etc/hostname'));
    assert.equal(
      layer.files.get('etc/apt/sources.list'),
      'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n',
    );
    // Exactly the lock's packages are installed.
    const status = layer.files.get('var/lib/dpkg/status') ?? '';
    const installed = status.split('\n').filter((l) => l.startsWith('Package: ')).map((l) => l.slice(9)).sort();
    const locked = JSON.parse(await readFile(example.lockFile, 'utf8')).packages.map((p: { name: string }) => p.name);
    assert.deepEqual(installed, locked);
    // The config is the spec's, at SOURCE_DATE_EPOCH.
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `oci:${artifact}:latest`], { encoding: 'utf8' }));
    assert.deepEqual(config.config.Cmd, ['/bin/bash']);
    assert.equal(config.created, new Date(example.loaded.spec.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z'));
  });

  it('refuses to build without a local repository, or for another suite than the lock', async () => {
    const ctx = await buildContextFor(example, await tempDir());
    await assert.rejects(rootfsBackend.build({ ...ctx, debianRepo: undefined }), (e: unknown) => e instanceof BuildFailure && e.failureClass === 'input-unavailable');
    await assert.rejects(
      rootfsBackend.build({ ...ctx, debianRepo: { ...ctx.debianRepo!, suite: 'trixie' } }),
      (e: unknown) => e instanceof BuildFailure && /builder\.suite is bookworm, but the package lock is for trixie/.test(e.message),
    );
  });
});
