import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, realpath, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import assert from 'node:assert/strict';
import { ImageStore } from '../../src/build/image-store.js';
import { rebuild, type RebuildOptions } from '../../src/build/rebuild.js';
import { BlobCache } from '../../src/cache/blob-cache.js';
import { packToFile } from '../../src/source/pack.js';
import { parseSpec } from '../../src/spec/validate.js';
import type { BaseImage, LoadedSpec } from '../../src/spec/types.js';

/**
 * Small, fast build fixtures made from this machine's own binaries: a "mini" root
 * filesystem (dash, coreutils, curl and their libraries) that a `FROM scratch`
 * Dockerfile copies into an image. Real buildah builds on it take a second or two,
 * so the orchestrator's failure paths can be tested without a Debian base image.
 */

const MINI_BINARIES = ['/bin/sh', '/bin/cat', '/bin/sleep', '/bin/date', '/usr/bin/head', '/bin/echo', '/usr/bin/curl'];

/** Copies the binaries and the shared libraries they load into `root`. */
export async function writeMiniRootfs(root: string): Promise<void> {
  for (const bin of MINI_BINARIES) {
    const real = await realpath(bin);
    await mkdir(join(root, dirname(bin)), { recursive: true });
    await copyFile(real, join(root, bin));
    const libs = execFileSync('ldd', [real], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    for (const lib of libs) {
      await mkdir(join(root, dirname(lib)), { recursive: true });
      await copyFile(await realpath(lib), join(root, lib));
    }
  }
}

export interface FixtureOptions {
  name: string;
  dockerfile: string;
  files?: Record<string, string>;
  baseImages?: BaseImage[];
  version?: string;
  miniRootfs?: boolean;
  packagesLock?: string;
  buildArgs?: Record<string, string>;
  inputs?: { name: string; sha256: string }[];
}

/** Writes `<dir>/source/` and `<dir>/spec.yaml` (source pinned by its packed sha256). */
export async function writeFixture(dir: string, o: FixtureOptions): Promise<{ specFile: string; sourceDir: string; loaded: LoadedSpec }> {
  const sourceDir = join(dir, 'source');
  await mkdir(sourceDir, { recursive: true });
  await writeFile(join(sourceDir, 'Dockerfile'), o.dockerfile);
  for (const [name, text] of Object.entries(o.files ?? {})) {
    await mkdir(dirname(join(sourceDir, name)), { recursive: true });
    await writeFile(join(sourceDir, name), text);
  }
  if (o.miniRootfs) await writeMiniRootfs(join(sourceDir, 'rootfs'));
  const { sha256 } = await packToFile(sourceDir, join(dir, 'source.tar'));
  const spec = {
    apiVersion: 'bit4bit/v1',
    kind: 'BuildSpec',
    name: o.name,
    sourceDateEpoch: 1700000000,
    source: { sha256 },
    ...(o.inputs && { inputs: o.inputs }),
    builder: {
      type: 'dockerfile',
      version: o.version ?? '1.28.2',
      baseImages: o.baseImages ?? [],
      ...(o.buildArgs && { buildArgs: o.buildArgs }),
      ...(o.packagesLock && { packages: { lock: o.packagesLock } }),
    },
  };
  const text = stringify(spec);
  const specFile = join(dir, 'spec.yaml');
  await writeFile(specFile, text);
  // Invalid specs are fixtures too (the CLI must refuse them): `loaded` is then unset.
  let loaded: LoadedSpec | undefined;
  try {
    loaded = parseSpec(text);
  } catch {
    loaded = undefined;
  }
  return { specFile, sourceDir, loaded: loaded! };
}

export const MINI_DOCKERFILE = 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n';

/**
 * Rebuild options on a fresh home, with the mini base image already built into its
 * image store; returns them and the base's pinned reference (`localhost/mini@sha256:...`).
 */
export async function withMiniBase(tempDir: () => Promise<string>): Promise<{ options: RebuildOptions; base: string }> {
  const cache = new BlobCache(join(await tempDir(), 'cache'));
  const options: RebuildOptions = { cache, imageStore: new ImageStore(cache), allowFetch: false, timeoutMs: 60_000, progress: () => {} };
  const mini = await writeFixture(await tempDir(), { name: 'mini', dockerfile: MINI_DOCKERFILE, miniRootfs: true });
  const r = await rebuild(mini.loaded, { ...options, sourceHint: mini.sourceDir });
  assert.equal(r.outcome, 'reproduced', r.failure?.message);
  return { options, base: `localhost/mini@${r.digest}` };
}
