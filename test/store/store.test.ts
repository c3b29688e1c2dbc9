import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import fc from 'fast-check';
import { join } from 'node:path';
import { verifyAttestation, type Attestation } from '../../src/attestation/attestation.js';
import { evaluateConsensus } from '../../src/consensus/consensus.js';
import type { Bit4bitError } from '../../src/errors.js';
import { AttestationStore } from '../../src/store/store.js';
import { attest, failed, reproduced, unstable } from '../support/attestations.js';
import { dumpLevel } from '../support/level.js';
import { policyDocument, trustPolicy } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf, dockerfileSpec, mkosiSpec } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';
import { computeSpecId } from '../../src/spec/validate.js';

const SPEC = digestOf('spec one');
const OTHER_SPEC = digestOf('spec two');
const A = digestOf('image A');
const B = digestOf('image B');
const signers = makeSigners(4);
const [s0, s1] = signers as [Signer, Signer];

describe('store: verified envelopes, specs and their indexes in LevelDB', () => {
  const tempDir = useTempDirs();
  let dir: string;
  let store: AttestationStore;

  beforeEach(async () => {
    dir = join(await tempDir(), 'store');
    store = await AttestationStore.open(dir);
  });
  afterEach(async () => {
    await store.close().catch(() => undefined);
  });

  describe('ingest', () => {
    it('accepts a new envelope, then reports it as a duplicate and leaves it as it was', async () => {
      const a = attest(s0, SPEC, reproduced(A));
      assert.deepEqual(await store.ingest([a], 1000), ['accepted']);
      await store.close();
      const before = await dumpLevel(dir);
      store = await AttestationStore.open(dir);
      assert.deepEqual(await store.ingest([a], 2000), ['duplicate']);
      await store.close();
      assert.deepEqual(await dumpLevel(dir), before, 'not even receivedAt changes');
    });

    it('an envelope repeated within one batch is stored once', async () => {
      const a = attest(s0, SPEC, reproduced(A));
      assert.deepEqual(await store.ingest([a, a, attest(s1, SPEC, reproduced(A))]), ['accepted', 'duplicate', 'accepted']);
      assert.equal((await store.votes(SPEC)).length, 2);
    });

    it('the same envelope in URL-safe base64 is the same envelope', async () => {
      const a = attest(s0, SPEC, reproduced(A));
      const urlSafe = JSON.stringify({
        ...a.envelope,
        payload: a.envelope.payload.replace(/\+/g, '-').replace(/\//g, '_'),
        signatures: a.envelope.signatures.map((s) => ({ ...s, sig: s.sig.replace(/\+/g, '-').replace(/\//g, '_') })),
      });
      await store.ingest([a]);
      assert.deepEqual(await store.ingest([verifyAttestation(urlSafe)]), ['duplicate']);
    });
  });

  describe('round trips', () => {
    it('an envelope comes back exactly, still verifies and keeps its id', async () => {
      const a = attest(s0, SPEC, failed('no network', 'input-unavailable'));
      await store.ingest([a]);
      const back = await store.getEnvelope(a.id);
      assert.deepEqual(back, a.envelope);
      assert.equal(verifyAttestation(JSON.stringify(back)).id, a.id);
      assert.equal(await store.hasEnvelope(a.id), true);
      assert.equal(await store.hasEnvelope(digestOf('nothing')), false);
      assert.equal(await store.getEnvelope(digestOf('nothing')), undefined);
    });

    it("a spec's votes and envelopes are exactly its own attestations", async () => {
      const mine = [attest(s0, SPEC, reproduced(A)), attest(s1, SPEC, unstable())];
      const other = attest(s0, OTHER_SPEC, reproduced(B));
      await store.ingest([...mine, other]);
      const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : 1);
      assert.deepEqual(
        (await store.votes(SPEC)).sort(byId),
        mine.map((a) => ({ id: a.id, signer: a.signer, outcome: a.outcome, digest: a.digest })).sort(byId),
      );
      assert.deepEqual((await store.envelopes(SPEC)).sort(byId), mine.map((a) => ({ id: a.id, envelope: a.envelope })).sort(byId));
      assert.deepEqual(await store.votes(digestOf('unknown spec')), []);
      assert.deepEqual(await store.attestedSpecs(), [SPEC, OTHER_SPEC].sort());
    });

    it("a signer's records list spec, envelope, outcome, digest and when it arrived", async () => {
      const a = attest(s0, SPEC, reproduced(A));
      const b = attest(s0, OTHER_SPEC, failed());
      await store.ingest([a], 1111);
      await store.ingest([b, attest(s1, SPEC, reproduced(A))], 2222);
      const records = await store.signerRecords(s0.keyid);
      assert.deepEqual([...records.keys()], [s0.keyid]);
      const byEnvelope = (x: { envelope: string }, y: { envelope: string }) => (x.envelope < y.envelope ? -1 : 1);
      assert.deepEqual(
        records.get(s0.keyid)!.sort(byEnvelope),
        [
          { spec: SPEC, envelope: a.id, outcome: 'reproduced', digest: A, receivedAt: 1111 },
          { spec: OTHER_SPEC, envelope: b.id, outcome: 'failed', digest: null, receivedAt: 2222 },
        ].sort(byEnvelope),
      );
      assert.deepEqual([...(await store.signerRecords()).keys()].sort(), [s0.keyid, s1.keyid].sort());
    });

    it('a spec document is stored once under its id', async () => {
      const spec = dockerfileSpec();
      const id = computeSpecId(spec);
      assert.equal(await store.putSpec(id, spec), true);
      assert.equal(await store.putSpec(id, spec), false);
      assert.deepEqual(await store.getSpec(id), spec);
      assert.equal(await store.getSpec(computeSpecId(mkosiSpec())), undefined);
    });

    it('knows which envelopes it holds while batches land as it loads its index, and after reopening', async () => {
      const early = Array.from({ length: 40 }, (_, i) => attest(signers[i % 4]!, digestOf(`early ${i}`), reproduced(A)));
      const late = Array.from({ length: 40 }, (_, i) => attest(signers[i % 4]!, digestOf(`late ${i}`), reproduced(B)));
      const absent = Array.from({ length: 200 }, (_, i) => digestOf(`never stored ${i}`));
      await store.ingest(early);
      // The first question loads the id filter; ingests racing with that load must not be missed.
      const [, ...raced] = await Promise.all([store.hasEnvelope(absent[0]!), ...late.map((a) => store.ingest([a]))]);
      assert.ok(raced.every(([s]) => s === 'accepted'));
      const check = async () => {
        for (const a of [...early, ...late]) assert.equal(await store.hasEnvelope(a.id), true, a.id);
        for (const id of absent) assert.equal(await store.hasEnvelope(id), false, id);
        assert.ok((await store.ingest([...early, ...late])).every((s) => s === 'duplicate'));
      };
      await check();
      await store.close();
      store = await AttestationStore.open(dir);
      await check();
    });

    it('everything survives closing and reopening', async () => {
      const a = attest(s0, SPEC, reproduced(A));
      await store.ingest([a]);
      await store.putSpec(computeSpecId(mkosiSpec()), mkosiSpec());
      await store.close();
      store = await AttestationStore.open(dir);
      assert.deepEqual(await store.getEnvelope(a.id), a.envelope);
      assert.deepEqual(await store.getSpec(computeSpecId(mkosiSpec())), mkosiSpec());
    });
  });

  describe('locking', () => {
    it('refuses to open a store that is already open, saying who may hold it', async () => {
      await assert.rejects(AttestationStore.open(dir), (e: Bit4bitError) => {
        assert.equal(e.code, 'store-locked');
        assert.equal(e.kind, 'environment');
        assert.match(e.message, new RegExp(`the store at ${dir} is in use by another process \\(a running node\\?\\); stop it`));
        return true;
      });
    });
  });
});

describe('store + consensus over real signed envelopes (fast-check)', () => {
  const tempDir = useTempDirs();
  // Every claim each of four signers could make, signed once up front.
  const pool: Attestation[] = signers.flatMap((s) => [
    attest(s, SPEC, reproduced(A)),
    attest(s, SPEC, reproduced(A), undefined, new Date('2026-03-01T00:00:00Z')),
    attest(s, SPEC, reproduced(B)),
    attest(s, SPEC, failed()),
    attest(s, SPEC, unstable()),
  ]);
  const policy = trustPolicy(policyDocument(signers.slice(0, 3), 2));

  it('storing envelopes in any order and batches, twice, gives one store content and the consensus of the set', async () => {
    const arrival = fc
      .subarray(pool, { maxLength: 10 })
      .chain((set) =>
        fc.record({
          set: fc.constant(set),
          order: fc.shuffledSubarray(set, { minLength: set.length, maxLength: set.length }),
          cuts: fc.array(fc.nat({ max: 10 }), { maxLength: 3 }),
        }),
      );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(arrival, async ({ set, order, cuts }) => {
        const dir = join(await tempDir(), `run-${runs++}`);
        const batches = splitAt(order, cuts);
        const store = await AttestationStore.open(dir);
        try {
          for (const b of batches) await store.ingest(b, 42);
          const expected = evaluateConsensus(SPEC, policy, set);
          assert.deepEqual(evaluateConsensus(SPEC, policy, await store.votes(SPEC)), expected);
          await store.close();
          const once = await dumpLevel(dir);
          const again = await AttestationStore.open(dir);
          try {
            for (const b of [...batches].reverse()) assert.ok((await again.ingest(b, 99)).every((s) => s === 'duplicate'));
            assert.deepEqual(evaluateConsensus(SPEC, policy, await again.votes(SPEC)), expected);
          } finally {
            await again.close();
          }
          assert.deepEqual(await dumpLevel(dir), once);
        } finally {
          await store.close().catch(() => undefined);
        }
      }),
      { seed: 0x5707e, numRuns: 25 },
    );
  });
});

function splitAt<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => Math.min(c, xs.length)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let from = 0;
  for (const p of [...points, xs.length]) {
    out.push(xs.slice(from, p));
    from = p;
  }
  return out;
}
