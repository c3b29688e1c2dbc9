import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { sha256Hex, SHA256_HEX } from '../canonical/index.js';
import { invalidInput } from '../errors.js';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export const PUBLIC_KEY_HEX = SHA256_HEX; // 32 bytes → 64 lowercase hex characters

/** keyid = hex sha256 of the raw 32-byte public key (DESIGN §3). */
export function keyIdOf(publicKey: Uint8Array): string {
  return sha256Hex(publicKey);
}

export interface Signer {
  readonly keyid: string;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** Generates a new Ed25519 key and returns its PKCS#8 PEM form (the on-disk format). */
export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function signerFromPem(pem: string, what = 'signing key'): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw invalidInput('bad-key', `${what} is not a PEM private key; create one with \`bit4bit init\``);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw invalidInput('bad-key', `${what} is a ${key.asymmetricKeyType} key; bit4bit signs with Ed25519 only`);
  }
  const publicKey = rawPublicKey(createPublicKey(key));
  return { keyid: keyIdOf(publicKey), publicKey, sign: (message) => sign(null, message, key) };
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** Parses a 64-hex-character Ed25519 public key, naming `what` on error. */
export function parsePublicKeyHex(hex: string, what = 'public key'): Uint8Array {
  if (typeof hex !== 'string' || !PUBLIC_KEY_HEX.test(hex)) {
    throw invalidInput('bad-key', `${what} must be 64 lowercase hex characters (a raw Ed25519 public key), got ${JSON.stringify(hex)}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

const KEY_CACHE_LIMIT = 10_000;
const keyIds = new Map<string, string>();

/** keyid of a hex public key, memoised: the same few signers sign most envelopes. */
export function keyIdOfHex(publicKeyHex: string): string {
  let id = keyIds.get(publicKeyHex);
  if (id === undefined) {
    id = keyIdOf(Buffer.from(publicKeyHex, 'hex'));
    if (keyIds.size >= KEY_CACHE_LIMIT) keyIds.delete(keyIds.keys().next().value!);
    keyIds.set(publicKeyHex, id);
  }
  return id;
}

const keyObjects = new Map<string, KeyObject>();

/**
 * A node's KeyObject for a raw Ed25519 public key, cached: importing the key costs
 * about as much as a verification, and the same few signers sign most envelopes.
 */
export function publicKeyObject(publicKeyHex: string): KeyObject {
  let key = keyObjects.get(publicKeyHex);
  if (!key) {
    key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]),
      format: 'der',
      type: 'spki',
    });
    if (keyObjects.size >= KEY_CACHE_LIMIT) keyObjects.delete(keyObjects.keys().next().value!);
    keyObjects.set(publicKeyHex, key);
  }
  return key;
}
