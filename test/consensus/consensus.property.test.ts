import assert from 'node:assert/strict';
import fc from 'fast-check';
import { evaluateConsensus, type ConsensusResult, type ConsensusState, type Vote } from '../../src/consensus/consensus.js';
import { lintPolicy, type PolicyDocument, type TrustPolicy } from '../../src/policy/policy.js';
import { signerName } from '../support/policies.js';
import { makeSigners, publicKeyHex } from '../support/signers.js';
import { digestOf } from '../support/specs.js';

/**
 * Properties of consensus over random vote sets: a pool of six signers, a random
 * subset of them trusted by a random policy (random threshold, maybe one group), one
 * to three candidate digests and random outcomes. The oracle at the bottom recomputes
 * the quorum from the policy *document*, independently of the code under test.
 */

const SPEC = digestOf('spec');
const POOL = makeSigners(6);
const DIGESTS = [digestOf('d0'), digestOf('d1'), digestOf('d2')];
const RUNS = { seed: 0x0b17b17, numRuns: 400 };

interface Scenario {
  doc: PolicyDocument;
  policy: TrustPolicy;
  votes: Vote[];
}

const voteKind = (digests: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: digests - 1 }).map((d) => ({ outcome: 'reproduced' as const, digest: DIGESTS[d]! })) },
    { weight: 2, arbitrary: fc.constant({ outcome: 'failed' as const, digest: null }) },
    { weight: 1, arbitrary: fc.constant({ outcome: 'unstable' as const, digest: null }) },
  );

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    trusted: fc.subarray([0, 1, 2, 3, 4, 5], { minLength: 1 }),
    digests: fc.integer({ min: 1, max: 3 }),
    groupSize: fc.integer({ min: 0, max: 4 }),
    groupThreshold: fc.integer({ min: 1, max: 4 }),
    thresholdSeed: fc.nat(),
  })
  .chain(({ trusted, digests, groupSize, groupThreshold, thresholdSeed }) => {
    const names = trusted.map(signerName);
    // A group of the first few trusted signers (if there are at least two of them).
    const grouped = groupSize >= 2 && names.length >= groupSize ? names.slice(0, groupSize) : [];
    const groups = grouped.length ? [{ name: 'operator', threshold: Math.min(groupThreshold, grouped.length), members: grouped }] : undefined;
    const topLevel = names.length - grouped.length + (grouped.length ? 1 : 0);
    const doc: PolicyDocument = {
      signers: trusted.map((i) => ({ name: signerName(i), publicKey: publicKeyHex(POOL[i]!) })),
      ...(groups && { groups }),
      threshold: 1 + (thresholdSeed % topLevel),
    };
    const { policy } = lintPolicy(doc);
    assert.ok(policy, 'the generator makes only usable policies');
    const vote = fc.record({ signer: fc.integer({ min: 0, max: 5 }), kind: voteKind(digests) });
    return fc.array(vote, { maxLength: 14 }).map((raw) => ({
      doc,
      policy,
      votes: raw.map((v, n) => ({ id: digestOf(`envelope ${n}`), signer: POOL[v.signer]!.keyid, ...v.kind })),
    }));
  });

// ---- the oracle: an independent reading of DESIGN §4 -------------------------------

/** Does this set of keyids satisfy the policy document? Groups count once. */
function quorumByHand(doc: PolicyDocument, yes: ReadonlySet<string>): boolean {
  const keyOf = new Map(doc.signers.map((s) => [s.name, POOL.find((p) => publicKeyHex(p) === s.publicKey)!.keyid]));
  const groups = new Map((doc.groups ?? []).map((g) => [g.name, g]));
  const inGroup = new Set((doc.groups ?? []).flatMap((g) => g.members));
  const counts = (name: string): boolean => {
    const g = groups.get(name);
    if (!g) return yes.has(keyOf.get(name)!);
    return g.members.filter(counts).length >= g.threshold;
  };
  const top = [...doc.signers.map((s) => s.name), ...groups.keys()].filter((n) => !inGroup.has(n));
  return top.filter(counts).length >= doc.threshold;
}

interface Model {
  state: ConsensusState;
  digest: string | null;
  /** Trusted, non-equivocating signers by the one digest they reproduced. */
  voters: Map<string, Set<string>>;
  equivocators: Set<string>;
  trusted: Set<string>;
}

function model(doc: PolicyDocument, votes: readonly Vote[]): Model {
  const trusted = new Set(doc.signers.map((s) => POOL.find((p) => publicKeyHex(p) === s.publicKey)!.keyid));
  const reproducedBy = new Map<string, Set<string>>();
  const spoke = new Set<string>();
  for (const v of votes) {
    spoke.add(v.signer);
    if (v.outcome === 'reproduced') reproducedBy.set(v.signer, (reproducedBy.get(v.signer) ?? new Set()).add(v.digest!));
  }
  const equivocators = new Set([...reproducedBy].filter(([, ds]) => ds.size > 1).map(([s]) => s));
  const voters = new Map<string, Set<string>>();
  for (const [signer, ds] of reproducedBy) {
    if (!trusted.has(signer) || equivocators.has(signer)) continue;
    const [d] = ds;
    voters.set(d!, (voters.get(d!) ?? new Set()).add(signer));
  }
  const quorate = [...voters].filter(([, s]) => quorumByHand(doc, s)).map(([d]) => d);
  const silent = [...trusted].filter((s) => !spoke.has(s));
  const couldStill = [...voters.values(), new Set<string>()].some((s) => quorumByHand(doc, new Set([...s, ...silent])));
  const state: ConsensusState = quorate.length > 1 ? 'conflict' : quorate.length === 1 ? 'agreed' : couldStill ? 'pending' : 'disputed';
  return { state, digest: state === 'agreed' ? quorate[0]! : null, voters, equivocators, trusted };
}

/** The parts of a result that say what the trusted signers decided. */
function decision(c: ConsensusResult) {
  const { spec, state, digest, agreeing, dissenting, failed, unstable, missing, equivocating, votes } = c;
  return { spec, state, digest, agreeing, dissenting, failed, unstable, missing, equivocating, votes };
}

describe('consensus properties (fast-check, random policies and vote sets)', () => {
  it('the generator reaches every state, groups and equivocators, so no property holds vacuously', () => {
    const samples = fc.sample(scenario, RUNS);
    const states = new Set(samples.map(({ policy, votes }) => evaluateConsensus(SPEC, policy, votes).state));
    assert.deepEqual([...states].sort(), ['agreed', 'conflict', 'disputed', 'pending']);
    assert.ok(samples.some(({ doc }) => doc.groups), 'some policies have a group');
    assert.ok(samples.some(({ policy, votes }) => evaluateConsensus(SPEC, policy, votes).equivocating.length > 0));
    assert.ok(samples.some(({ policy, votes }) => evaluateConsensus(SPEC, policy, votes).untrusted.length > 0));
  });

  it('matches an independent model of the rules: state, digest, and the agreeing signers', () => {
    fc.assert(
      fc.property(scenario, ({ doc, policy, votes }) => {
        const c = evaluateConsensus(SPEC, policy, votes);
        const m = model(doc, votes);
        assert.equal(c.state, m.state);
        assert.equal(c.digest, m.digest);
        if (m.digest) assert.deepEqual(c.agreeing, [...m.voters.get(m.digest)!].sort());
      }),
      RUNS,
    );
  });

  it('is never agreed without a quorum of distinct trusted, non-equivocating signers on that digest', () => {
    fc.assert(
      fc.property(scenario, ({ doc, policy, votes }) => {
        const c = evaluateConsensus(SPEC, policy, votes);
        if (c.state !== 'agreed') return;
        const m = model(doc, votes);
        const agreeing = new Set(c.agreeing);
        assert.equal(agreeing.size, c.agreeing.length, 'each signer counted once');
        for (const s of agreeing) {
          assert.ok(m.trusted.has(s), 'only trusted signers agree');
          assert.ok(!m.equivocators.has(s), 'no equivocator agrees');
          assert.ok(votes.some((v) => v.signer === s && v.digest === c.digest), 'each agreeing signer voted that digest');
        }
        assert.ok(quorumByHand(doc, agreeing), 'the agreeing signers satisfy the policy tree');
      }),
      RUNS,
    );
  });

  it('does not depend on the order in which votes arrive', () => {
    const shuffled = scenario.chain((s) =>
      fc.shuffledSubarray(s.votes, { minLength: s.votes.length, maxLength: s.votes.length }).map((order) => ({ ...s, order })),
    );
    fc.assert(
      fc.property(shuffled, ({ policy, votes, order }) => {
        assert.deepEqual(evaluateConsensus(SPEC, policy, order), evaluateConsensus(SPEC, policy, votes));
      }),
      RUNS,
    );
  });

  it('is unchanged when every envelope arrives twice', () => {
    fc.assert(
      fc.property(scenario, ({ policy, votes }) => {
        assert.deepEqual(evaluateConsensus(SPEC, policy, [...votes, ...votes]), evaluateConsensus(SPEC, policy, votes));
      }),
      RUNS,
    );
  });

  it('never counts untrusted signers: removing all their votes changes no decision', () => {
    fc.assert(
      fc.property(scenario, ({ policy, votes }) => {
        const trustedOnly = votes.filter((v) => policy.signers.has(v.signer));
        const c = evaluateConsensus(SPEC, policy, votes);
        assert.deepEqual(decision(evaluateConsensus(SPEC, policy, trustedOnly)), decision(c));
        for (const s of c.untrusted) assert.ok(!policy.signers.has(s));
      }),
      RUNS,
    );
  });

  it("never counts an equivocator: its votes are in no digest's voter list, and it is kept as evidence", () => {
    fc.assert(
      fc.property(scenario, ({ policy, votes }) => {
        const c = evaluateConsensus(SPEC, policy, votes);
        const counted = new Set([...c.votes.flatMap((v) => v.signers), ...c.agreeing, ...c.dissenting, ...c.failed, ...c.unstable, ...c.missing]);
        for (const [signer, evidence] of Object.entries(c.equivocations)) {
          assert.ok(!counted.has(signer), `equivocator ${signer} is counted`);
          const expected = [...new Set(votes.filter((v) => v.signer === signer && v.outcome === 'reproduced').map((v) => v.id))].sort();
          assert.deepEqual(evidence, expected, 'every reproduced envelope of the equivocator is evidence');
          assert.ok(new Set(votes.filter((v) => v.signer === signer).map((v) => v.digest).filter(Boolean)).size > 1);
        }
        for (const s of c.equivocating) assert.ok(s in c.equivocations);
      }),
      RUNS,
    );
  });

  it('never counts a failed vote as a dissent', () => {
    fc.assert(
      fc.property(scenario, ({ policy, votes }) => {
        const c = evaluateConsensus(SPEC, policy, votes);
        for (const s of c.dissenting) {
          assert.ok(votes.some((v) => v.signer === s && v.outcome === 'reproduced' && v.digest !== c.digest), `dissenter ${s} reproduced another digest`);
        }
        for (const s of c.failed) assert.ok(!c.dissenting.includes(s) && !c.agreeing.includes(s));
        const onlyFailed = new Set(policy.signers.keys());
        for (const v of votes) if (v.outcome !== 'failed') onlyFailed.delete(v.signer);
        for (const s of onlyFailed) if (votes.some((v) => v.signer === s)) assert.ok(c.failed.includes(s));
      }),
      RUNS,
    );
  });

  it('puts every trusted signer in exactly one place', () => {
    fc.assert(
      fc.property(scenario, ({ policy, votes }) => {
        const c = evaluateConsensus(SPEC, policy, votes);
        const places = [...c.votes.flatMap((v) => v.signers), ...c.failed, ...c.unstable, ...c.missing, ...c.equivocating];
        assert.deepEqual([...places].sort(), [...policy.signers.keys()].sort());
      }),
      RUNS,
    );
  });

  it('reaches conflict only under a policy that lint warns is weak', () => {
    fc.assert(
      fc.property(scenario, ({ doc, policy, votes }) => {
        if (evaluateConsensus(SPEC, policy, votes).state !== 'conflict') return;
        assert.ok(lintPolicy(doc).problems.some((p) => p.severity === 'warning'));
      }),
      RUNS,
    );
  });
});
