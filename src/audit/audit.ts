import { evaluateConsensus, type ConsensusResult } from '../consensus/consensus.js';
import type { TrustPolicy } from '../policy/policy.js';
import type { AttestationStore, SignerRecord } from '../store/store.js';

/** What a signer has done, as `bit4bit audit` and `GET /v1/signers` report it. */
export interface SignerAudit {
  signer: string;
  /** The signer's name in the policy, or null for a signer outside it. */
  name: string | null;
  trusted: boolean;
  /** Envelopes stored from this signer. */
  attestations: number;
  /** Specs it attested. */
  specs: number;
  /** Specs that reached `agreed` where it voted the canonical digest. */
  agreed: number;
  /** Specs that reached `agreed` where it reproduced a different digest. */
  dissented: number;
  /** Specs where its vote is "could not build". */
  failed: number;
  /** Specs where its own two builds differed. */
  unstable: number;
  /** Specs where it signed two different digests, with the evidence envelopes. */
  equivocations: { spec: string; envelopes: string[] }[];
  /** When an attestation from it was last received (ISO 8601), or null. */
  lastSeen: string | null;
}

/** Summarises one signer's records against the consensus of each spec it attested. Pure. */
export function summariseSigner(signer: string, records: readonly SignerRecord[], consensus: ReadonlyMap<string, ConsensusResult>, policy: TrustPolicy): SignerAudit {
  const specs = [...new Set(records.map((r) => r.spec))].sort();
  const count = (pick: (c: ConsensusResult) => string[]) => specs.filter((s) => pick(consensus.get(s)!).includes(signer)).length;
  const lastSeen = records.reduce((max, r) => Math.max(max, r.receivedAt), -Infinity);
  return {
    signer,
    name: policy.signers.get(signer)?.name ?? null,
    trusted: policy.signers.has(signer),
    attestations: records.length,
    specs: specs.length,
    agreed: count((c) => c.agreeing),
    dissented: count((c) => c.dissenting),
    failed: count((c) => c.failed),
    unstable: count((c) => c.unstable),
    equivocations: specs
      .filter((s) => consensus.get(s)!.equivocations[signer])
      .map((s) => ({ spec: s, envelopes: consensus.get(s)!.equivocations[signer]! })),
    lastSeen: records.length ? new Date(lastSeen).toISOString() : null,
  };
}

/**
 * Audits every signer seen in the store (and every trusted signer, even if silent),
 * or just one. Consensus is computed once per spec involved.
 */
export async function auditSigners(store: AttestationStore, policy: TrustPolicy, signer?: string): Promise<SignerAudit[]> {
  const records = await store.signerRecords(signer);
  if (signer === undefined) for (const keyid of policy.signers.keys()) if (!records.has(keyid)) records.set(keyid, []);
  if (signer !== undefined && !records.has(signer)) records.set(signer, []);
  const consensus = new Map<string, ConsensusResult>();
  for (const spec of new Set([...records.values()].flat().map((r) => r.spec))) {
    consensus.set(spec, evaluateConsensus(spec, policy, await store.votes(spec)));
  }
  return [...records]
    .map(([keyid, list]) => summariseSigner(keyid, list, consensus, policy))
    .sort((a, b) => Number(b.trusted) - Number(a.trusted) || (a.signer < b.signer ? -1 : 1));
}
