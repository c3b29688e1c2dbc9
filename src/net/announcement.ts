import { decodeEnvelopeJson, encodeEnvelope, envelopeId, signEnvelope, verifyEnvelopeSignature, type DecodedEnvelope, type EnvelopeJson } from '../attestation/dsse.js';
import { invalidInput, Bit4bitError } from '../errors.js';
import { keyIdOf, PUBLIC_KEY_HEX, type Signer } from '../keys/keys.js';
import type { BuildSpec, LoadedSpec } from '../spec/types.js';
import { validateSpec } from '../spec/validate.js';
import { MAX_ANNOUNCEMENT_BYTES } from './protocols.js';

/**
 * A spec announcement: "publisher P asks the network to rebuild spec S". A DSSE
 * envelope (so it verifies with the DSSE spec alone) whose payload is
 * `{"publisher": <hex Ed25519 key>, "spec": <BuildSpec>}`. The signature lets a node
 * build only what publishers it trusts announce (node config `build.specs`), and
 * Ed25519 being deterministic, one publisher announcing one spec is always the same
 * bytes: re-announcing is idempotent everywhere.
 */
export const ANNOUNCEMENT_PAYLOAD_TYPE = 'application/vnd.bit4bit.spec-announcement+json';

export interface Announcement {
  /** Content address of the envelope (same rule as attestation envelopes). */
  id: string;
  specId: string;
  spec: BuildSpec;
  /** keyid (hex sha256) of the publisher key. */
  publisher: string;
  publicKey: string;
  envelope: EnvelopeJson;
}

export function createAnnouncement(loaded: LoadedSpec, signer: Signer): Announcement {
  const payload = { publisher: Buffer.from(signer.publicKey).toString('hex'), spec: loaded.spec };
  const envelope = signEnvelope(ANNOUNCEMENT_PAYLOAD_TYPE, Buffer.from(JSON.stringify(payload)), signer);
  return verifyAnnouncement(Buffer.from(JSON.stringify(envelope)));
}

/** Parsed but not yet signature-checked: the cheap part, so callers can dedupe before verifying. */
export interface DecodedAnnouncement {
  id: string;
  env: DecodedEnvelope;
  loaded: LoadedSpec;
  publicKey: string;
  publisher: string;
}

/** Size, envelope shape, payload type, payload schema and keyid hint; throws `malformed`. */
export function decodeAnnouncement(data: Uint8Array): DecodedAnnouncement {
  if (data.length > MAX_ANNOUNCEMENT_BYTES) throw invalidInput('too-large', `announcement is ${data.length} bytes, limit ${MAX_ANNOUNCEMENT_BYTES}`);
  // Not decodeEnvelope: its limit is the attestation size, an announcement carries a whole spec.
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw invalidInput('malformed', 'announcement is not JSON');
  }
  const env = decodeEnvelopeJson(json);
  if (env.payloadType !== ANNOUNCEMENT_PAYLOAD_TYPE) throw invalidInput('malformed', `payloadType is ${JSON.stringify(env.payloadType)}, expected ${ANNOUNCEMENT_PAYLOAD_TYPE}`);
  if (env.signatures.length !== 1) throw invalidInput('malformed', 'an announcement carries exactly one signature');
  let payload: unknown;
  try {
    payload = JSON.parse(env.payload.toString('utf8'));
  } catch {
    throw invalidInput('malformed', 'announcement payload is not JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalidInput('malformed', 'announcement payload must be an object');
  const { publisher, spec, ...rest } = payload as Record<string, unknown>;
  if (Object.keys(rest).length) throw invalidInput('malformed', `announcement payload has unknown field(s) ${Object.keys(rest).join(', ')}`);
  if (typeof publisher !== 'string' || !PUBLIC_KEY_HEX.test(publisher)) throw invalidInput('malformed', 'announcement payload.publisher must be a 64-hex Ed25519 public key');
  const loaded = validateSpec(spec, 'announcement payload.spec');
  const keyid = keyIdOf(Buffer.from(publisher, 'hex'));
  const hint = env.signatures[0]!.keyid;
  if (hint !== '' && hint !== keyid) throw invalidInput('malformed', `signature keyid ${hint} is not the sha256 of the publisher key (${keyid})`);
  return { id: envelopeId(encodeEnvelope(env)), env, loaded, publicKey: publisher, publisher: keyid };
}

/** The signature check, on a decoded announcement. */
export function checkAnnouncementSignature(d: DecodedAnnouncement): Announcement {
  if (!verifyEnvelopeSignature(d.env, d.publicKey)) {
    throw new Bit4bitError('bad-signature', `announcement signature does not verify with the publisher key (keyid ${d.publisher})`, 'negative');
  }
  return {
    id: d.id,
    specId: d.loaded.id,
    spec: d.loaded.spec,
    publisher: d.publisher,
    publicKey: d.publicKey,
    envelope: encodeEnvelope(d.env),
  };
}

export function verifyAnnouncement(data: Uint8Array): Announcement {
  return checkAnnouncementSignature(decodeAnnouncement(data));
}
