import type { RebuildResult } from '../attestation/attestation.js';
import type { Rebuilder, RebuildOutput } from '../node/rebuilder.js';
import { ImageStore } from './image-store.js';
import { rebuild, type RebuildReport } from './rebuild.js';

/**
 * The node's Rebuilder (src/node/rebuilder.ts) on top of the orchestrator: inputs come
 * from the node's cache and blob exchange (`fetchBlob`), then the spec's urls when
 * `allowFetch`; the report becomes the RebuildResult the node signs.
 */
export interface HermeticRebuilderSettings {
  allowFetch: boolean;
  timeoutMs: number;
  /** Build twice and attest `unstable` when the builds differ. */
  twice?: boolean;
  /** Where work directories are made (default: the OS temp dir). */
  workRoot?: string;
}

export function hermeticRebuilder(settings: HermeticRebuilderSettings): Rebuilder {
  return {
    async rebuild(loaded, ctx): Promise<RebuildOutput> {
      const report = await rebuild(loaded, {
        cache: ctx.cache,
        imageStore: new ImageStore(ctx.cache),
        allowFetch: settings.allowFetch,
        timeoutMs: settings.timeoutMs,
        signal: ctx.signal,
        progress: ctx.progress,
        fetchBlob: ctx.fetchBlob,
        // A base image made by another spec the node knows is built first (its source
        // comes from the cache or peers like any input).
        ...(ctx.lookupSpec && {
          resolveBaseSpec: async (specId: string) => {
            const found = await ctx.lookupSpec!(specId);
            return found && { loaded: found };
          },
        }),
        twice: settings.twice ?? false,
        ...(settings.workRoot && { workRoot: settings.workRoot }),
      });
      return {
        result: rebuildResult(report),
        // The predicate names the tool that ran; when none is installed, the pinned one
        // that was missing (the failure message says so).
        toolVersion: report.toolVersion || loaded.spec.builder.version,
        startedOn: report.startedOn,
        finishedOn: report.finishedOn,
      };
    },
  };
}

/** A report as the signed result (DESIGN §3): reproduced, failed or unstable. */
export function rebuildResult(report: RebuildReport): RebuildResult {
  switch (report.outcome) {
    case 'reproduced':
      return { outcome: 'reproduced', digest: report.digest! };
    case 'unstable':
      return { outcome: 'unstable', digests: report.digests!, ...(report.differences && { differences: report.differences }) };
    case 'failed':
      return { outcome: 'failed', failure: report.failure! };
  }
}
