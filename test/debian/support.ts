import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHermetic } from '../../src/build/hermetic.js';
import type { BuildContext } from '../../src/builders/backend.js';
import { BlobCache } from '../../src/cache/blob-cache.js';
import { prepareDebianRepo } from '../../src/debian/repo.js';
import { loadSpecFile } from '../../src/spec/load.js';
import type { LoadedSpec } from '../../src/spec/types.js';

/**
 * Shared by the Debian and builder tests. One .deb cache for the whole test run (and
 * across runs on one machine): the locked .debs download once. Anything in it was
 * verified by sha256 on the way in, so sharing it cannot hide a bug in a test.
 */
export const sharedDebCache = new BlobCache(join(tmpdir(), 'bit4bit-test-cache'));

export const EXAMPLES = fileURLToPath(new URL('../../../examples', import.meta.url));

export interface Example {
  loaded: LoadedSpec;
  sourceDir: string;
  lockFile: string;
}

export async function loadExample(name: string): Promise<Example> {
  const loaded = await loadSpecFile(join(EXAMPLES, name, 'spec.yaml'));
  const builder = loaded.spec.builder;
  const sourceDir = join(EXAMPLES, name, 'source');
  const lock = 'packages' in builder && builder.packages ? builder.packages.lock : 'debian.lock.json';
  return { loaded, sourceDir, lockFile: join(sourceDir, lock) };
}

const quiet = () => {};

/**
 * What the orchestrator does for one build, in a fresh directory under `root`: a local
 * repository from the example's lock, then a BuildContext whose `run` is runHermetic
 * with the build's options (no network, SOURCE_DATE_EPOCH, private HOME/TMPDIR).
 */
export async function buildContextFor(example: Example, root: string, progress: (m: string) => void = quiet): Promise<BuildContext> {
  const dir = await mkdtemp(join(root, 'build-'));
  const [workDir, outDir, home, tmp] = ['work', 'out', 'home', 'tmp'].map((d) => join(dir, d)) as [string, string, string, string];
  for (const d of [workDir, outDir, home, tmp]) await mkdir(d, { recursive: true });
  const signal = new AbortController().signal;
  const debianRepo = await prepareDebianRepo({ lockFile: example.lockFile, cache: sharedDebCache, workDir: join(dir, 'debian'), allowFetch: true, progress, signal });
  const { loaded } = example;
  return {
    specId: loaded.id,
    spec: loaded.spec,
    sourceDir: example.sourceDir,
    workDir,
    outDir,
    cache: sharedDebCache,
    debianRepo,
    run: async (argv, o = {}) => {
      const { stdout } = await runHermetic(argv, {
        cwd: o.cwd ?? workDir,
        home,
        tmpdir: tmp,
        sourceDateEpoch: loaded.spec.sourceDateEpoch,
        timeoutMs: 10 * 60_000,
        signal,
        ...(o.env && { env: o.env }),
        ...(o.onLine && { onLine: o.onLine }),
      });
      return { stdout };
    },
    progress,
    signal,
  };
}
