import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import { lintPolicy, type PolicyDocument, type TrustPolicy } from '../../src/policy/policy.js';
import { publicKeyHex } from './signers.js';

/** Signer names used in policies: s0, s1, ... by position. */
export function signerName(i: number): string {
  return `s${i}`;
}

/** A policy document listing `signers` as s0, s1, ... with the given threshold and groups. */
export function policyDocument(signers: readonly Signer[], threshold: number, groups?: PolicyDocument['groups']): PolicyDocument {
  return {
    apiVersion: 'bit4bit/v1',
    kind: 'TrustPolicy',
    signers: signers.map((s, i) => ({ name: signerName(i), publicKey: publicKeyHex(s) })),
    ...(groups && { groups }),
    threshold,
  };
}

/** Builds a usable policy, failing the test if it has errors (warnings are allowed). */
export function trustPolicy(doc: PolicyDocument): TrustPolicy {
  const { problems, policy } = lintPolicy(doc);
  assert.ok(policy, `policy has errors: ${problems.map((p) => p.message).join('; ')}`);
  return policy;
}
