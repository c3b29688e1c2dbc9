import { createHash } from 'node:crypto';
import canonicalizeJcs from 'canonicalize';

/**
 * RFC 8785 (JSON Canonicalization Scheme) serialisation. Used for every value whose
 * hash is an identifier (spec ids, envelope ids) so that any implementation that
 * parses the same JSON value derives the same id.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalizeJcs(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalised (undefined at top level)');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:` + hex sha256 of the JCS form of `value`. */
export function canonicalDigest(value: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(value))}`;
}

export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
