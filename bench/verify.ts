/**
 * Envelope verification rate (decode + statement checks + PAE + Ed25519) against the
 * raw native `crypto.verify` Ed25519 rate on the same messages, measured in one run.
 * Goal (issue #2): full verification >= 0.7 of the native rate.
 *
 *   node dist/bench/verify.js [envelopes]
 */
import { verify } from 'node:crypto';
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { verifyAttestation } from '../src/attestation/attestation.js';
import { decodeEnvelope, pae } from '../src/attestation/dsse.js';
import { publicKeyObject } from '../src/keys/keys.js';
import { attest, makeSigners, rate } from './fixtures.js';

const count = Number(process.argv[2] ?? 20_000);
const signers = makeSigners(16);
const encoded = Array.from({ length: count }, (_, i) => JSON.stringify(attest(signers[i % signers.length]!, i).envelope));

// The raw primitive: PAE bytes, signature and a reused KeyObject prepared beforehand.
const prepared = encoded.map((text) => {
  const env = decodeEnvelope(text);
  const pub = JSON.parse(env.payload.toString()).predicate.signer.publicKey as string;
  return { message: pae(env.payloadType, env.payload), sig: env.signatures[0]!.sig, key: publicKeyObject(pub), pub };
});

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

// Warm up both paths, then measure alternately so that both see the same machine state.
for (let i = 0; i < 2000; i++) {
  const p = prepared[i % count]!;
  verify(null, p.message, p.key, p.sig);
  verifyAttestation(encoded[i % count]!);
}
let nativeMs = 0;
let fullMs = 0;
for (let round = 0; round < 3; round++) {
  nativeMs += timed(() => {
    for (const p of prepared) if (!verify(null, p.message, p.key, p.sig)) throw new Error('native verify failed');
  });
  fullMs += timed(() => {
    for (const text of encoded) verifyAttestation(text);
  });
}

ed.hashes.sha512 = (m: Uint8Array) => new Uint8Array(createHash('sha512').update(m).digest());
const nobleCount = Math.min(1000, count);
const nobleMs = timed(() => {
  for (const p of prepared.slice(0, nobleCount)) if (!ed.verify(new Uint8Array(p.sig), new Uint8Array(p.message), Buffer.from(p.pub, 'hex'))) throw new Error('noble verify failed');
});

const total = count * 3;
console.log(`envelopes                 ${count} x 3 rounds, ${Buffer.byteLength(encoded[0]!)} bytes each`);
console.log(`native crypto.verify      ${rate(total, nativeMs)}`);
console.log(`full verifyAttestation    ${rate(total, fullMs)}`);
console.log(`@noble/ed25519 verify     ${rate(nobleCount, nobleMs)}  (reference, not used on this path)`);
console.log(`ratio full/native         ${(nativeMs / fullMs).toFixed(3)}  (goal >= 0.7)`);
