import '../src/polyfill.js';
import { performance } from 'node:perf_hooks';
import { createAttestation } from '../src/attestation/attestation.js';
import { ATTESTATION_TOPIC } from '../src/net/protocols.js';
import type { VerifierNode } from '../src/node/node.js';
import { connect, digestOf, newSigner, policyOf, specNamed, startNode, stopAll, waitFor, type ClusterNode } from '../test/net/cluster.js';

/**
 * Time to quorum over real libp2p on loopback, all nodes in this one process (2 cores:
 * the figures include CPU contention between nodes). For each N, every node signs and
 * publishes its attestation for a fresh spec, with a majority threshold; we time from
 * the first publish until every node reports `agreed`, and count the gossip copies and
 * bytes each node received per attestation (duplicates included).
 *
 *   node dist/bench/quorum.js [N ...] [--rounds R] [--heartbeat MS] [--sync SECONDS]
 *
 * The idle event-loop figure shows how much of one core background protocol work
 * (DHT, heartbeats) takes before any attestation; with every node in one process the
 * latency is bounded by the whole network's CPU work, which real nodes spread over
 * their own machines. The single-attestation figure (one node publishes, time until
 * every node stored it) is the propagation a node sees when builds finish at
 * different times, as they do in a real network.
 */
const args = process.argv.slice(2);
const roundsAt = args.indexOf('--rounds');
const ROUNDS = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 10;
const hbAt = args.indexOf('--heartbeat');
const HEARTBEAT = hbAt >= 0 ? Number(args.splice(hbAt, 2)[1]) : 1000;
const syAt = args.indexOf("--sync");
const SYNC_S = syAt >= 0 ? Number(args.splice(syAt, 2)[1]) : 2;
const SIZES = args.length ? args.map(Number) : [5, 10, 25, 50];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function counter(node: VerifierNode, which: 'gossipCopies' | 'gossipBytes'): Promise<number> {
  return (await node.metrics[which].get()).values.filter((v) => v.labels.topic === ATTESTATION_TOPIC).reduce((a, v) => a + v.value, 0);
}

async function run(n: number): Promise<void> {
  const signers = Array.from({ length: n }, newSigner);
  const threshold = Math.floor(n / 2) + 1;
  const policy = policyOf(signers, threshold);
  const agreedAt = new Map<string, number[]>();
  const cluster: ClusterNode[] = [];
  const setupStart = performance.now();
  try {
    const firstSeenAt = new Map<string, number[]>();
    const onConsensusChange = (r: { spec: string; state: string }) => {
      if (r.state === 'agreed') agreedAt.get(r.spec)?.push(performance.now());
      // A node's first attestation for a spec moves it from nothing to `pending`.
      if (r.state === 'pending') firstSeenAt.get(r.spec)?.push(performance.now());
    };
    // Gossip is best-effort (a message relayed before a link is grafted is lost); sync every 2 s completes it.
    for (const signer of signers) cluster.push(await startNode(policy, { signer, onConsensusChange, config: { sync: { intervalSeconds: SYNC_S } }, heartbeatMs: HEARTBEAT }));
    await connect(cluster.map((c) => c.node));
    await new Promise((r) => setTimeout(r, Math.min(10_000, 200 * n))); // let the DHT warm-up calm down
    const setupMs = performance.now() - setupStart;
    // How busy the process is with background protocol work (DHT, heartbeats) before any attestation.
    const elu0 = performance.eventLoopUtilization();
    await new Promise((r) => setTimeout(r, 2000));
    const idleUtilisation = performance.eventLoopUtilization(elu0).utilization;

    const latencies: number[] = [];
    const copies0 = await Promise.all(cluster.map((c) => counter(c.node, 'gossipCopies')));
    const bytes0 = await Promise.all(cluster.map((c) => counter(c.node, 'gossipBytes')));
    for (let round = 0; round < ROUNDS; round++) {
      const loaded = specNamed(`bench/quorum-${n}-${round}`);
      const now = new Date();
      const atts = cluster.map((c) => createAttestation({ specId: loaded.id, spec: loaded.spec, result: { outcome: 'reproduced', digest: digestOf('bench') }, startedOn: now, finishedOn: now }, c.signer));
      agreedAt.set(loaded.id, []);
      const t0 = performance.now();
      await Promise.all(cluster.map((c, i) => c.node.publish(atts[i]!)));
      await waitFor(() => agreedAt.get(loaded.id)!.length >= n, 60_000, `all ${n} nodes to agree`);
      latencies.push(Math.max(...agreedAt.get(loaded.id)!) - t0);
      await waitFor(async () => (await Promise.all(cluster.map(async (c) => (await c.node.store.votes(loaded.id)).length))).every((v) => v === n), 30_000, 'all envelopes everywhere');
    }
    const copies = (await Promise.all(cluster.map((c) => counter(c.node, 'gossipCopies')))).map((v, i) => v - copies0[i]!);
    const bytes = (await Promise.all(cluster.map((c) => counter(c.node, 'gossipBytes')))).map((v, i) => v - bytes0[i]!);
    // One attestation on its own (builds finish at different times in a real network):
    // how long until every node has stored it.
    const spread: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const loaded = specNamed(`bench/spread-${n}-${round}`);
      const now = new Date();
      const from = cluster[round % n]!;
      const att = createAttestation({ specId: loaded.id, spec: loaded.spec, result: { outcome: 'reproduced', digest: digestOf('bench') }, startedOn: now, finishedOn: now }, from.signer);
      firstSeenAt.set(loaded.id, []);
      const t0 = performance.now();
      await from.node.publish(att);
      await waitFor(() => firstSeenAt.get(loaded.id)!.length >= n, 60_000, `one attestation at all ${n} nodes`);
      spread.push(Math.max(...firstSeenAt.get(loaded.id)!) - t0);
    }
    spread.sort((a, b) => a - b);
    const perAtt = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length / (ROUNDS * n);
    latencies.sort((a, b) => a - b);
    console.log(
      `N=${String(n).padStart(2)} k=${String(threshold).padStart(2)}  all agreed after first publish: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms` +
        ` | one attestation at every node: p50 ${percentile(spread, 50).toFixed(0)} ms, p99 ${percentile(spread, 99).toFixed(0)} ms` +
        `${unhandled ? ` (${unhandled} background dial errors)` : ''}  | per node per attestation: ${perAtt(copies).toFixed(2)} copies, ${perAtt(bytes).toFixed(0)} bytes  | idle event-loop use ${(idleUtilisation * 100).toFixed(0)}% | setup ${(setupMs / 1000).toFixed(1)} s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
    );
  } finally {
    await stopAll(cluster);
  }
}

// js-libp2p can leave a failed background dial's rejection unhandled under heavy load;
// count it rather than die (the nodes recover by redialling).
let unhandled = 0;
process.on('unhandledRejection', () => void unhandled++);
console.log(`bit4bit quorum benchmark: ${ROUNDS} rounds per N; every node attests each round; gossipsub heartbeat ${HEARTBEAT} ms; loopback, one process`);
for (const n of SIZES) await run(n);
process.exit(0);
