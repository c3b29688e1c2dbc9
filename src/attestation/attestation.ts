import { SHA256_DIGEST } from '../canonical/index.js';
import { Bit4bitError, invalidInput } from '../errors.js';
import { keyIdOfHex, type Signer } from '../keys/keys.js';
import type { BuildSpec } from '../spec/types.js';
import {
  decodeEnvelope,
  decodeEnvelopeJson,
  encodeEnvelope,
  envelopeId,
  signEnvelope,
  verifyEnvelopeSignature,
  type DecodedEnvelope,
  type EnvelopeJson,
} from './dsse.js';
import {
  PAYLOAD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  validateStatement,
  votedDigest,
  type FailureClass,
  type Outcome,
  type Statement,
} from './statement.js';

/** What a rebuild produced, as the node that did it reports it. */
export type RebuildResult =
  | { outcome: 'reproduced'; digest: string }
  | { outcome: 'failed'; failure: { class: FailureClass; message: string } }
  | { outcome: 'unstable'; digests: string[]; differences?: string[] };

export interface AttestationInput {
  specId: string;
  spec: Pick<BuildSpec, 'name' | 'builder'>;
  /** Installed tool version the node built with. */
  toolVersion?: string;
  result: RebuildResult;
  startedOn: Date;
  finishedOn: Date;
}

/** A verified attestation, reduced to what consensus, storage and audit need. */
export interface Attestation {
  /** Content address of the envelope (see `envelopeId`). */
  id: string;
  signer: string;
  publicKey: string;
  spec: string;
  outcome: Outcome;
  /** The image digest voted for (`reproduced` only). */
  digest: string | null;
  finishedOn: string;
  statement: Statement;
  /** The envelope in its normal encoding, as stored and forwarded. */
  envelope: EnvelopeJson;
}

const MAX_MESSAGE = 4096;
const MAX_DIFFERENCES = 256;
/**
 * Differences are diagnostics: keep the ones that fit in this many bytes of JSON, so
 * the signed envelope stays under MAX_ENVELOPE_BYTES (base64 adds a third) and every
 * verifier (CLI, store, gossip) accepts what we sign.
 */
const MAX_DIFFERENCES_JSON_BYTES = 24 * 1024;

function boundedDifferences(differences: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const d of differences.slice(0, MAX_DIFFERENCES)) {
    const line = d.slice(0, 1024);
    bytes += Buffer.byteLength(JSON.stringify(line)) + 1;
    if (bytes > MAX_DIFFERENCES_JSON_BYTES) break;
    kept.push(line);
  }
  return kept;
}

export function buildStatement(input: AttestationInput, publicKeyHex: string): Statement {
  const { result } = input;
  const specHex = input.specId.slice('sha256:'.length);
  const subjectDigest = result.outcome === 'reproduced' ? result.digest.slice('sha256:'.length) : specHex;
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: input.spec.name, digest: { sha256: subjectDigest } }],
    predicateType: PREDICATE_TYPE,
    predicate: {
      spec: input.specId,
      outcome: result.outcome,
      builder: { type: input.spec.builder.type, version: input.toolVersion ?? input.spec.builder.version },
      signer: { publicKey: publicKeyHex },
      startedOn: input.startedOn.toISOString(),
      finishedOn: input.finishedOn.toISOString(),
      ...(result.outcome === 'failed' && {
        failure: { class: result.failure.class, message: result.failure.message.slice(0, MAX_MESSAGE) },
      }),
      ...(result.outcome === 'unstable' && {
        unstable: {
          digests: [...new Set(result.digests)].slice(0, 8),
          ...(result.differences && { differences: boundedDifferences(result.differences) }),
        },
      }),
    },
  };
}

/** Signs an in-toto statement for a rebuild result in a DSSE envelope (DESIGN §3). */
export function createAttestation(input: AttestationInput, signer: Signer): Attestation {
  if (!SHA256_DIGEST.test(input.specId)) throw invalidInput('bad-spec-id', `spec id must be sha256:<64 hex>, got ${input.specId}`);
  if (input.result.outcome === 'reproduced' && !SHA256_DIGEST.test(input.result.digest)) {
    throw invalidInput('bad-digest', `digest must be sha256:<64 lowercase hex>, got ${JSON.stringify(input.result.digest)}`);
  }
  const statement = validateStatement(buildStatement(input, Buffer.from(signer.publicKey).toString('hex')));
  const envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), signer);
  return verifyAttestation(envelope);
}

export interface VerifyOptions {
  /** Require the envelope to be signed by this raw public key (hex). */
  publicKey?: string;
}

/**
 * Verifies a bit4bit attestation: envelope shape, payload type, statement schema, that
 * the keyid hint matches the key the statement names, and the Ed25519 signature over
 * PAE. Cheap checks run before the signature. Throws `Bit4bitError` with code
 * `malformed` (kind invalid-input) or `bad-signature`/`wrong-signer` (kind negative).
 */
export function verifyAttestation(input: string | Uint8Array | EnvelopeJson, options: VerifyOptions = {}): Attestation {
  // Envelopes arriving as parsed JSON (inside a bundle) get the same size bound as text.
  const env = typeof input === 'object' && !(input instanceof Uint8Array) ? decodeEnvelopeJson(input, Buffer.byteLength(JSON.stringify(input))) : decodeEnvelope(input);
  return verifyDecoded(env, options);
}

export function verifyDecoded(env: DecodedEnvelope, options: VerifyOptions = {}): Attestation {
  if (env.payloadType !== PAYLOAD_TYPE) {
    throw invalidInput('malformed', `payloadType is ${JSON.stringify(env.payloadType)}, expected ${PAYLOAD_TYPE}`);
  }
  if (env.signatures.length !== 1) {
    throw invalidInput('malformed', `a bit4bit attestation carries exactly one signature, this one has ${env.signatures.length}`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(env.payload.toString('utf8'));
  } catch {
    throw invalidInput('malformed', 'payload is not JSON');
  }
  const statement = validateStatement(payload);
  const publicKey = statement.predicate.signer.publicKey;
  const signer = keyIdOfHex(publicKey);
  const hint = env.signatures[0]!.keyid;
  if (hint !== '' && hint !== signer) {
    throw invalidInput('malformed', `signature keyid ${hint} is not the sha256 of the statement's signer key (${signer})`);
  }
  if (options.publicKey !== undefined && options.publicKey !== publicKey) {
    throw new Bit4bitError('wrong-signer', `envelope is signed for key ${publicKey}, not the expected ${options.publicKey}`, 'negative');
  }
  if (!verifyEnvelopeSignature(env, publicKey)) {
    throw new Bit4bitError('bad-signature', `signature does not verify with the signer's key (keyid ${signer})`, 'negative');
  }
  // The normal form carries the true keyid, so an envelope with and without the hint
  // has one id (the keyid is not signed; DSSE treats it as a hint).
  const envelope = encodeEnvelope({ ...env, signatures: [{ keyid: signer, sig: env.signatures[0]!.sig }] });
  return {
    id: envelopeId(envelope),
    signer,
    publicKey,
    spec: statement.predicate.spec,
    outcome: statement.predicate.outcome,
    digest: votedDigest(statement),
    finishedOn: statement.predicate.finishedOn,
    statement,
    envelope,
  };
}
