import { isBit4bitError } from '../../errors.js';
import { checkAnnouncementSignature, decodeAnnouncement, type Announcement, type DecodedAnnouncement } from '../announcement.js';
import { MAX_ANNOUNCEMENT_BYTES } from '../protocols.js';
import { GossipAction, GossipValidationError } from './errors.js';

export interface SpecValidationContext {
  /** True when an announcement with this content address is already stored. */
  hasAnnouncement(id: string): Promise<boolean>;
}

/**
 * Validates a message on `/bit4bit/specs/1`: a signed spec announcement
 * (docs/protocols/gossip.md). Returns it verified; throws GossipValidationError otherwise.
 */
export async function validateGossipSpec(ctx: SpecValidationContext, data: Uint8Array): Promise<Announcement> {
  // [REJECT] The message is at most MAX_ANNOUNCEMENT_BYTES long.
  if (data.length > MAX_ANNOUNCEMENT_BYTES) {
    throw new GossipValidationError(GossipAction.REJECT, 'too-large', `announcement is ${data.length} bytes, limit ${MAX_ANNOUNCEMENT_BYTES}`);
  }

  // [REJECT] The message is a DSSE envelope of type spec-announcement with one signature.
  // [REJECT] Its payload is {publisher, spec} and spec is a valid bit4bit/v1 BuildSpec.
  // [REJECT] The keyid hint, when present, is the sha256 of the publisher key.
  let decoded: DecodedAnnouncement;
  try {
    decoded = decodeAnnouncement(data);
  } catch (e) {
    throw new GossipValidationError(GossipAction.REJECT, 'malformed', isBit4bitError(e) ? e.message : 'undecodable announcement');
  }

  // [IGNORE] The announcement (by content address) is not already stored.
  if (await ctx.hasAnnouncement(decoded.id)) {
    throw new GossipValidationError(GossipAction.IGNORE, 'duplicate', `announcement ${decoded.id} is already stored`);
  }

  // [REJECT] The Ed25519 signature over PAE verifies with the publisher key.
  try {
    return checkAnnouncementSignature(decoded);
  } catch (e) {
    if (!isBit4bitError(e)) throw e;
    throw new GossipValidationError(GossipAction.REJECT, 'bad-signature', e.message);
  }
}
