import type { RebuildResult } from '../attestation/attestation.js';
import type { BlobCache } from '../cache/blob-cache.js';
import type { LoadedSpec } from '../spec/types.js';

/**
 * What the node needs from a rebuild backend (issue #3 provides the real one in
 * src/build/). The node owns scheduling, signing, storing and publishing; the
 * Rebuilder only turns a spec into a RebuildResult.
 *
 * Contract:
 * - Inputs (source, base image layouts, pinned inputs) are read from `ctx.cache` by
 *   sha256. One that is missing is fetched with `ctx.fetchBlob(sha256)`, which tries
 *   peers (kad-dht providers, blob exchange) and resolves once the verified blob is in
 *   the cache; it rejects with Bit4bitError code `input-unavailable` when nobody has it.
 *   The Rebuilder may also try the spec's `urls` itself, verifying into the same cache.
 * - A build that ran and failed, or whose two builds differed, is a *result*
 *   (`outcome: 'failed' | 'unstable'`), not an exception: it is signed and published.
 *   The installed tool differing from the pinned version is
 *   `{ outcome: 'failed', failure: { class: 'toolchain-mismatch', ... } }`.
 * - A thrown Bit4bitError whose code is a FailureClass (e.g. `input-unavailable`) is
 *   attested as a failure of that class; any other exception as `build-error`.
 * - When `ctx.signal` aborts (node shutting down), stop and throw: nothing is attested
 *   and the spec is rebuilt after the restart.
 * - `ctx.progress(msg)` logs one line of progress (keep it short; no secrets).
 */
export interface Rebuilder {
  rebuild(spec: LoadedSpec, ctx: RebuildContext): Promise<RebuildOutput>;
}

export interface RebuildContext {
  cache: BlobCache;
  fetchBlob(sha256: string): Promise<void>;
  /** A spec document the node holds (announced or submitted earlier), e.g. a base image's spec. */
  lookupSpec?(specId: string): Promise<LoadedSpec | undefined>;
  signal: AbortSignal;
  progress(msg: string): void;
}

export interface RebuildOutput {
  result: RebuildResult;
  /** The installed tool version that was used (goes into the predicate's builder.version). */
  toolVersion: string;
  startedOn: Date;
  finishedOn: Date;
}
