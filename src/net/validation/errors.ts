import { TopicValidatorResult } from '@libp2p/gossipsub';

/**
 * What gossip validation decides about a message (gossipsub v1.1):
 * ACCEPT: deliver and forward. IGNORE: drop, no penalty (not the sender's fault, or
 * nothing new). REJECT: drop and count an invalid delivery against the peer that
 * sent it (score P4), which soon stops it from reaching us.
 */
export enum GossipAction {
  ACCEPT = 'ACCEPT',
  IGNORE = 'IGNORE',
  REJECT = 'REJECT',
}

export class GossipValidationError extends Error {
  override readonly name = 'GossipValidationError';
  constructor(
    readonly action: GossipAction.IGNORE | GossipAction.REJECT,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function toTopicValidatorResult(action: GossipAction): TopicValidatorResult {
  switch (action) {
    case GossipAction.ACCEPT:
      return TopicValidatorResult.Accept;
    case GossipAction.IGNORE:
      return TopicValidatorResult.Ignore;
    case GossipAction.REJECT:
      return TopicValidatorResult.Reject;
  }
}
