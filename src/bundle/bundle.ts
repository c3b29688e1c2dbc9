import { verifyAttestation } from '../attestation/attestation.js';
import type { EnvelopeJson } from '../attestation/dsse.js';
import { evaluateConsensus, type ConsensusResult } from '../consensus/consensus.js';
import { Bit4bitError, invalidInput } from '../errors.js';
import type { TrustPolicy } from '../policy/policy.js';
import { validateSpec } from '../spec/validate.js';
import type { BuildSpec } from '../spec/types.js';

/**
 * A quorum proof (DESIGN §4): the spec and the envelopes that agree on its digest.
 * Anyone can check it offline against their own policy with `verifyBundle`.
 */
export interface QuorumBundle {
  apiVersion: 'bit4bit/v1';
  kind: 'QuorumBundle';
  specId: string;
  digest: string;
  spec: BuildSpec;
  envelopes: EnvelopeJson[];
}

export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

export function isBundleDocument(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'QuorumBundle';
}

export function createBundle(specId: string, spec: BuildSpec, consensus: ConsensusResult, envelopes: { id: string; envelope: EnvelopeJson }[]): QuorumBundle {
  if (consensus.state !== 'agreed' || !consensus.digest) {
    throw new Bit4bitError('no-quorum', `spec ${specId} has no agreed digest (state: ${consensus.state}); there is no quorum to prove yet`, 'negative');
  }
  const agreeing = new Set(consensus.agreeing);
  const votesFor = new Map<string, { id: string; envelope: EnvelopeJson }>();
  for (const e of envelopes) {
    const a = verifyAttestation(e.envelope);
    // One envelope per agreeing signer: the earliest by id, so the bundle is deterministic.
    if (agreeing.has(a.signer) && a.digest === consensus.digest && (!votesFor.has(a.signer) || e.id < votesFor.get(a.signer)!.id)) {
      votesFor.set(a.signer, e);
    }
  }
  return {
    apiVersion: 'bit4bit/v1',
    kind: 'QuorumBundle',
    specId,
    digest: consensus.digest,
    spec,
    envelopes: [...votesFor.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => e.envelope),
  };
}

/**
 * Checks a bundle against a policy with no other input: the spec hashes to the
 * claimed id, every envelope verifies and is about that spec, and the envelopes
 * reach `agreed` on the claimed digest under the policy.
 */
export function verifyBundle(value: unknown, policy: TrustPolicy): ConsensusResult {
  if (!isBundleDocument(value)) throw invalidInput('malformed', 'not a quorum bundle (kind must be "QuorumBundle")');
  const b = value as Partial<QuorumBundle>;
  if (b.apiVersion !== 'bit4bit/v1') throw invalidInput('malformed', `bundle.apiVersion must be "bit4bit/v1"`);
  if (!Array.isArray(b.envelopes)) throw invalidInput('malformed', 'bundle.envelopes must be an array of DSSE envelopes');
  const { id } = validateSpec(b.spec, 'bundle.spec');
  if (b.specId !== id) {
    throw new Bit4bitError('spec-mismatch', `bundle.specId ${String(b.specId)} is not the id of bundle.spec (${id})`, 'negative');
  }
  const votes = b.envelopes.map((env, i) => {
    let a;
    try {
      a = verifyAttestation(env);
    } catch (e) {
      throw new Bit4bitError('bad-envelope', `bundle.envelopes[${i}]: ${(e as Error).message}`, 'negative');
    }
    if (a.spec !== id) throw new Bit4bitError('spec-mismatch', `bundle.envelopes[${i}] attests spec ${a.spec}, not ${id}`, 'negative');
    return a;
  });
  const consensus = evaluateConsensus(id, policy, votes);
  if (consensus.state !== 'agreed' || consensus.digest !== b.digest) {
    throw new Bit4bitError(
      'no-quorum',
      `bundle does not prove a quorum for ${String(b.digest)} under this policy: state ${consensus.state}` +
        `${consensus.digest ? ` on ${consensus.digest}` : ''}, ${consensus.votes.map((v) => `${v.signers.length} trusted vote(s) for ${v.digest}`).join(', ') || 'no trusted votes'}`,
      'negative',
    );
  }
  return consensus;
}
