import type { Message } from '@libp2p/gossipsub';
import type { PeerId } from '@libp2p/interface';
import type { Attestation } from '../attestation/attestation.js';
import type { Announcement } from './announcement.js';
import { pubsubOf, type NetNode } from './libp2p.js';
import { ATTESTATION_TOPIC, SPEC_TOPIC } from './protocols.js';
import { GossipAction, GossipValidationError, toTopicValidatorResult } from './validation/errors.js';

/** What gossip hands over once a message is valid; a throw from here means IGNORE (our problem, not the peer's). */
export interface GossipHandlers {
  validateAttestation(data: Uint8Array): Promise<Attestation>;
  validateAnnouncement(data: Uint8Array): Promise<Announcement>;
  onAttestation(att: Attestation, from: string): Promise<void>;
  onAnnouncement(ann: Announcement, from: string): Promise<void>;
  /** Every validation outcome, for metrics and logs. */
  onResult?(topic: string, action: GossipAction, code: string, from: string, reason?: string): void;
  /** A message we could not process for a local reason (e.g. the store failed). */
  onLocalError?(topic: string, e: Error): void;
}

/**
 * Gossip on the two bit4bit topics (docs/protocols/gossip.md): validators decide
 * ACCEPT/IGNORE/REJECT before gossipsub forwards anything, and an accepted message is
 * stored before it is forwarded, so a node never relays what it would not keep.
 */
export class Gossip {
  constructor(
    private readonly net: NetNode,
    private readonly handlers: GossipHandlers,
  ) {}

  start(): void {
    const ps = pubsubOf(this.net);
    ps.topicValidators.set(ATTESTATION_TOPIC, (from, msg) =>
      this.validate(ATTESTATION_TOPIC, from, msg, async (data) => {
        const att = await this.handlers.validateAttestation(data);
        return () => this.handlers.onAttestation(att, from.toString());
      }),
    );
    ps.topicValidators.set(SPEC_TOPIC, (from, msg) =>
      this.validate(SPEC_TOPIC, from, msg, async (data) => {
        const ann = await this.handlers.validateAnnouncement(data);
        return () => this.handlers.onAnnouncement(ann, from.toString());
      }),
    );
    ps.subscribe(ATTESTATION_TOPIC);
    ps.subscribe(SPEC_TOPIC);
  }

  stop(): void {
    const ps = pubsubOf(this.net);
    for (const topic of [ATTESTATION_TOPIC, SPEC_TOPIC]) {
      ps.unsubscribe(topic);
      ps.topicValidators.delete(topic);
    }
  }

  async publishAttestation(att: Attestation): Promise<number> {
    const result = await pubsubOf(this.net).publish(ATTESTATION_TOPIC, Buffer.from(JSON.stringify(att.envelope)));
    return result.recipients.length;
  }

  async publishAnnouncement(ann: Announcement): Promise<number> {
    const result = await pubsubOf(this.net).publish(SPEC_TOPIC, Buffer.from(JSON.stringify(ann.envelope)));
    return result.recipients.length;
  }

  private async validate(topic: string, from: PeerId, msg: Message, check: (data: Uint8Array) => Promise<() => Promise<void>>) {
    let accept: () => Promise<void>;
    try {
      accept = await check(msg.data);
    } catch (e) {
      if (!(e instanceof GossipValidationError)) {
        this.handlers.onLocalError?.(topic, e as Error);
        return toTopicValidatorResult(GossipAction.IGNORE);
      }
      this.handlers.onResult?.(topic, e.action, e.code, from.toString(), e.message);
      return toTopicValidatorResult(e.action);
    }
    try {
      await accept();
    } catch (e) {
      this.handlers.onLocalError?.(topic, e as Error);
      return toTopicValidatorResult(GossipAction.IGNORE);
    }
    this.handlers.onResult?.(topic, GossipAction.ACCEPT, 'valid', from.toString());
    return toTopicValidatorResult(GossipAction.ACCEPT);
  }
}
