import { generateSigningKeyPem, signerFromPem, type Signer } from '../../src/keys/keys.js';

/** `n` fresh Ed25519 signers, made the way `bit4bit init` makes its key. */
export function makeSigners(n: number): Signer[] {
  return Array.from({ length: n }, () => signerFromPem(generateSigningKeyPem()));
}

/** A signer with its PEM, for tests that write the key to disk. */
export function makeSignerWithPem(): { pem: string; signer: Signer } {
  const pem = generateSigningKeyPem();
  return { pem, signer: signerFromPem(pem) };
}

export function publicKeyHex(signer: Signer): string {
  return Buffer.from(signer.publicKey).toString('hex');
}
