import { verify } from 'node:crypto';
import { sha256Hex } from '../canonical/index.js';
import { invalidInput } from '../errors.js';
import { publicKeyObject, type Signer } from '../keys/keys.js';

/**
 * DSSE v1 envelopes (https://github.com/secure-systems-lab/dsse, envelope.md and
 * protocol.md). One encoder (`signEnvelope`), one decoder (`decodeEnvelope`), one
 * signature check (`verifyEnvelopeSignature`).
 */

export interface EnvelopeJson {
  payloadType: string;
  /** Standard base64 of the payload bytes. */
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

export interface DecodedEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: { keyid: string; sig: Buffer }[];
}

/** Gossip- and file-sized bound on an encoded envelope. */
export const MAX_ENVELOPE_BYTES = 64 * 1024;

/**
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where LEN is
 * the ASCII decimal byte length (DSSE protocol.md). Signatures are over these bytes.
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  const header = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return Buffer.concat([header, payload]);
}

export function signEnvelope(payloadType: string, payload: Uint8Array, signer: Signer): EnvelopeJson {
  const sig = signer.sign(pae(payloadType, payload));
  return {
    payloadType,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: signer.keyid, sig: Buffer.from(sig).toString('base64') }],
  };
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes an envelope from JSON text or bytes. Accepts standard and URL-safe base64
 * as DSSE requires of verifiers. Shape errors are `invalid-input` with a reason.
 */
export function decodeEnvelope(input: string | Uint8Array): DecodedEnvelope {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  checkSize(size);
  let value: unknown;
  try {
    value = JSON.parse(typeof input === 'string' ? input : Buffer.from(input).toString('utf8'));
  } catch {
    throw malformed('envelope is not JSON');
  }
  return decodeEnvelopeJson(value);
}

function checkSize(size: number): void {
  if (size > MAX_ENVELOPE_BYTES) throw malformed(`envelope is ${size} bytes, more than the ${MAX_ENVELOPE_BYTES}-byte limit`);
}

/** Decodes an already-parsed envelope; `encodedSize`, when known, is checked against the limit. */
export function decodeEnvelopeJson(value: unknown, encodedSize?: number): DecodedEnvelope {
  if (encodedSize !== undefined) checkSize(encodedSize);
  if (!isObject(value)) throw malformed('envelope is not a JSON object');
  const { payloadType, payload, signatures } = value;
  if (typeof payloadType !== 'string') throw malformed('envelope.payloadType must be a string');
  if (typeof payload !== 'string' || !BASE64.test(payload)) throw malformed('envelope.payload must be a base64 string');
  if (!Array.isArray(signatures) || signatures.length === 0) throw malformed('envelope.signatures must be a non-empty array');
  if (signatures.length > 16) throw malformed('envelope carries more than 16 signatures');
  return {
    payloadType,
    payload: Buffer.from(payload, 'base64'),
    signatures: signatures.map((s, i) => {
      if (!isObject(s) || typeof s.sig !== 'string' || !BASE64.test(s.sig)) throw malformed(`envelope.signatures[${i}].sig must be a base64 string`);
      if (s.keyid !== undefined && typeof s.keyid !== 'string') throw malformed(`envelope.signatures[${i}].keyid must be a string`);
      return { keyid: (s.keyid as string | undefined) ?? '', sig: Buffer.from(s.sig, 'base64') };
    }),
  };
}

/** Re-encodes a decoded envelope in its normal form: standard base64, fields as DSSE names them. */
export function encodeEnvelope(env: DecodedEnvelope): EnvelopeJson {
  return {
    payloadType: env.payloadType,
    payload: env.payload.toString('base64'),
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig.toString('base64') })),
  };
}

/**
 * Content address of an envelope: `sha256:` + hex sha256 of the RFC 8785 form of its
 * normal encoding (`encodeEnvelope`). Two byte-different encodings of one envelope
 * share an id.
 *
 * The normal encoding has a fixed shape whose members are all strings, so its RFC 8785
 * form is written directly: members in code-unit order (payload < payloadType <
 * signatures, keyid < sig) and strings serialised as ECMAScript JSON.stringify does
 * (RFC 8785 §3.2.2.2). This is on the verification hot path; tests check it equals
 * the general canonicaliser.
 */
export function envelopeId(e: EnvelopeJson): string {
  const signatures = e.signatures.map((s) => `{"keyid":${JSON.stringify(s.keyid ?? '')},"sig":${JSON.stringify(s.sig)}}`).join(',');
  return `sha256:${sha256Hex(`{"payload":${JSON.stringify(e.payload)},"payloadType":${JSON.stringify(e.payloadType)},"signatures":[${signatures}]}`)}`;
}

/** True when some signature verifies over PAE with the given raw public key (hex). */
export function verifyEnvelopeSignature(env: DecodedEnvelope, publicKeyHex: string): boolean {
  const key = publicKeyObject(publicKeyHex);
  const message = pae(env.payloadType, env.payload);
  return env.signatures.some((s) => s.sig.length === 64 && verify(null, message, key, s.sig));
}

function malformed(reason: string) {
  return invalidInput('malformed', reason);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
