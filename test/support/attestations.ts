import { createAttestation, type Attestation, type RebuildResult } from '../../src/attestation/attestation.js';
import type { FailureClass } from '../../src/attestation/statement.js';
import type { Signer } from '../../src/keys/keys.js';
import type { BuildSpec } from '../../src/spec/types.js';
import { digestOf } from './specs.js';

export const STARTED = new Date('2026-01-01T00:00:00Z');
export const FINISHED = new Date('2026-01-01T00:10:00Z');

export const reproduced = (digest: string): RebuildResult => ({ outcome: 'reproduced', digest });
export const failed = (message = 'apt-get exited 100', cls: FailureClass = 'build-error'): RebuildResult => ({
  outcome: 'failed',
  failure: { class: cls, message },
});
export const unstable = (): RebuildResult => ({ outcome: 'unstable', digests: [digestOf('first build'), digestOf('second build')] });

const defaultSpec: Pick<BuildSpec, 'name' | 'builder'> = { name: 'example/hello', builder: { type: 'dockerfile', version: '1.28.2', baseImages: [] } };

/** A signed attestation with fixed times, so the same inputs give the same envelope. */
export function attest(signer: Signer, specId: string, result: RebuildResult, spec = defaultSpec, finishedOn = FINISHED): Attestation {
  return createAttestation({ specId, spec, result, startedOn: STARTED, finishedOn }, signer);
}
