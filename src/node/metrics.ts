import { Counter, Gauge, Registry } from 'prom-client';
import type { ConsensusState } from '../consensus/consensus.js';

/**
 * The node's Prometheus metrics, on a registry of its own (several nodes can share a
 * process in tests and benchmarks). Gauges that mirror state are read at scrape time.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly gossip: Counter<'topic' | 'action'>;
  readonly gossipCopies: Counter<'topic'>;
  readonly gossipBytes: Counter<'topic'>;
  readonly builds: Counter<'outcome'>;
  readonly syncs: Counter<'result'>;
  readonly blobsServed: Counter<'found'>;

  constructor(read: { peers(): number; queueDepth(): number; buildsRunning(): number; consensusStates(): Map<string, ConsensusState> }) {
    const registers = [this.registry];
    this.gossip = new Counter({ name: 'bit4bit_gossip_messages_total', help: 'Gossip messages validated, by topic and result (ACCEPT/IGNORE/REJECT)', labelNames: ['topic', 'action'], registers });
    this.gossipCopies = new Counter({ name: 'bit4bit_gossip_copies_total', help: 'Gossip message copies received or published, duplicates included', labelNames: ['topic'], registers });
    this.gossipBytes = new Counter({ name: 'bit4bit_gossip_bytes_total', help: 'Bytes of gossip message data received or published, duplicates included', labelNames: ['topic'], registers });
    this.builds = new Counter({ name: 'bit4bit_builds_total', help: 'Rebuilds finished and attested, by outcome', labelNames: ['outcome'], registers });
    this.syncs = new Counter({ name: 'bit4bit_sync_sessions_total', help: 'Catch-up sync sessions started by this node, by result', labelNames: ['result'], registers });
    this.blobsServed = new Counter({ name: 'bit4bit_blob_requests_served_total', help: 'Blob exchange requests answered, by whether the blob was here', labelNames: ['found'], registers });
    new Gauge({ name: 'bit4bit_peers', help: 'Connected peers', registers, collect() { this.set(read.peers()); } });
    new Gauge({ name: 'bit4bit_build_queue_depth', help: 'Builds waiting in the queue', registers, collect() { this.set(read.queueDepth()); } });
    new Gauge({ name: 'bit4bit_builds_running', help: 'Builds running now', registers, collect() { this.set(read.buildsRunning()); } });
    new Gauge({
      name: 'bit4bit_specs',
      help: 'Specs with attestations, by consensus state under this node\'s policy',
      labelNames: ['state'],
      registers,
      collect() {
        const counts: Record<ConsensusState, number> = { pending: 0, agreed: 0, disputed: 0, conflict: 0 };
        for (const s of read.consensusStates().values()) counts[s]++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }
}
