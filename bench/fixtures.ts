import { createAttestation, type Attestation } from '../src/attestation/attestation.js';
import { generateSigningKeyPem, signerFromPem, type Signer } from '../src/keys/keys.js';
import type { BuildSpec } from '../src/spec/types.js';

/** Shared benchmark inputs: signers and signed attestations for synthetic specs. */
export function makeSigners(n: number): Signer[] {
  return Array.from({ length: n }, () => signerFromPem(generateSigningKeyPem()));
}

const specShape: Pick<BuildSpec, 'name' | 'builder'> = {
  name: 'bench-image',
  builder: { type: 'dockerfile', version: '1.28.2', baseImages: [] },
};

export function hex(i: number, salt = 0): string {
  return (i.toString(16).padStart(8, '0') + salt.toString(16).padStart(8, '0')).repeat(4);
}

/** One reproduced attestation by `signer` for synthetic spec `i`. */
export function attest(signer: Signer, specIndex: number, digestSalt = 0): Attestation {
  const now = new Date(1_700_000_000_000 + specIndex);
  return createAttestation(
    {
      specId: `sha256:${hex(specIndex)}`,
      spec: specShape,
      result: { outcome: 'reproduced', digest: `sha256:${hex(specIndex, 1 + digestSalt)}` },
      startedOn: now,
      finishedOn: now,
    },
    signer,
  );
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;
}
