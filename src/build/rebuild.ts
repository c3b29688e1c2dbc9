import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { FAILURE_CLASSES, type FailureClass } from '../attestation/statement.js';
import type { BlobCache } from '../cache/blob-cache.js';
import { backendFor } from '../builders/index.js';
import { BuildFailure, type BackendOutput, type BuilderBackend, type BuildContext } from '../builders/backend.js';
import { prepareDebianRepo } from '../debian/repo.js';
import { Bit4bitError, isBit4bitError } from '../errors.js';
import { unpackTar } from '../source/pack.js';
import type { BuilderType, BuildSpec, LoadedSpec } from '../spec/types.js';
import { runHermetic } from './hermetic.js';
import { diffImages } from './image-diff.js';
import type { ImageStore } from './image-store.js';
import { ensureBlob } from './inputs.js';

/**
 * The rebuild orchestrator (issue #3): one spec in, one report out. In order:
 *  1. the installed tool must be the pinned version (else `toolchain-mismatch`, before
 *     anything is fetched: a node with another tool never attests a digest);
 *  2. every input into the content-addressed cache, verified by sha256: source, extra
 *     inputs, base images (local image store, their layout blobs, or their own spec
 *     rebuilt first), the Debian package lock's .debs as a local apt repository;
 *  3. the source unpacked into a fresh work dir, the backend run through the hermetic
 *     runner (no network, scrubbed env, SOURCE_DATE_EPOCH, one deadline for the build);
 *  4. with `twice`, a second build in another fresh environment; different digests are
 *     `unstable`, with the differing paths;
 *  5. temporary directories removed (unless kept), an OCI output registered in the
 *     image store so later specs can build on it.
 * A build that fails is a report (`failed`, with a class), never an exception; only an
 * abort (signal) throws.
 */

export interface RebuildOptions {
  cache: BlobCache;
  imageStore: ImageStore;
  /** A directory or tar holding the source (given by the user or found beside the spec). */
  sourceHint?: string;
  /** Fetch missing inputs over http(s) (source urls, layout urls, Debian mirror). */
  allowFetch: boolean;
  /** Wall-clock limit for the builds themselves (fetching is not counted). */
  timeoutMs: number;
  signal?: AbortSignal;
  progress(msg: string): void;
  /** Keep the work directories (sources, storage, outputs) in this directory. */
  keepDir?: string;
  /** Build twice in fresh environments and compare (`unstable` when they differ). */
  twice?: boolean;
  /** Fetch a blob from peers into `cache` (the node's blob exchange). */
  fetchBlob?: (sha256: string) => Promise<void>;
  /** Finds the spec that builds a base image (by spec id), to build it first. */
  resolveBaseSpec?: (specId: string) => Promise<{ loaded: LoadedSpec; sourceHint?: string } | undefined>;
  /** Where fresh work directories are made (default: the OS temp dir). */
  workRoot?: string;
}

export type RebuildOutcome = 'reproduced' | 'failed' | 'unstable';

export interface RebuildReport {
  spec: string;
  name: string;
  outcome: RebuildOutcome;
  /** The image digest (reproduced; with --twice, both builds gave it). */
  digest?: string;
  /** Both digests of an unstable build. */
  digests?: string[];
  failure?: { class: FailureClass; message: string };
  /** What differed between the two builds (unstable). */
  differences?: string[];
  /** The start of diffoscope's text report on the first differing layer, when installed. */
  diffoscope?: string;
  builder: BuilderType;
  /** The installed tool's version ('' when the tool is missing). */
  toolVersion: string;
  startedOn: Date;
  finishedOn: Date;
  durationMs: number;
  /** The output (e.g. OCI layout directory), when kept with `keepDir`. */
  artifact?: string;
}

const MAX_BASE_DEPTH = 4;

export async function rebuild(loaded: LoadedSpec, options: RebuildOptions): Promise<RebuildReport> {
  return rebuildAt(loaded, options, 0);
}

async function rebuildAt(loaded: LoadedSpec, options: RebuildOptions, depth: number): Promise<RebuildReport> {
  const { spec } = loaded;
  const startedOn = new Date();
  const report = (fields: Partial<RebuildReport> & Pick<RebuildReport, 'outcome'>, toolVersion: string): RebuildReport => {
    const finishedOn = new Date();
    return { spec: loaded.id, name: spec.name, ...fields, builder: spec.builder.type, toolVersion, startedOn, finishedOn, durationMs: finishedOn.getTime() - startedOn.getTime() };
  };
  const progress = options.progress;

  const backend = backendFor(spec.builder.type);
  // [toolchain] checked before anything is fetched: a node with another tool version
  // does not attest a digest (DESIGN §1).
  const installed = (await backend.installedVersion()) ?? '';
  if (installed !== spec.builder.version) {
    const message = installed
      ? `installed ${backend.tool} ${installed} differs from the version the spec pins, ${spec.builder.version}; install ${backend.tool} ${spec.builder.version} to rebuild this spec`
      : `${backend.tool} is not installed; the spec pins ${backend.tool} ${spec.builder.version} (scripts/install-system-packages installs it)`;
    return report({ outcome: 'failed', failure: { class: 'toolchain-mismatch', message } }, installed);
  }

  const workRoot = options.workRoot ?? tmpdir();
  if (!options.keepDir) await mkdir(workRoot, { recursive: true });
  const root = options.keepDir ? resolve(options.keepDir) : await mkdtemp(join(workRoot, 'bit4bit-build-'));
  await mkdir(root, { recursive: true });
  try {
    await fetchInputs(loaded, options, depth);
    const prepared = await prepareShared(loaded, options, root);
    const deadline = Date.now() + options.timeoutMs;
    progress(`building ${spec.name} with ${backend.tool} ${installed}${options.twice ? ' (1 of 2)' : ''}`);
    const first = await buildOnce(loaded, backend, options, prepared, join(root, 'build-1'), deadline);
    if (!options.twice) {
      await register(first, options);
      return report({ outcome: 'reproduced', digest: first.digest, ...(options.keepDir && { artifact: first.artifact }) }, installed);
    }
    progress(`building ${spec.name} again in a fresh environment (2 of 2)`);
    const second = await buildOnce(loaded, backend, options, prepared, join(root, 'build-2'), Date.now() + options.timeoutMs);
    if (first.digest === second.digest) {
      await register(first, options);
      return report({ outcome: 'reproduced', digest: first.digest, ...(options.keepDir && { artifact: first.artifact }) }, installed);
    }
    progress(`the two builds differ: ${first.digest} vs ${second.digest}; comparing`);
    const explained = await explainDifference(first, second, progress);
    return report({ outcome: 'unstable', digests: [first.digest, second.digest], ...explained, ...(options.keepDir && { artifact: first.artifact }) }, installed);
  } catch (e) {
    if (options.signal?.aborted || (isBit4bitError(e) && e.code === 'aborted')) throw e;
    return report({ outcome: 'failed', failure: classify(e) }, installed);
  } finally {
    if (!options.keepDir) await rm(root, { recursive: true, force: true });
  }
}

/** Source, extra inputs and base images into the cache / image store, each verified. */
async function fetchInputs(loaded: LoadedSpec, options: RebuildOptions, depth: number): Promise<void> {
  const { spec } = loaded;
  const common = { cache: options.cache, allowFetch: options.allowFetch, progress: options.progress, ...(options.fetchBlob && { fetchBlob: options.fetchBlob }), ...(options.signal && { signal: options.signal }) };
  await ensureBlob({ sha256: spec.source.sha256, ...(spec.source.urls && { urls: spec.source.urls }), what: 'source' }, { ...common, ...(options.sourceHint && { hint: options.sourceHint }) });
  for (const input of spec.inputs ?? []) {
    await ensureBlob({ sha256: input.sha256, ...(input.urls && { urls: input.urls }), what: `input ${input.name}` }, common);
  }
  if (spec.builder.type !== 'dockerfile') return;
  for (const base of spec.builder.baseImages) {
    const digest = base.image.slice(base.image.lastIndexOf('@') + 1);
    if (await options.imageStore.has(digest)) continue;
    if (base.layout) {
      const what = `layout of base image ${base.image}`;
      await ensureBlob({ sha256: base.layout.sha256, ...(base.layout.urls && { urls: base.layout.urls }), what }, common);
      const scratch = join(options.cache.dir, 'tmp');
      await mkdir(scratch, { recursive: true });
      const held = await options.imageStore.importLayoutBlob(base.layout.sha256, scratch);
      if (!held.includes(digest)) throw new Bit4bitError('input-hash-mismatch', `${what} (sha256 ${base.layout.sha256}) holds ${held.join(', ')}, not the pinned ${digest}`, 'negative');
      continue;
    }
    const found = base.spec && depth < MAX_BASE_DEPTH ? await options.resolveBaseSpec?.(base.spec) : undefined;
    if (found) {
      if (found.loaded.id !== base.spec) throw new Bit4bitError('input-unavailable', `base spec lookup returned ${found.loaded.id}, not ${base.spec}`, 'negative');
      options.progress(`base image ${base.image} is not in the image store: building its spec ${found.loaded.spec.name} (${base.spec}) first`);
      const { keepDir: _keep, twice: _twice, ...rest } = options;
      const sub = await rebuildAt(found.loaded, { ...rest, ...(found.sourceHint ? { sourceHint: found.sourceHint } : { sourceHint: undefined }) }, depth + 1);
      if (sub.outcome !== 'reproduced') {
        throw new Bit4bitError('input-unavailable', `base image ${base.image}: building its spec ${base.spec} failed: ${sub.failure?.message ?? sub.outcome}`, 'negative');
      }
      if (sub.digest !== digest) {
        throw new Bit4bitError('input-hash-mismatch', `base image ${base.image}: its spec ${base.spec} built ${sub.digest}, not the pinned ${digest}`, 'negative');
      }
      continue;
    }
    throw new Bit4bitError(
      'input-unavailable',
      `base image ${base.image} is not in the local image store; pin its layout (baseImages[].layout.sha256) or build its spec first (bit4bit build SPEC)${base.spec ? `; no spec file with id ${base.spec} was found` : ''}`,
      'negative',
    );
  }
}

interface Prepared {
  debianRepo?: { dir: string; suite: string };
}

/** What both builds of a --twice run share, read-only: the local apt repository. */
async function prepareShared(loaded: LoadedSpec, options: RebuildOptions, root: string): Promise<Prepared> {
  const builder = loaded.spec.builder;
  if (!('packages' in builder) || !builder.packages) return {};
  const sourceDir = join(root, 'lock-source');
  await rm(sourceDir, { recursive: true, force: true });
  await unpackTar(await options.cache.open(loaded.spec.source.sha256), sourceDir);
  const lockFile = join(sourceDir, builder.packages.lock);
  if (!(await stat(lockFile).then((s) => s.isFile(), () => false))) {
    throw new Bit4bitError('input-unavailable', `the source has no Debian lock at ${builder.packages.lock} (builder.packages.lock)`, 'negative');
  }
  options.progress(`preparing the local apt repository from ${builder.packages.lock}`);
  const debianRepo = await prepareDebianRepo({
    lockFile,
    cache: options.cache,
    workDir: join(root, 'debian'),
    allowFetch: options.allowFetch,
    progress: options.progress,
    signal: options.signal ?? new AbortController().signal,
  });
  return { debianRepo };
}

/**
 * Puts each extra input (already verified in the cache) at the root of the unpacked
 * source tree under its name, as the tar packer would have stored it (mode 0644, mtime
 * SOURCE_DATE_EPOCH), so a Dockerfile can `COPY model.bin /models/`. An input never
 * replaces a file of the source: that spec is refused as a build error.
 */
async function placeInputs(spec: BuildSpec, sourceDir: string, cache: BlobCache): Promise<void> {
  for (const input of spec.inputs ?? []) {
    const target = join(sourceDir, input.name);
    try {
      await copyFile(cache.path(input.sha256), target, constants.COPYFILE_EXCL);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      throw new BuildFailure('build-error', `input ${input.name} would replace ${input.name} in the source tree; rename the input or the file`);
    }
    await chmod(target, 0o644);
    await utimes(target, spec.sourceDateEpoch, spec.sourceDateEpoch);
  }
}

async function buildOnce(loaded: LoadedSpec, backend: BuilderBackend, options: RebuildOptions, prepared: Prepared, dir: string, deadline: number): Promise<BackendOutput> {
  const { spec } = loaded;
  await rm(dir, { recursive: true, force: true });
  const [sourceDir, workDir, outDir, home, tmp] = ['source', 'work', 'out', 'home', 'tmp'].map((d) => join(dir, d)) as [string, string, string, string, string];
  for (const d of [workDir, outDir, home, tmp]) await mkdir(d, { recursive: true });
  await unpackTar(await options.cache.open(spec.source.sha256), sourceDir);
  await placeInputs(spec, sourceDir, options.cache);
  const signal = options.signal ?? new AbortController().signal;
  const ctx: BuildContext = {
    specId: loaded.id,
    spec,
    sourceDir,
    workDir,
    outDir,
    cache: options.cache,
    ...(prepared.debianRepo && { debianRepo: prepared.debianRepo }),
    run: async (argv, runOptions = {}) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Bit4bitError('timeout', `the build did not finish within ${Math.round(options.timeoutMs / 1000)} s`, 'negative');
      const { stdout } = await runHermetic(argv, {
        cwd: runOptions.cwd ?? workDir,
        home,
        tmpdir: tmp,
        sourceDateEpoch: spec.sourceDateEpoch,
        ...(runOptions.env && { env: runOptions.env }),
        timeoutMs: remaining,
        signal,
        ...(runOptions.onLine && { onLine: runOptions.onLine }),
      });
      return { stdout };
    },
    progress: options.progress,
    signal,
  };
  return backend.build(ctx);
}

async function register(output: BackendOutput, options: RebuildOptions): Promise<void> {
  const isLayout = await stat(join(output.artifact, 'oci-layout')).then(() => true, () => false);
  if (!isLayout) return;
  await options.imageStore.addLayout(output.artifact);
  options.progress(`registered ${output.digest} in the local image store`);
}

async function explainDifference(a: BackendOutput, b: BackendOutput, progress: (m: string) => void): Promise<Pick<RebuildReport, 'differences' | 'diffoscope'>> {
  const isLayout = await stat(join(a.artifact, 'oci-layout')).then(() => true, () => false);
  let differences: string[] = [`output differs: ${a.digest} vs ${b.digest}`];
  let pair: [string, string] | undefined = [a.artifact, b.artifact];
  if (isLayout) {
    const d = await diffImages(a.artifact, a.digest, b.artifact, b.digest);
    differences = d.lines.length ? d.lines : differences;
    pair = d.firstLayers;
  }
  const diffoscope = pair ? await runDiffoscope(pair, progress) : undefined;
  return { differences, ...(diffoscope && { diffoscope }) };
}

const DIFFOSCOPE_LINES = 80;

/** diffoscope's text report (first lines), or undefined when it is not installed. */
async function runDiffoscope([a, b]: [string, string], progress: (m: string) => void): Promise<string | undefined> {
  progress('running diffoscope on the first differing layer');
  try {
    const { stdout } = await promisify(execFile)('diffoscope', ['--text', '-', '--no-progress', a, b], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout.split('\n').slice(0, DIFFOSCOPE_LINES).join('\n') || undefined;
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string };
    // Exit 1 means "differences found": the report is on stdout.
    if (err.code === 1 && err.stdout) return err.stdout.split('\n').slice(0, DIFFOSCOPE_LINES).join('\n');
    if (err.code !== 'ENOENT') progress(`diffoscope failed: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

function classify(e: unknown): { class: FailureClass; message: string } {
  if (e instanceof BuildFailure) return { class: e.failureClass, message: e.message };
  if (isBit4bitError(e) && (FAILURE_CLASSES as readonly string[]).includes(e.code)) return { class: e.code as FailureClass, message: e.message };
  return { class: 'build-error', message: (e as Error)?.message ?? String(e) };
}
