import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import { evaluateConsensus, signerVotes, type Vote } from '../../src/consensus/consensus.js';
import { attest, failed, reproduced, unstable } from '../support/attestations.js';
import { policyDocument, trustPolicy } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf } from '../support/specs.js';

const SPEC = digestOf('spec');
const A = digestOf('image A');
const B = digestOf('image B');
const C = digestOf('image C');
const [s0, s1, s2, s3, outsider] = makeSigners(5) as [Signer, Signer, Signer, Signer, Signer];
const ids = (...xs: { keyid: string }[]) => xs.map((x) => x.keyid).sort();

/** 3 trusted signers, 2 must agree: the smallest majority policy. */
const twoOfThree = trustPolicy(policyDocument([s0, s1, s2], 2));

describe('consensus: one vote per trusted signer, states by quorum', () => {
  describe('pending', () => {
    it('with no attestations at all, every trusted signer is missing', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, []);
      assert.equal(c.state, 'pending');
      assert.equal(c.digest, null);
      assert.deepEqual(c.missing, ids(s0, s1, s2));
    });

    it('one vote of the two needed: another vote could still make a quorum', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A))]);
      assert.equal(c.state, 'pending');
      assert.deepEqual(c.votes, [{ digest: A, signers: ids(s0) }]);
      assert.deepEqual(c.missing, ids(s1, s2));
      assert.deepEqual(c.agreeing, [], 'nobody agrees with a digest that is not canonical yet');
    });

    it('two different digests with one signer still missing: it could break the tie', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A)), attest(s1, SPEC, reproduced(B))]);
      assert.equal(c.state, 'pending');
      assert.deepEqual(c.missing, ids(s2));
    });
  });

  describe('agreed', () => {
    it('a quorum of reproduced votes on one digest makes it canonical, listing agreeing, dissenting and missing', () => {
      const c = evaluateConsensus(SPEC, trustPolicy(policyDocument([s0, s1, s2, s3], 3)), [
        attest(s0, SPEC, reproduced(A)),
        attest(s1, SPEC, reproduced(A)),
        attest(s2, SPEC, reproduced(A)),
        attest(s3, SPEC, reproduced(B)),
      ]);
      assert.equal(c.state, 'agreed');
      assert.equal(c.digest, A);
      assert.deepEqual(c.agreeing, ids(s0, s1, s2));
      assert.deepEqual(c.dissenting, ids(s3));
      assert.deepEqual(c.missing, []);
      assert.deepEqual(c.votes, [
        { digest: A, signers: ids(s0, s1, s2) },
        { digest: B, signers: ids(s3) },
      ]);
    });

    it('failed and unstable signers are listed as such, not as dissenters', () => {
      const c = evaluateConsensus(SPEC, trustPolicy(policyDocument([s0, s1, s2, s3], 2)), [
        attest(s0, SPEC, reproduced(A)),
        attest(s1, SPEC, reproduced(A)),
        attest(s2, SPEC, failed()),
        attest(s3, SPEC, unstable()),
      ]);
      assert.equal(c.state, 'agreed');
      assert.deepEqual(c.failed, ids(s2));
      assert.deepEqual(c.unstable, ids(s3));
      assert.deepEqual(c.dissenting, []);
    });

    it('names the trusted signers as the policy does', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, []);
      assert.deepEqual(c.names, Object.fromEntries([[s0.keyid, 's0'], [s1.keyid, 's1'], [s2.keyid, 's2']].sort()));
    });
  });

  describe('disputed', () => {
    it('votes split so that no digest can reach quorum any more', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A)), attest(s1, SPEC, reproduced(B)), attest(s2, SPEC, reproduced(C))]);
      assert.equal(c.state, 'disputed');
      assert.equal(c.digest, null);
      assert.deepEqual(c.dissenting, [], 'no canonical digest, so nobody dissents from it');
    });

    it('too many signers could not build', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A)), attest(s1, SPEC, failed()), attest(s2, SPEC, failed('timeout', 'timeout'))]);
      assert.equal(c.state, 'disputed');
      assert.deepEqual(c.failed, ids(s1, s2));
    });
  });

  describe('conflict', () => {
    it('two digests both reach quorum under a weak policy (k <= n/2)', () => {
      const weak = trustPolicy(policyDocument([s0, s1, s2, s3], 2));
      const c = evaluateConsensus(SPEC, weak, [
        attest(s0, SPEC, reproduced(A)),
        attest(s1, SPEC, reproduced(A)),
        attest(s2, SPEC, reproduced(B)),
        attest(s3, SPEC, reproduced(B)),
      ]);
      assert.equal(c.state, 'conflict');
      assert.equal(c.digest, null);
      assert.deepEqual(c.agreeing, []);
      assert.deepEqual(c.votes.map((v) => v.signers.length), [2, 2]);
    });
  });

  describe('equivocation', () => {
    it('a signer that signs two digests is not counted, and both envelopes are kept as evidence', () => {
      const a = attest(s0, SPEC, reproduced(A));
      const b = attest(s0, SPEC, reproduced(B));
      const c = evaluateConsensus(SPEC, twoOfThree, [a, b, attest(s1, SPEC, reproduced(A))]);
      assert.deepEqual(c.equivocating, ids(s0));
      assert.deepEqual(c.equivocations, { [s0.keyid]: [a.id, b.id].sort() });
      assert.equal(c.state, 'pending', 's0 would have made a quorum for A, but its votes do not count');
      assert.deepEqual(c.votes, [{ digest: A, signers: ids(s1) }]);
      assert.equal(c.missing.includes(s0.keyid), false, 'an equivocator is not missing: it spoke, twice');
    });

    it('an untrusted equivocator is shown as evidence too, but is not listed among trusted equivocators', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(outsider, SPEC, reproduced(A)), attest(outsider, SPEC, reproduced(B))]);
      assert.deepEqual(c.equivocating, []);
      assert.deepEqual(Object.keys(c.equivocations), [outsider.keyid]);
      assert.deepEqual(c.untrusted, [outsider.keyid]);
    });

    it('repeating the same claim in a new envelope is not equivocation', () => {
      const again = attest(s0, SPEC, reproduced(A), undefined, new Date('2026-02-01T00:00:00Z'));
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A)), again, attest(s1, SPEC, reproduced(A))]);
      assert.equal(c.state, 'agreed');
      assert.deepEqual(c.equivocating, []);
    });

    it('the evidence lists each envelope once, however often it arrived', () => {
      const a = attest(s0, SPEC, reproduced(A));
      const b = attest(s0, SPEC, reproduced(B));
      assert.deepEqual(evaluateConsensus(SPEC, twoOfThree, [a, b, a, b, b]).equivocations, { [s0.keyid]: [a.id, b.id].sort() });
    });
  });

  describe('untrusted signers', () => {
    it('are reported but never counted, however many agree', () => {
      const c = evaluateConsensus(SPEC, twoOfThree, [attest(s0, SPEC, reproduced(A)), attest(outsider, SPEC, reproduced(A))]);
      assert.equal(c.state, 'pending');
      assert.deepEqual(c.untrusted, [outsider.keyid]);
      assert.deepEqual(c.votes, [{ digest: A, signers: ids(s0) }]);
    });
  });

  describe('one vote per signer', () => {
    const v = (signer: string, outcome: Vote['outcome'], digest: string | null, id: string): Vote => ({ id, signer, outcome, digest });

    it('a reproduced digest supersedes an earlier failure or unstable report (a retry that worked)', () => {
      assert.deepEqual(signerVotes([v('x', 'failed', null, '1'), v('x', 'reproduced', A, '2')]).get('x'), { kind: 'reproduced', digest: A });
      assert.deepEqual(signerVotes([v('x', 'unstable', null, '1'), v('x', 'reproduced', A, '2')]).get('x'), { kind: 'reproduced', digest: A });
    });

    it('unstable supersedes failed', () => {
      assert.deepEqual(signerVotes([v('x', 'failed', null, '1'), v('x', 'unstable', null, '2')]).get('x'), { kind: 'unstable' });
    });
  });
});
