import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import type { Attestation } from '../../src/attestation/attestation.js';
import { createBundle, verifyBundle, type QuorumBundle } from '../../src/bundle/bundle.js';
import { evaluateConsensus } from '../../src/consensus/consensus.js';
import { computeSpecId } from '../../src/spec/validate.js';
import { attest, failed, reproduced } from '../support/attestations.js';
import { policyDocument, trustPolicy } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf, dockerfileSpec, mkosiSpec } from '../support/specs.js';
import { refusal } from '../support/refusal.js';

const spec = dockerfileSpec();
const SPEC = computeSpecId(spec);
const A = digestOf('image A');
const B = digestOf('image B');
const signers = makeSigners(5);
const [s0, s1, s2, s3, outsider] = signers as [Signer, Signer, Signer, Signer, Signer];
const policy = trustPolicy(policyDocument([s0, s1, s2, s3], 3));

describe('bundle: quorum proofs checked offline against a policy', () => {
  let atts: Attestation[];
  let bundle: QuorumBundle;
  before(() => {
    atts = [
      attest(s0, SPEC, reproduced(A)),
      attest(s0, SPEC, reproduced(A), undefined, new Date('2026-05-01T00:00:00Z')), // the same claim again
      attest(s1, SPEC, reproduced(A)),
      attest(s2, SPEC, reproduced(A)),
      attest(s3, SPEC, reproduced(B)),
      attest(outsider, SPEC, reproduced(A)),
      attest(s1, SPEC, failed()),
    ];
    bundle = createBundle(SPEC, spec, evaluateConsensus(SPEC, policy, atts), atts);
  });

  it('holds the spec, the canonical digest and one envelope per agreeing signer, nothing else', () => {
    assert.equal(bundle.kind, 'QuorumBundle');
    assert.equal(bundle.specId, SPEC);
    assert.equal(bundle.digest, A);
    assert.deepEqual(bundle.spec, spec);
    const signersIn = bundle.envelopes.map((e) => atts.find((a) => a.envelope.signatures[0]!.sig === e.signatures[0]!.sig)!.signer);
    assert.deepEqual(signersIn.sort(), [s0.keyid, s1.keyid, s2.keyid].sort());
  });

  it('is deterministic: the same set of envelopes in another order gives the same bundle', () => {
    const again = createBundle(SPEC, spec, evaluateConsensus(SPEC, policy, [...atts].reverse()), [...atts].reverse());
    assert.deepEqual(again, bundle);
  });

  it('verifies offline against the policy, from its JSON text', () => {
    const c = verifyBundle(JSON.parse(JSON.stringify(bundle)), policy);
    assert.equal(c.state, 'agreed');
    assert.equal(c.digest, A);
    assert.deepEqual(c.agreeing, [s0.keyid, s1.keyid, s2.keyid].sort());
  });

  it('cannot be made without a quorum', () => {
    const pending = atts.slice(0, 3);
    const e = refusal(() => createBundle(SPEC, spec, evaluateConsensus(SPEC, policy, pending), pending));
    assert.equal(e.code, 'no-quorum');
    assert.equal(e.kind, 'negative');
    assert.match(e.message, /state: pending/);
  });

  it('is refused when checked against a policy under which it is no quorum', () => {
    const stricter = trustPolicy(policyDocument([s0, s1, s2, s3], 4));
    const e = refusal(() => verifyBundle(bundle, stricter));
    assert.equal(e.code, 'no-quorum');
    assert.equal(e.kind, 'negative');
    assert.match(e.message, /state pending.*3 trusted vote\(s\) for sha256:/);
    const strangers = trustPolicy(policyDocument(makeSigners(3), 2));
    assert.match(refusal(() => verifyBundle(bundle, strangers)).message, /no trusted votes/);
  });

  it('is refused when an envelope was tampered with', () => {
    const tampered = structuredClone(bundle);
    const sig = Buffer.from(tampered.envelopes[1]!.signatures[0]!.sig, 'base64');
    sig[0]! ^= 1;
    tampered.envelopes[1]!.signatures[0]!.sig = sig.toString('base64');
    const e = refusal(() => verifyBundle(tampered, policy));
    assert.equal(e.code, 'bad-envelope');
    assert.equal(e.kind, 'negative');
    assert.match(e.message, /^bundle\.envelopes\[1\]: signature does not verify/);
  });

  it('is refused when an envelope is dropped below quorum', () => {
    const short = { ...bundle, envelopes: bundle.envelopes.slice(1) };
    assert.equal(refusal(() => verifyBundle(short, policy)).code, 'no-quorum');
  });

  it('is refused when it claims another digest than its envelopes agree on', () => {
    assert.equal(refusal(() => verifyBundle({ ...bundle, digest: B }, policy)).code, 'no-quorum');
  });

  it('is refused when the spec does not hash to the spec id, or an envelope is about another spec', () => {
    const otherSpec = { ...bundle, spec: { ...spec, sourceDateEpoch: spec.sourceDateEpoch + 1 } };
    assert.equal(refusal(() => verifyBundle(otherSpec, policy)).code, 'spec-mismatch');
    const mkosi = mkosiSpec();
    const mkosiId = computeSpecId(mkosi);
    const foreign = { ...bundle, spec: mkosi, specId: mkosiId };
    const e = refusal(() => verifyBundle(foreign, policy));
    assert.equal(e.code, 'spec-mismatch');
    assert.match(e.message, /attests spec sha256:[0-9a-f]{64}, not sha256:/);
  });

  it('is refused as malformed when it is not a bundle at all', () => {
    assert.equal(refusal(() => verifyBundle(atts[0]!.envelope, policy)).code, 'malformed');
    assert.equal(refusal(() => verifyBundle({ ...bundle, envelopes: 'none' }, policy)).code, 'malformed');
    assert.equal(refusal(() => verifyBundle({ ...bundle, apiVersion: 'v0' }, policy)).code, 'malformed');
    assert.equal(refusal(() => verifyBundle({ ...bundle, spec: { name: 'x' } }, policy)).code, 'invalid-spec');
  });
});
