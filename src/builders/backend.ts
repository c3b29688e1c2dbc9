import type { FailureClass } from '../attestation/statement.js';
import type { BlobCache } from '../cache/blob-cache.js';
import type { BuilderType, BuildSpec } from '../spec/types.js';
import type { HermeticOptions } from '../build/hermetic.js';

/**
 * The one interface every builder backend implements (STYLE: adding a backend touches
 * nothing else). The orchestrator (src/build/rebuild.ts) fetches and verifies every
 * input, prepares a fresh work directory, checks the tool version against the spec's
 * pin, and calls `build`; the backend runs its tool through `ctx.run` (hermetic: no
 * network, scrubbed env, timeout) and returns the digest (DESIGN §2).
 */
export interface BuilderBackend {
  readonly type: BuilderType;
  /** The tool whose version the spec pins (e.g. buildah, mkosi, mmdebstrap). */
  readonly tool: string;
  /** The installed tool's version, or null when it is not installed. */
  installedVersion(): Promise<string | null>;
  build(ctx: BuildContext): Promise<BackendOutput>;
}

export interface BuildContext {
  specId: string;
  spec: BuildSpec;
  /** The verified source tree, unpacked (the backend must not modify it). */
  sourceDir: string;
  /** Fresh, empty, private to this build; removed afterwards. */
  workDir: string;
  /** Where the backend leaves its output (an OCI layout, an image file, a tree). */
  outDir: string;
  /** The verified blobs of this build (source, base image layouts, extra inputs, debs). */
  cache: BlobCache;
  /** A local apt repository built from exactly the spec's locked .debs, if it has a lock. */
  debianRepo?: { dir: string; suite: string };
  /** Runs a command hermetically with this build's environment (SOURCE_DATE_EPOCH etc.). */
  run(argv: readonly string[], options?: Partial<Pick<HermeticOptions, 'cwd' | 'env' | 'onLine'>>): Promise<{ stdout: string }>;
  progress(message: string): void;
  signal: AbortSignal;
}

export interface BackendOutput {
  /** `sha256:<hex>`: what consensus compares (DESIGN §2). */
  digest: string;
  /** The produced artifact (OCI layout dir, image file, or output tree), inside outDir. */
  artifact: string;
}

/** A failure a backend or the orchestrator can name precisely; becomes a `failed` attestation. */
export class BuildFailure extends Error {
  override readonly name = 'BuildFailure';
  constructor(
    readonly failureClass: FailureClass,
    message: string,
  ) {
    super(message);
  }
}
