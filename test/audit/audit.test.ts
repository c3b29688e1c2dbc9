import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import { join } from 'node:path';
import { auditSigners, type SignerAudit } from '../../src/audit/audit.js';
import { AttestationStore } from '../../src/store/store.js';
import { attest, failed, reproduced, unstable } from '../support/attestations.js';
import { policyDocument, trustPolicy } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';

const X = digestOf('spec X');
const Y = digestOf('spec Y');
const A = digestOf('image A');
const B = digestOf('image B');
const signers = makeSigners(5);
const [s0, s1, s2, silent, outsider] = signers as [Signer, Signer, Signer, Signer, Signer];
const policy = trustPolicy(policyDocument([s0, s1, s2, silent], 3));

describe('audit: what each signer did', () => {
  const tempDir = useTempDirs();
  let store: AttestationStore;
  let audits: Map<string, SignerAudit>;
  const equivocation = [attest(s1, Y, reproduced(A)), attest(s1, Y, reproduced(B))];

  before(async () => {
    store = await AttestationStore.open(join(await tempDir(), 'store'));
    // Spec X: s0, s1, s2 agree on A (3 of 4: agreed); the outsider agrees too but does not count.
    await store.ingest([attest(s0, X, reproduced(A)), attest(s1, X, reproduced(A)), attest(outsider, X, reproduced(A))], Date.parse('2026-01-01T00:00:00Z'));
    await store.ingest([attest(s2, X, reproduced(A))], Date.parse('2026-01-02T00:00:00Z'));
    // Spec Y: s0 could not build, s1 signed two digests, s2's own builds differed.
    await store.ingest([attest(s0, Y, failed()), ...equivocation, attest(s2, Y, unstable())], Date.parse('2026-01-03T00:00:00Z'));
    audits = new Map((await auditSigners(store, policy)).map((a) => [a.signer, a]));
  });
  after(async () => {
    await store.close();
  });

  it('a signer that agreed on one spec and could not build another', () => {
    assert.deepEqual(audits.get(s0.keyid), {
      signer: s0.keyid,
      name: 's0',
      trusted: true,
      attestations: 2,
      specs: 2,
      agreed: 1,
      dissented: 0,
      failed: 1,
      unstable: 0,
      equivocations: [],
      lastSeen: '2026-01-03T00:00:00.000Z',
    });
  });

  it('an equivocating signer, with both envelopes as evidence', () => {
    const a = audits.get(s1.keyid)!;
    assert.equal(a.attestations, 3);
    assert.equal(a.agreed, 1);
    assert.deepEqual(a.equivocations, [{ spec: Y, envelopes: equivocation.map((e) => e.id).sort() }]);
  });

  it('a signer whose own builds were unstable', () => {
    const a = audits.get(s2.keyid)!;
    assert.equal(a.unstable, 1);
    assert.equal(a.agreed, 1);
  });

  it('a trusted signer that never attested is listed, never seen', () => {
    const a = audits.get(silent.keyid)!;
    assert.equal(a.attestations, 0);
    assert.equal(a.lastSeen, null);
    assert.equal(a.name, 's3');
  });

  it('a signer outside the policy is listed, unnamed and untrusted, and agrees with nothing', () => {
    const a = audits.get(outsider.keyid)!;
    assert.equal(a.trusted, false);
    assert.equal(a.name, null);
    assert.equal(a.attestations, 1);
    assert.equal(a.agreed, 0);
  });

  it('lists trusted signers first, then the rest, each by keyid', async () => {
    const list = await auditSigners(store, policy);
    assert.deepEqual(
      list.map((a) => a.signer),
      [[s0, s1, s2, silent].map((s) => s.keyid).sort(), outsider.keyid].flat(),
    );
  });

  it('a signer who reproduced another digest than the agreed one dissented', async () => {
    await store.ingest([attest(silent, X, reproduced(B))]);
    const [a] = await auditSigners(store, policy, silent.keyid);
    assert.equal(a!.dissented, 1);
    assert.equal(a!.agreed, 0);
  });

  it('can be asked about one signer, even one never seen', async () => {
    const stranger = makeSigners(1)[0]!;
    assert.deepEqual((await auditSigners(store, policy, s0.keyid)).map((a) => a.signer), [s0.keyid]);
    const [none] = await auditSigners(store, policy, stranger.keyid);
    assert.equal(none!.attestations, 0);
    assert.equal(none!.trusted, false);
  });
});
