import '../src/polyfill.js';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { multiaddr } from '@multiformats/multiaddr';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createAttestation } from '../src/attestation/attestation.js';
import { generateSigningKeyPem, signerFromPem } from '../src/keys/keys.js';
import { ATTESTATION_TOPIC } from '../src/net/protocols.js';
import type { VerifierNode } from '../src/node/node.js';
import { percentile } from './fixtures.js';
import { digestOf, policyOf, specNamed, startNode, stopAll, waitFor, waitForMesh, type ClusterNode } from '../test/net/cluster.js';

/**
 * Time to quorum over real libp2p on loopback. For each N, every node signs and
 * publishes its attestation for a fresh spec, with a majority threshold; we time from
 * the first publish until every node reports `agreed`, and count the gossip copies and
 * bytes each node received per attestation (duplicates included). A second measure
 * publishes one attestation on its own (builds finish at different times in a real
 * network) and times until every node has stored it.
 *
 *   node dist/bench/quorum.js [N ...] [--rounds R] [--workers W] [--heartbeat MS] [--sync SECONDS] [--profile DIR] [--verbose]
 *
 * The nodes are spread over W worker threads (default: one per core), each its own
 * event loop, talking TCP over loopback like separate hosts; --workers 1 puts them all
 * on one event loop. Every node still shares this machine's cores, so the burst figure
 * (all N attest at once: N² deliveries network-wide) is bounded by the machine's CPU,
 * not by the protocol; the idle event-loop figure shows how much background work
 * (DHT, heartbeats, sync) takes before any attestation. "ms busy" is the workers'
 * event-loop busy time during the burst rounds over the N×N deliveries: about what one
 * node spends per attestation (a node on its own machine handles a burst of N in about
 * N times that; at small N the fixed background and polling work dominates it).
 * --profile writes a V8 CPU profile per worker of the timed rounds; --verbose prints
 * when the nodes agreed in each round. With the default 10 rounds, p99 is the slowest round.
 */

/** What the main thread asks a worker; each command gets one reply with the same `seq`. */
type Command =
  | { op: 'start'; pems: string[]; mine: number[]; threshold: number; heartbeatMs: number; syncSeconds: number }
  | { op: 'dial'; pairs: [local: number, address: string][] }
  | { op: 'mesh'; timeoutMs: number }
  | { op: 'utilisation'; ms: number }
  | { op: 'busy' }
  | { op: 'counters' }
  | { op: 'publish'; spec: string; only?: number }
  | { op: 'votes'; spec: string }
  | { op: 'profileStart' }
  | { op: 'profileStop'; file: string }
  | { op: 'stop' };

/** Worker → main: a reply, or a consensus event from one of its nodes. */
type Reply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: string };
type ConsensusEvent = { event: 'consensus'; spec: string; state: string; at: number };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across threads. */
const now = () => performance.timeOrigin + performance.now();

// ---- main thread ------------------------------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const verboseAt = args.indexOf('--verbose');
  const verbose = verboseAt >= 0 && args.splice(verboseAt, 1).length > 0;
  const profileAt = args.indexOf('--profile');
  const profileDir = profileAt >= 0 ? args.splice(profileAt, 2)[1] : undefined;
  const rounds = option('--rounds', 10);
  const workers = option('--workers', availableParallelism());
  const heartbeatMs = option('--heartbeat', 1000);
  const syncSeconds = option('--sync', 3600);
  const sizes = args.length ? args.map(Number) : [5, 10, 25, 50];
  if (![rounds, workers, heartbeatMs, syncSeconds, ...sizes].every((v) => Number.isInteger(v) && v > 0)) {
    console.error('usage: node dist/bench/quorum.js [N ...] [--rounds R] [--workers W] [--heartbeat MS] [--sync SECONDS] [--profile DIR] [--verbose] (positive integers)');
    process.exit(2);
  }
  console.log(
    `bit4bit quorum benchmark: ${rounds} rounds per N; every node attests each round; ${workers} worker thread(s) on ${availableParallelism()} cores;` +
      ` gossipsub heartbeat ${heartbeatMs} ms; sync every ${syncSeconds} s; loopback`,
  );
  for (const n of sizes) await run(n, { rounds, workers: Math.min(workers, n), heartbeatMs, syncSeconds, profileDir, verbose });
  process.exit(0);
}

interface RunOptions {
  rounds: number;
  workers: number;
  heartbeatMs: number;
  syncSeconds: number;
  profileDir: string | undefined;
  verbose: boolean;
}

/** One worker thread hosting some of the nodes; `call` sends a command and awaits its reply. */
class NodeHost {
  private readonly worker = new Worker(new URL(import.meta.url));
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private seq = 0;

  constructor(
    readonly mine: number[],
    onEvent: (e: ConsensusEvent) => void,
  ) {
    this.worker.on('message', (m: Reply | ConsensusEvent) => {
      if ('event' in m) return onEvent(m);
      const w = this.waiting.get(m.seq)!;
      this.waiting.delete(m.seq);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(m.error));
    });
    this.worker.on('error', (e) => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    });
  }

  call<T>(command: Command): Promise<T> {
    const seq = ++this.seq;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
    this.worker.postMessage({ seq, command });
    return promise;
  }

  async close(): Promise<void> {
    await this.call({ op: 'stop' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

async function run(n: number, opts: RunOptions): Promise<void> {
  const threshold = Math.floor(n / 2) + 1;
  const pems = Array.from({ length: n }, () => generateSigningKeyPem());
  // Per spec: when each node first saw an attestation (pending) and reached agreed.
  const seen = new Map<string, { pending: number[]; agreed: number[] }>();
  const onEvent = (e: ConsensusEvent) => {
    const s = seen.get(e.spec);
    if (e.state === 'agreed') s?.agreed.push(e.at);
    if (e.state === 'pending') s?.pending.push(e.at);
  };
  // Node i lives on worker i mod W.
  const hosts = Array.from({ length: opts.workers }, (_, w) => new NodeHost(Array.from({ length: n }, (_, i) => i).filter((i) => i % opts.workers === w), onEvent));
  const hostOf = (i: number) => hosts[i % opts.workers]!;
  const localIndex = (i: number) => hostOf(i).mine.indexOf(i);
  const all = <T>(command: (h: NodeHost) => Command) => Promise.all(hosts.map((h) => h.call<T>(command(h))));
  try {
    const setupStart = performance.now();
    const addresses: string[] = new Array(n);
    for (const [w, addrs] of (await all<string[]>((h) => ({ op: 'start', pems, mine: h.mine, threshold, heartbeatMs: opts.heartbeatMs, syncSeconds: opts.syncSeconds }))).entries()) {
      addrs.forEach((a, k) => (addresses[hosts[w]!.mine[k]!] = a));
    }
    // Node i dials i-1 and 0: a connected graph the DHT fills in. One dial at a time per
    // worker: dozens of simultaneous Noise handshakes on one event loop starve it.
    const pairs = new Map<NodeHost, [number, string][]>(hosts.map((h) => [h, []]));
    for (let i = 1; i < n; i++) {
      pairs.get(hostOf(i))!.push([localIndex(i), addresses[i - 1]!]);
      if (i > 1) pairs.get(hostOf(i))!.push([localIndex(i), addresses[0]!]);
    }
    await all((h) => ({ op: 'dial', pairs: pairs.get(h)! }));
    await all((h) => ({ op: 'mesh', timeoutMs: 15_000 + 500 * n }));
    await new Promise((r) => setTimeout(r, Math.min(10_000, 200 * n))); // let the DHT warm-up calm down
    const setupMs = performance.now() - setupStart;
    const idle = await all<number>(() => ({ op: 'utilisation', ms: 2000 }));

    const sumCounters = async () => (await all<[number, number]>(() => ({ op: 'counters' }))).reduce(([c, b], [c2, b2]) => [c + c2, b + b2], [0, 0]);
    const before = await sumCounters();
    const busy = async () => (await all<number>(() => ({ op: 'busy' }))).reduce((a, b) => a + b, 0);
    const busyBefore = await busy();
    if (opts.profileDir) await all(() => ({ op: 'profileStart' }));
    const latencies: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const spec = `bench/quorum-${n}-${round}`;
      const id = specNamed(spec).id;
      seen.set(id, { pending: [], agreed: [] });
      const starts = await all<number>(() => ({ op: 'publish', spec }));
      await waitFor(() => seen.get(id)!.agreed.length >= n, 120_000, `all ${n} nodes to agree`);
      latencies.push(Math.max(...seen.get(id)!.agreed) - Math.min(...starts));
      if (opts.verbose) {
        const at = seen.get(id)!.agreed.map((t) => t - Math.min(...starts)).sort((x, y) => x - y);
        console.log(`  round ${round}: nodes agreed after (ms, every 5th node and the last): ${at.filter((_, i) => i % 5 === 0 || i === at.length - 1).map((t) => t.toFixed(0)).join(' ')}`);
      }
      // Every envelope everywhere before the next round, so rounds do not overlap.
      await waitFor(async () => (await all<number>(() => ({ op: 'votes', spec: id }))).every((v) => v === n), 60_000, 'all envelopes everywhere');
    }
    const after = await sumCounters();
    const busyMs = (await busy()) - busyBefore;
    const spread: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const spec = `bench/spread-${n}-${round}`;
      const id = specNamed(spec).id;
      seen.set(id, { pending: [], agreed: [] });
      const from = round % n;
      const start = await hostOf(from).call<number>({ op: 'publish', spec, only: localIndex(from) });
      await waitFor(() => seen.get(id)!.pending.length >= n, 60_000, `one attestation at all ${n} nodes`);
      spread.push(Math.max(...seen.get(id)!.pending) - start);
    }
    if (opts.profileDir) await all((h) => ({ op: 'profileStop', file: join(opts.profileDir!, `quorum-${n}-worker${hosts.indexOf(h)}.cpuprofile`) }));

    latencies.sort((a, b) => a - b);
    spread.sort((a, b) => a - b);
    const perAttestation = (total: number) => total / (opts.rounds * n * n);
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    console.log(
      `N=${String(n).padStart(2)} k=${String(threshold).padStart(2)}  all agreed after first publish: p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}` +
        ` | one attestation at every node: p50 ${ms(percentile(spread, 50))}, p99 ${ms(percentile(spread, 99))}` +
        ` | per node per attestation: ${perAttestation(after[0] - before[0]).toFixed(2)} copies, ${perAttestation(after[1] - before[1]).toFixed(0)} bytes, ${perAttestation(busyMs).toFixed(2)} ms busy` +
        ` | idle event-loop use ${idle.map((u) => `${(u * 100).toFixed(0)}%`).join('/')} | setup ${(setupMs / 1000).toFixed(1)} s`,
    );
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
}

// ---- worker thread ----------------------------------------------------------------

function worker(): void {
  const port = parentPort!;
  let cluster: ClusterNode[] = [];
  let profiler: Session | undefined;
  // js-libp2p can leave a failed background dial's rejection unhandled under heavy load; the nodes recover by redialling.
  process.on('unhandledRejection', () => undefined);

  const counter = async (node: VerifierNode, which: 'gossipCopies' | 'gossipBytes') =>
    (await node.metrics[which].get()).values.filter((v) => v.labels.topic === ATTESTATION_TOPIC).reduce((a, v) => a + v.value, 0);

  const handlers: { [K in Command['op']]: (c: Extract<Command, { op: K }>) => Promise<unknown> } = {
    async start({ pems, mine, threshold, heartbeatMs, syncSeconds }) {
      const signers = pems.map((pem) => signerFromPem(pem));
      const policy = policyOf(signers, threshold);
      const onConsensusChange = (r: { spec: string; state: string }) => port.postMessage({ event: 'consensus', spec: r.spec, state: r.state, at: now() } satisfies ConsensusEvent);
      for (const i of mine) cluster.push(await startNode(policy, { signer: signers[i]!, onConsensusChange, config: { sync: { intervalSeconds: syncSeconds } }, heartbeatMs }));
      return cluster.map((c) => c.node.addresses()[0]!);
    },
    async dial({ pairs }) {
      for (const [local, address] of pairs) {
        for (let attempt = 0; ; attempt++) {
          try {
            await cluster[local]!.node.net.dial(multiaddr(address), { signal: AbortSignal.timeout(10_000) });
            break;
          } catch (e) {
            if (attempt >= 2) throw e;
          }
        }
      }
    },
    async mesh({ timeoutMs }) {
      await waitForMesh(cluster.map((c) => c.node), timeoutMs);
    },
    async utilisation({ ms }) {
      const start = performance.eventLoopUtilization();
      await new Promise((r) => setTimeout(r, ms));
      return performance.eventLoopUtilization(start).utilization;
    },
    async busy() {
      return performance.eventLoopUtilization().active;
    },
    async counters() {
      const sum = async (which: 'gossipCopies' | 'gossipBytes') => (await Promise.all(cluster.map((c) => counter(c.node, which)))).reduce((a, b) => a + b, 0);
      return [await sum('gossipCopies'), await sum('gossipBytes')];
    },
    async publish({ spec, only }) {
      const loaded = specNamed(spec);
      const at = new Date();
      const publishers = only === undefined ? cluster : [cluster[only]!];
      const atts = publishers.map((c) => createAttestation({ specId: loaded.id, spec: loaded.spec, result: { outcome: 'reproduced', digest: digestOf('bench') }, startedOn: at, finishedOn: at }, c.signer));
      const start = now();
      await Promise.all(publishers.map((c, i) => c.node.publish(atts[i]!)));
      return start;
    },
    async votes({ spec }) {
      return Math.min(...(await Promise.all(cluster.map(async (c) => (await c.node.store.votes(spec)).length))));
    },
    async profileStart() {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    },
    async profileStop({ file }) {
      const { profile } = await profiler!.post('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      profiler!.disconnect();
      profiler = undefined;
    },
    async stop() {
      await stopAll(cluster);
      cluster = [];
    },
  };

  port.on('message', ({ seq, command }: { seq: number; command: Command }) => {
    const handler = handlers[command.op] as (c: Command) => Promise<unknown>;
    handler(command).then(
      (value) => port.postMessage({ seq, ok: true, value } satisfies Reply),
      (e: Error) => port.postMessage({ seq, ok: false, error: e.stack ?? String(e) } satisfies Reply),
    );
  });
}

if (isMainThread) await main();
else worker();
