import type { Outcome } from '../attestation/statement.js';
import type { PolicyNode, TrustPolicy } from '../policy/policy.js';

/**
 * Consensus over the attestations for one spec (DESIGN §4). Pure: the result is a
 * function of the *set* of attestations and the policy, never of arrival order.
 */

/** The part of an attestation consensus looks at. */
export interface Vote {
  /** Envelope id. */
  id: string;
  signer: string;
  outcome: Outcome;
  digest: string | null;
}

export type ConsensusState = 'pending' | 'agreed' | 'disputed' | 'conflict';

export interface ConsensusResult {
  spec: string;
  state: ConsensusState;
  /** The canonical digest when `agreed`, else null. */
  digest: string | null;
  /** Trusted signers voting the canonical digest (empty unless agreed). */
  agreeing: string[];
  /** Trusted signers that reproduced a different digest than the canonical one. */
  dissenting: string[];
  /** Trusted signers whose vote is "could not build". */
  failed: string[];
  /** Trusted signers whose own two builds differed. */
  unstable: string[];
  /** Trusted signers with no attestation for this spec. */
  missing: string[];
  /** Trusted signers that signed two different digests; none of their votes count. */
  equivocating: string[];
  /** Every digest reproduced by trusted, non-equivocating signers, most votes first. */
  votes: { digest: string; signers: string[] }[];
  /** Signers outside the policy that attested this spec (not counted). */
  untrusted: string[];
  /** Evidence: for each equivocating signer (trusted or not), its reproduced envelopes' ids. */
  equivocations: Record<string, string[]>;
  /** Names of the trusted signers, by keyid. */
  names: Record<string, string>;
}

/** What one signer says about a spec once all its envelopes are taken together. */
export type SignerVote =
  | { kind: 'reproduced'; digest: string }
  | { kind: 'failed' }
  | { kind: 'unstable' }
  | { kind: 'equivocating'; evidence: string[] };

/**
 * One vote per signer. Two different reproduced digests = equivocation (all of them
 * kept as evidence, none counted). Otherwise a reproduced digest supersedes failures
 * and unstable reports (a retry that succeeded), and unstable supersedes failed.
 * Repeats of the same claim count once.
 */
export function signerVotes(votes: readonly Vote[]): Map<string, SignerVote> {
  const bySigner = new Map<string, Vote[]>();
  for (const v of votes) {
    const list = bySigner.get(v.signer);
    if (list) list.push(v);
    else bySigner.set(v.signer, [v]);
  }
  const result = new Map<string, SignerVote>();
  for (const [signer, list] of bySigner) {
    const reproduced = list.filter((v) => v.outcome === 'reproduced');
    const digests = new Set(reproduced.map((v) => v.digest!));
    if (digests.size > 1) result.set(signer, { kind: 'equivocating', evidence: [...new Set(reproduced.map((v) => v.id))].sort() });
    else if (digests.size === 1) result.set(signer, { kind: 'reproduced', digest: [...digests][0]! });
    else if (list.some((v) => v.outcome === 'unstable')) result.set(signer, { kind: 'unstable' });
    else result.set(signer, { kind: 'failed' });
  }
  return result;
}

/** Whether the signers in `yes` satisfy a policy node (a group counts once). */
export function satisfies(node: PolicyNode, yes: ReadonlySet<string>): boolean {
  if (node.kind === 'signer') return yes.has(node.keyid);
  let count = 0;
  for (const m of node.members) {
    if (satisfies(m, yes) && ++count >= node.threshold) return true;
  }
  return false;
}

export function evaluateConsensus(spec: string, policy: TrustPolicy, votes: readonly Vote[]): ConsensusResult {
  const perSigner = signerVotes(votes);
  const byDigest = new Map<string, string[]>();
  const failed: string[] = [];
  const unstable: string[] = [];
  const equivocating: string[] = [];
  const missing: string[] = [];
  const untrusted: string[] = [];
  const equivocations: Record<string, string[]> = {};

  for (const [signer, vote] of perSigner) {
    if (vote.kind === 'equivocating') equivocations[signer] = vote.evidence;
    if (!policy.signers.has(signer)) {
      untrusted.push(signer);
      continue;
    }
    switch (vote.kind) {
      case 'reproduced': {
        const list = byDigest.get(vote.digest);
        if (list) list.push(signer);
        else byDigest.set(vote.digest, [signer]);
        break;
      }
      case 'failed':
        failed.push(signer);
        break;
      case 'unstable':
        unstable.push(signer);
        break;
      case 'equivocating':
        equivocating.push(signer);
        break;
    }
  }
  for (const signer of policy.signers.keys()) if (!perSigner.has(signer)) missing.push(signer);

  const quorate = [...byDigest].filter(([, signers]) => satisfies(policy.root, new Set(signers))).map(([d]) => d);
  let state: ConsensusState;
  let digest: string | null = null;
  if (quorate.length > 1) state = 'conflict';
  else if (quorate.length === 1) {
    state = 'agreed';
    digest = quorate[0]!;
  } else {
    // Could some digest, known or new, still reach quorum if every missing signer voted for it?
    const stillPossible = [...byDigest.values(), []].some((signers) => satisfies(policy.root, new Set([...signers, ...missing])));
    state = stillPossible ? 'pending' : 'disputed';
  }

  const sorted = (xs: string[]) => [...xs].sort();
  const voteList = [...byDigest]
    .map(([d, signers]) => ({ digest: d, signers: sorted(signers) }))
    .sort((a, b) => b.signers.length - a.signers.length || (a.digest < b.digest ? -1 : 1));
  return {
    spec,
    state,
    digest,
    agreeing: digest ? sorted(byDigest.get(digest)!) : [],
    dissenting: digest ? sorted([...byDigest].filter(([d]) => d !== digest).flatMap(([, s]) => s)) : [],
    failed: sorted(failed),
    unstable: sorted(unstable),
    missing: sorted(missing),
    equivocating: sorted(equivocating),
    votes: voteList,
    untrusted: sorted(untrusted),
    equivocations: Object.fromEntries(Object.entries(equivocations).sort(([a], [b]) => (a < b ? -1 : 1))),
    names: Object.fromEntries([...policy.signers].map(([keyid, s]) => [keyid, s.name]).sort()),
  };
}
