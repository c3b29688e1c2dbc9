import { invalidInput } from '../errors.js';
import { compileSchema, describeSchemaErrors } from '../schema/compile.js';
import schema from './rebuild-statement.v1.schema.json' with { type: 'json' };

/** in-toto Statement v1 carrying a bit4bit rebuild predicate (DESIGN §3). */

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://bit4bit.dev/rebuild/v1';
export const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export const OUTCOMES = ['reproduced', 'failed', 'unstable'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const FAILURE_CLASSES = [
  'input-unavailable',
  'input-hash-mismatch',
  'toolchain-mismatch',
  'build-error',
  'timeout',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface RebuildPredicate {
  /** Id of the spec that was rebuilt. */
  spec: string;
  outcome: Outcome;
  builder: { type: string; version: string };
  /** The signer's raw Ed25519 public key (hex); sha256 of it is the keyid. */
  signer: { publicKey: string };
  startedOn: string;
  finishedOn: string;
  failure?: { class: FailureClass; message: string };
  unstable?: { digests: string[]; differences?: string[] };
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: typeof PREDICATE_TYPE;
  predicate: RebuildPredicate;
}

export const rebuildStatementSchema = schema;
const validateStatementSchema = compileSchema<Statement>(schema);

/** Validates a decoded payload; errors name the field that is wrong. */
export function validateStatement(value: unknown): Statement {
  if (!validateStatementSchema(value)) {
    const details = describeSchemaErrors(validateStatementSchema.errors ?? [], schema);
    throw invalidInput('malformed', `payload is not a bit4bit rebuild statement: ${details.join('; ')}`, details);
  }
  const { subject, predicate } = value;
  const specHex = predicate.spec.slice('sha256:'.length);
  // A failure or an unstable build has no image digest; its subject is the spec itself,
  // so "failed to build" can never be read as "built something else".
  if (predicate.outcome !== 'reproduced' && subject[0]!.digest.sha256 !== specHex) {
    throw invalidInput('malformed', `payload: a ${predicate.outcome} statement's subject digest must be the spec id`);
  }
  if (predicate.outcome === 'unstable' && new Set(predicate.unstable!.digests).size < 2) {
    throw invalidInput('malformed', 'payload: predicate.unstable.digests must list at least two different digests');
  }
  return value;
}

/** The image digest an attestation votes for, or null when it does not vote for one. */
export function votedDigest(statement: Statement): string | null {
  return statement.predicate.outcome === 'reproduced' ? `sha256:${statement.subject[0]!.digest.sha256}` : null;
}
