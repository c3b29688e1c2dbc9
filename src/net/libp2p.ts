import { gossipsub, type GossipSub, type TopicValidatorResult } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { identify, type Identify } from '@libp2p/identify';
import type { PeerInfo, PrivateKey } from '@libp2p/interface';
import { kadDHT, removePrivateAddressesMapper, type KadDHT } from '@libp2p/kad-dht';
import { noise } from '@libp2p/noise';
import { ping, type Ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@libp2p/yamux';
import { createLibp2p, type Libp2p } from 'libp2p';
import { createHash } from 'node:crypto';
import { DHT_PROTOCOL, MAX_GOSSIP_DATA_BYTES, TOPICS } from './protocols.js';

/** gossipsub methods that exist on the concrete class but not on its exported interface. */
export interface GossipSubScoring {
  getScore(peerId: string): number;
  getMeshPeers(topic: string): string[];
  reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void;
}
export type PubSub = GossipSub & GossipSubScoring;

// A `type`, not an interface: libp2p's ServiceMap needs an index signature.
export type NetServices = {
  identify: Identify;
  ping: Ping;
  dht: KadDHT;
  pubsub: GossipSub;
};
export type NetNode = Libp2p<NetServices>;

export interface NetInit {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/0.0.0.0/tcp/4001`. */
  listen: string[];
  /** Multiaddrs to advertise instead of the listen addresses (public address behind NAT). */
  announce?: string[];
  /**
   * Keep private and loopback addresses in DHT peer records. Needed for a testnet on
   * one machine or a LAN; off on the public network, where such addresses are useless
   * to others and would point them at someone's internal network.
   */
  privateAddresses?: boolean;
  /** Exempt these multiaddr prefixes from connection limits (tests: `/ip4/127.0.0.0/ipcidr/8`). */
  allow?: string[];
  /** gossipsub heartbeat; 1000 ms in production, 100 ms keeps tests fast. */
  heartbeatMs?: number;
  /** Called for every gossip message copy received or published, duplicates included (metrics). */
  onGossipMessage?: (topic: string, bytes: number) => void;
}

/** Content-addressed message id: sha256 of the data, so the same bytes are one message whoever relays them. */
function messageId(msg: { data: Uint8Array }): Uint8Array {
  return createHash('sha256').update(msg.data).digest();
}

// gossipsub computes the id of every copy it receives (to drop the ones it has seen),
// which makes the id function the one place that sees duplicates too.
function countingMessageId(count: NetInit['onGossipMessage']) {
  if (!count) return messageId;
  return (msg: { topic: string; data: Uint8Array }) => {
    count(msg.topic, msg.data.length);
    return messageId(msg);
  };
}

// Keep only the peer's addresses, whatever their scope: for loopback/LAN networks.
const keepAllAddresses = (peer: PeerInfo): PeerInfo => peer;

/**
 * Creates (does not start) the libp2p host: TCP + Noise + Yamux, identify, ping,
 * kad-dht (server mode, private protocol id) and gossipsub (DESIGN §5). Messages carry
 * no libp2p signature (StrictNoSign): what they carry is signed inside (DSSE), and the
 * id is the hash of the content.
 */
export async function createNetNode(init: NetInit): Promise<NetNode> {
  // P4 (invalid deliveries) is the penalty that matters: score -= 10 × count², so a
  // few REJECTs graylist a peer. P3 (mesh delivery rate) is off: quiet topics are normal.
  const topicParams = createTopicScoreParams({
    topicWeight: 1,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
  });
  const local = init.privateAddresses === true;
  return createLibp2p({
    start: false,
    privateKey: init.privateKey,
    addresses: { listen: init.listen, ...(init.announce?.length && { announce: init.announce }) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { allow: init.allow ?? [] },
    services: {
      identify: identify(),
      // kad-dht pings peers before evicting them from buckets; the default stream caps are too low.
      ping: ping({ maxOutboundStreams: 64, maxInboundStreams: 64 }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: local ? keepAllAddresses : removePrivateAddressesMapper,
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: countingMessageId(init.onGossipMessage),
        heartbeatInterval: init.heartbeatMs ?? 1000,
        allowedTopics: [...TOPICS],
        maxInboundDataLength: MAX_GOSSIP_DATA_BYTES,
        // Our own attestation must go out even if the mesh is momentarily empty; sync delivers it later.
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        // Publish to the mesh (D peers) like any relay, not to every topic peer: flood
        // publishing makes each node's traffic grow with the network instead of the mesh
        // degree, and a burst of simultaneous attestations then swamps every node.
        floodPublish: false,
        scoreParams: {
          topics: Object.fromEntries(TOPICS.map((t) => [t, topicParams])),
          // P6 punishes many peers behind one IP: right on the internet, wrong on one test host.
          ...(local && { IPColocationFactorWeight: 0 }),
        },
        scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80 },
      }),
    },
  });
}

export function pubsubOf(node: NetNode): PubSub {
  return node.services.pubsub as PubSub;
}
