import { verifyDecoded, type Attestation } from '../../attestation/attestation.js';
import { decodeEnvelope, encodeEnvelope, envelopeId, MAX_ENVELOPE_BYTES, type DecodedEnvelope } from '../../attestation/dsse.js';
import { isBit4bitError } from '../../errors.js';
import { GossipAction, GossipValidationError } from './errors.js';

/** What attestation validation needs to know about the node's state. */
export interface AttestationValidationContext {
  /** True when an envelope with this content address is already stored. */
  hasEnvelope(id: string): Promise<boolean>;
}

/**
 * Validates a message on `/bit4bit/attestations/1` (docs/protocols/gossip.md). Cheapest
 * checks first; the signature (the expensive one) only for envelopes we do not have.
 * Returns the verified attestation; throws GossipValidationError otherwise.
 */
export async function validateGossipAttestation(ctx: AttestationValidationContext, data: Uint8Array): Promise<Attestation> {
  // [REJECT] The message is at most MAX_ENVELOPE_BYTES long.
  if (data.length > MAX_ENVELOPE_BYTES) {
    throw new GossipValidationError(GossipAction.REJECT, 'too-large', `attestation message is ${data.length} bytes, limit ${MAX_ENVELOPE_BYTES}`);
  }

  // [REJECT] The message is a DSSE envelope in JSON.
  let env: DecodedEnvelope;
  try {
    env = decodeEnvelope(data);
  } catch (e) {
    throw new GossipValidationError(GossipAction.REJECT, 'malformed', isBit4bitError(e) ? e.message : 'undecodable envelope');
  }

  // [IGNORE] The envelope (by content address) is not already stored: nothing new.
  const id = envelopeId(encodeEnvelope(env));
  if (await ctx.hasEnvelope(id)) {
    throw new GossipValidationError(GossipAction.IGNORE, 'duplicate', `envelope ${id} is already stored`);
  }

  // [REJECT] The payload is a bit4bit rebuild statement and the keyid hint matches its key.
  // [REJECT] The Ed25519 signature over PAE verifies with the statement's signer key.
  try {
    return verifyDecoded(env);
  } catch (e) {
    if (!isBit4bitError(e)) throw e;
    throw new GossipValidationError(GossipAction.REJECT, e.code === 'bad-signature' ? 'bad-signature' : 'malformed', e.message);
  }
}
