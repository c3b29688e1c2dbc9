/**
 * Store benchmark (issue #2): ingest throughput for 100k envelopes (verification +
 * LevelDB batches), then `query` latency (read a spec's votes + evaluate consensus)
 * over 10k specs. Goal: query p99 under 2 ms.
 *
 *   node dist/bench/store.js [envelopes] [specs]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAttestation, type Attestation } from '../src/attestation/attestation.js';
import { evaluateConsensus } from '../src/consensus/consensus.js';
import { lintPolicy } from '../src/policy/policy.js';
import { AttestationStore } from '../src/store/store.js';
import { attest, hex, makeSigners, percentile, rate } from './fixtures.js';

const envelopes = Number(process.argv[2] ?? 100_000);
const specs = Number(process.argv[3] ?? 10_000);
const perSpec = Math.ceil(envelopes / specs);
const signers = makeSigners(Math.max(perSpec, 3));
const { policy } = lintPolicy({
  signers: signers.map((s, i) => ({ name: `s${i}`, publicKey: Buffer.from(s.publicKey).toString('hex') })),
  threshold: Math.floor(signers.length / 2) + 1,
});
if (!policy) throw new Error('bench policy is invalid');

let t = performance.now();
const encoded: string[] = [];
for (let i = 0; i < envelopes; i++) {
  const spec = i % specs;
  const signerIndex = Math.floor(i / specs) % signers.length;
  // Every tenth spec has one dissenting signer, so consensus has real work to do.
  encoded.push(JSON.stringify(attest(signers[signerIndex]!, spec, spec % 10 === 0 && signerIndex === 0 ? 1 : 0).envelope));
}
console.log(`prepared ${envelopes} signed envelopes over ${specs} specs in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const dir = await mkdtemp(join(tmpdir(), 'bit4bit-bench-store-'));
const store = await AttestationStore.open(join(dir, 'store'));
try {
  const batchSize = 1000;
  t = performance.now();
  let verifyMs = 0;
  for (let i = 0; i < encoded.length; i += batchSize) {
    const v0 = performance.now();
    const batch: Attestation[] = encoded.slice(i, i + batchSize).map((text) => verifyAttestation(text));
    verifyMs += performance.now() - v0;
    await store.ingest(batch);
  }
  const ingestMs = performance.now() - t;
  console.log(`ingest (verify + store)   ${rate(envelopes, ingestMs)}  (${(ingestMs / 1000).toFixed(1)} s; verify ${(verifyMs / 1000).toFixed(1)} s, store ${((ingestMs - verifyMs) / 1000).toFixed(1)} s)`);

  t = performance.now();
  const again = await store.ingest(encoded.slice(0, batchSize).map((text) => verifyAttestation(text)));
  if (again.some((s) => s !== 'duplicate')) throw new Error('re-ingest was not idempotent');
  console.log(`re-ingest ${batchSize} duplicates   ${(performance.now() - t).toFixed(0)} ms`);

  const queries = 10_000;
  const latencies: number[] = [];
  const states = new Map<string, number>();
  for (let q = 0; q < queries; q++) {
    const spec = `sha256:${hex((q * 7919) % specs)}`;
    const q0 = performance.now();
    const result = evaluateConsensus(spec, policy, await store.votes(spec));
    latencies.push(performance.now() - q0);
    states.set(result.state, (states.get(result.state) ?? 0) + 1);
  }
  latencies.sort((a, b) => a - b);
  console.log(`query latency over ${specs} specs (${queries} queries): p50 ${percentile(latencies, 50).toFixed(3)} ms, p99 ${percentile(latencies, 99).toFixed(3)} ms, max ${latencies.at(-1)!.toFixed(3)} ms  (goal p99 < 2 ms)`);
  console.log(`states seen: ${[...states].map(([s, n]) => `${s} ${n}`).join(', ')}`);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
