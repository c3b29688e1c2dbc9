import { invalidInput } from '../errors.js';
import { keyIdOf } from '../keys/keys.js';
import { compileSchema, describeSchemaErrors } from '../schema/compile.js';
import { parseDocumentText } from '../spec/validate.js';
import schema from './trust-policy.v1.schema.json' with { type: 'json' };

/**
 * A trust policy: the signer set consensus is computed against (DESIGN §4). Signers
 * may be gathered into groups with their own threshold; a group counts as one member
 * of its parent, so one operator with many keys counts once (as in C2SP tlog-policy).
 */

export interface PolicyDocument {
  apiVersion?: 'bit4bit/v1';
  kind?: 'TrustPolicy';
  description?: string;
  signers: { name: string; publicKey: string }[];
  groups?: { name: string; threshold: number; members: string[] }[];
  threshold: number;
}

export type PolicyNode =
  | { kind: 'signer'; name: string; keyid: string; publicKey: string }
  | { kind: 'group'; name: string; threshold: number; members: PolicyNode[] };

export interface TrustPolicy {
  /** Root of the quorum tree: a group whose members are the top-level members. */
  root: Extract<PolicyNode, { kind: 'group' }>;
  /** Trusted signers by keyid. */
  signers: Map<string, { name: string; publicKey: string }>;
}

export interface PolicyProblem {
  severity: 'error' | 'warning';
  message: string;
}

export const trustPolicySchema = schema;
const validateSchema = compileSchema<PolicyDocument>(schema);

/**
 * Checks a parsed policy document. Errors make the policy unusable (it would count
 * a key twice, name someone who is not there, or can never be satisfied); warnings
 * flag a policy that works but is weak.
 */
export function lintPolicy(value: unknown): { problems: PolicyProblem[]; policy?: TrustPolicy } {
  if (!validateSchema(value)) {
    return { problems: describeSchemaErrors(validateSchema.errors ?? [], schema).map((message) => ({ severity: 'error', message })) };
  }
  const problems: PolicyProblem[] = [];
  const error = (message: string) => problems.push({ severity: 'error', message });
  const warn = (message: string) => problems.push({ severity: 'warning', message });
  const doc = value;
  const groups = doc.groups ?? [];

  const names = new Map<string, 'signer' | 'group'>();
  for (const [i, s] of doc.signers.entries()) {
    if (names.has(s.name)) error(`signers[${i}].name: "${s.name}" is defined twice; names must be unique`);
    names.set(s.name, 'signer');
  }
  for (const [i, g] of groups.entries()) {
    if (names.has(g.name)) error(`groups[${i}].name: "${g.name}" is already the name of a ${names.get(g.name)}; names must be unique`);
    names.set(g.name, 'group');
  }

  const byKey = new Map<string, string>();
  for (const [i, s] of doc.signers.entries()) {
    const other = byKey.get(s.publicKey);
    if (other !== undefined) {
      error(`signers[${i}].publicKey: duplicate key, also listed as "${other}"; one key must count once: list it once (or put both names' keys in a group)`);
    }
    byKey.set(s.publicKey, s.name);
  }

  const parentOf = new Map<string, string>();
  for (const [i, g] of groups.entries()) {
    for (const m of g.members) {
      if (!names.has(m)) {
        error(`groups[${i}].members: unknown member "${m}"; every member must be a signer or group defined in this policy`);
      } else if (m === g.name) {
        error(`groups[${i}].members: group "${g.name}" lists itself`);
      } else if (parentOf.has(m)) {
        error(`groups[${i}].members: "${m}" is already a member of group "${parentOf.get(m)}"; a member may belong to one group only, or it would count twice`);
      } else {
        parentOf.set(m, g.name);
      }
    }
    if (new Set(g.members).size !== g.members.length) error(`groups[${i}].members: lists a member twice`);
    if (g.threshold > g.members.length) {
      error(`groups[${i}].threshold: ${g.threshold} is more than its ${g.members.length} members; the group could never count`);
    } else if (g.threshold * 2 <= g.members.length) {
      warn(`groups[${i}]: threshold ${g.threshold} of ${g.members.length} is not a majority, so group "${g.name}" could vouch for two different digests at once; use a threshold > ${Math.floor(g.members.length / 2)}`);
    }
  }

  const topLevel = [...names.keys()].filter((n) => !parentOf.has(n));
  if (doc.threshold > topLevel.length) {
    error(`threshold: ${doc.threshold} is more than the ${topLevel.length} top-level members (${topLevel.join(', ')}); consensus could never be reached`);
  } else if (doc.threshold * 2 <= topLevel.length) {
    warn(`threshold: ${doc.threshold} of ${topLevel.length} is not a majority, so two different digests could both reach quorum (a conflict); use a threshold > ${Math.floor(topLevel.length / 2)}`);
  }
  if (problems.some((p) => p.severity === 'error')) return { problems };

  const groupByName = new Map(groups.map((g) => [g.name, g]));
  const signerByName = new Map(doc.signers.map((s) => [s.name, s]));
  const reached = new Set<string>();
  const build = (name: string): PolicyNode => {
    reached.add(name);
    const s = signerByName.get(name);
    if (s) return { kind: 'signer', name, publicKey: s.publicKey, keyid: keyIdOf(Buffer.from(s.publicKey, 'hex')) };
    const g = groupByName.get(name)!;
    return { kind: 'group', name, threshold: g.threshold, members: g.members.map(build) };
  };
  // Every member has at most one parent, so the tree below the top level has no
  // shared nodes; anything not reached from the top sits on or below a cycle of
  // groups. Name the groups on the cycle, not the members hanging below it.
  const root: TrustPolicy['root'] = { kind: 'group', name: '(policy)', threshold: doc.threshold, members: topLevel.map(build) };
  const onCycle = (n: string) => {
    const seen = new Set<string>();
    for (let p = parentOf.get(n); p !== undefined && !seen.has(p); p = parentOf.get(p)) {
      if (p === n) return true;
      seen.add(p);
    }
    return false;
  };
  const cyclic = [...names.keys()].filter((n) => !reached.has(n) && onCycle(n));
  if (cyclic.length > 0) {
    return { problems: [...problems, { severity: 'error', message: `groups: ${cyclic.join(', ')} form a cycle (each is a member of another); a group cannot contain itself` }] };
  }
  const signers = new Map(doc.signers.map((s) => [keyIdOf(Buffer.from(s.publicKey, 'hex')), { name: s.name, publicKey: s.publicKey }]));
  return { problems, policy: { root, signers } };
}

/** Parses and checks a policy; any error refuses it (exit 2) with every problem listed. */
export function parsePolicy(text: string, what = 'policy'): TrustPolicy {
  const { problems, policy } = lintPolicy(parseDocumentText(text, what));
  if (!policy) {
    const details = problems.filter((p) => p.severity === 'error').map((p) => p.message);
    throw invalidInput('invalid-policy', `${what} is not a usable trust policy:\n  ${details.join('\n  ')}`, details);
  }
  return policy;
}

/** A policy trusting exactly one key: the default for a single node. */
export function singleSignerPolicyDocument(name: string, publicKeyHex: string): PolicyDocument {
  return { apiVersion: 'bit4bit/v1', kind: 'TrustPolicy', signers: [{ name, publicKey: publicKeyHex }], threshold: 1 };
}
