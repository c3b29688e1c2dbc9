import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Attestation } from '../../src/attestation/attestation.js';
import type { Signer } from '../../src/keys/keys.js';
import { attest, failed, reproduced } from '../support/attestations.js';
import { dialAddress, NodeProcess, waitUntil } from '../support/node-process.js';
import { policyDocument } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf } from '../support/specs.js';
import { netnsUnavailable, Testbed } from './netns.js';

const PUBLISHER = fileURLToPath(new URL('./publisher-process.js', import.meta.url));

/** test/net/publisher-process.ts run inside a namespace: publishes the envelopes it is given. */
class Publisher {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  private readonly exited: Promise<void>;

  constructor(netns: string, opts: { listen: string; bootstrap: string[]; subscribers: number }) {
    this.child = spawn('ip', ['netns', 'exec', netns, process.execPath, PUBLISHER, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.exited = new Promise((r) => this.child.on('exit', () => r()));
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.lines.push(l));
  }

  async ready(): Promise<void> {
    await this.unlessExited(waitUntil(() => this.lines.some((l) => l.startsWith('ready ')), 40_000, 'the publisher to be ready'));
  }

  private unlessExited(p: Promise<void>): Promise<void> {
    return Promise.race([p, this.exited.then(() => Promise.reject(new Error('the publisher process exited; see its stderr above')))]);
  }

  /** Publishes and waits until every envelope went out (stored and gossiped). */
  async publish(atts: Attestation[]): Promise<void> {
    for (const a of atts) this.child.stdin!.write(`${JSON.stringify(a.envelope)}\n`);
    await this.unlessExited(waitUntil(() => atts.every((a) => this.lines.some((l) => l.startsWith(`published ${a.id} `))), 20_000, 'the publisher to publish'));
    const err = this.lines.find((l) => l.startsWith('error '));
    assert.equal(err, undefined, 'the publisher published everything');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * Issue #4, partitions with real processes on separate hosts: five `bit4bit node start`
 * processes (observers, sync every second), each in its own network namespace (see
 * netns.ts). The network splits 2|3 with a policy of 3 of 5; each side hears different
 * attestations from a publisher on its side; then the network heals and every node must
 * end with the same envelopes and the same consensus.
 */
describe('network partition: five node processes in network namespaces', function () {
  // The split is held past libp2p's own reconnect attempts (about a minute), so healing
  // relies on the node re-dialling its bootstrap peers; a shorter hold would pass even
  // without that (BIT4BIT_PARTITION_HOLD_MS=0 for a quick local run).
  const HOLD_MS = Number(process.env.BIT4BIT_PARTITION_HOLD_MS ?? 70_000);
  this.timeout(180_000 + HOLD_MS);
  const MAJORITY = [0, 1, 2];
  const MINORITY = [3, 4];
  const unavailable = netnsUnavailable();
  let root: string;
  let bed: Testbed | undefined;
  const nodes: NodeProcess[] = [];
  const publishers: Publisher[] = [];

  before(async function () {
    if (unavailable) {
      console.log(`      skipping the partition test: ${unavailable}`);
      this.skip();
    }
    root = await mkdtemp(join(tmpdir(), 'bit4bit-partition-'));
    bed = await Testbed.create(5);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const p of nodes) console.error(`---- ${p.name} log tail\n${await p.logTail(25)}`);
  });
  after(async () => {
    await Promise.all(publishers.map((p) => p.stop()));
    await Promise.all(nodes.map((p) => p.stop()));
    await bed?.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('2|3 split: the majority agrees, the minority stays pending; healed, all five hold the same envelopes and consensus', async () => {
    const b = bed!;
    const t0 = Date.now();
    const signers = makeSigners(5);
    const policyFile = join(root, 'policy.json');
    await writeFile(policyFile, JSON.stringify(policyDocument(signers, 3)));
    const [s0, s1, s2, s3, s4] = signers as [Signer, Signer, Signer, Signer, Signer];

    // What each side hears. M: the majority alone reaches quorum. m: the minority's two
    // votes, never enough. X: two votes on one side, one (+ a failure) on the other —
    // neither side can decide it, the healed network can.
    const M = [0, 1, 2, 3, 4, 5].map((i) => digestOf(`partition M ${i}`));
    const m = [0, 1, 2, 3, 4, 5].map((i) => digestOf(`partition m ${i}`));
    const X = [0, 1, 2, 3].map((i) => digestOf(`partition X ${i}`));
    const image = (spec: string) => digestOf(`image of ${spec}`);
    const majorityAtts = [...M.flatMap((s) => [s0, s1, s2].map((k) => attest(k, s, reproduced(image(s))))), ...X.flatMap((s) => [s0, s1].map((k) => attest(k, s, reproduced(image(s)))))];
    const minorityAtts = [...m.flatMap((s) => [s3, s4].map((k) => attest(k, s, reproduced(image(s))))), ...X.flatMap((s) => [attest(s3, s, reproduced(image(s))), attest(s4, s, failed())])];
    const specs = [...M, ...m, ...X];
    const idsOf = (atts: Attestation[], spec: string) => atts.filter((a) => a.spec === spec).map((a) => a.id).sort();

    // Five homes, five hosts. Node 0 first; 1-3 bootstrap from it, 4 from 0 and 3.
    for (let i = 0; i < 5; i++) {
      const home = join(root, `node${i}`);
      await mkdir(home);
      nodes.push(new NodeProcess(`node${i}`, home, b.namespaces[i]));
    }
    await Promise.all(nodes.map((n) => n.init()));
    const configure = (i: number, bootstrap: string[]) =>
      nodes[i]!.configure({
        listen: [`/ip4/${b.dataAddress(i)}/tcp/4001`],
        privateAddresses: true,
        bootstrap,
        api: { listen: `${b.mgmtAddress(i)}:8080` },
        policy: policyFile,
        build: { specs: 'none' },
        sync: { intervalSeconds: 1 },
      });
    await configure(0, []);
    await nodes[0]!.start();
    const boot = [dialAddress(await nodes[0]!.health())];
    for (const i of [1, 2, 3]) await configure(i, boot);
    await Promise.all([1, 2, 3].map((i) => nodes[i]!.start()));
    boot[3] = dialAddress(await nodes[3]!.health());
    for (const i of [1, 2]) boot[i] = dialAddress(await nodes[i]!.health());
    await configure(4, [boot[0]!, boot[3]]);
    await nodes[4]!.start();
    boot[4] = dialAddress(await nodes[4]!.health());
    await waitUntil(async () => (await Promise.all(nodes.map((n) => n.health()))).every((h) => h.peers >= 1), 30_000, 'every node to have a peer');
    const started = Date.now() - t0;

    // Split 2|3 and wait until the links across are gone (libp2p notices the dead connections).
    await b.partition(MINORITY);
    const splitT0 = Date.now();
    await waitUntil(
      async () => {
        const peers = await Promise.all(nodes.map(async (n) => (await n.health()).peers));
        return MAJORITY.every((i) => peers[i]! <= MAJORITY.length - 1) && MINORITY.every((i) => peers[i]! <= MINORITY.length - 1);
      },
      60_000,
      'the connections across the partition to drop',
      500,
    );
    const splitSettled = Date.now() - splitT0;

    // Each side hears its own attestations, from a publisher on its side.
    const pubMajority = new Publisher(b.namespaces[0]!, { listen: `/ip4/${b.dataAddress(0)}/tcp/4101`, bootstrap: MAJORITY.map((i) => boot[i]!), subscribers: MAJORITY.length });
    const pubMinority = new Publisher(b.namespaces[3]!, { listen: `/ip4/${b.dataAddress(3)}/tcp/4101`, bootstrap: MINORITY.map((i) => boot[i]!), subscribers: MINORITY.length });
    publishers.push(pubMajority, pubMinority);
    await Promise.all([pubMajority.ready(), pubMinority.ready()]);
    await Promise.all([pubMajority.publish(majorityAtts), pubMinority.publish(minorityAtts)]);
    const sideHas = async (side: number[], atts: Attestation[]) => {
      for (const i of side) for (const s of specs) if ((await nodes[i]!.envelopeIds(s)).join() !== idsOf(atts, s).join()) return false;
      return true;
    };
    await waitUntil(() => sideHas(MAJORITY, majorityAtts), 30_000, 'the majority side to hold its attestations (and only those)');
    await waitUntil(() => sideHas(MINORITY, minorityAtts), 30_000, 'the minority side to hold its attestations (and only those)');
    for (const i of MAJORITY) {
      for (const s of M) assert.equal((await nodes[i]!.consensus(s)).state, 'agreed', `node${i}: M agreed during the partition`);
      for (const s of [...m, ...X]) assert.equal((await nodes[i]!.consensus(s)).state, 'pending', `node${i}: m, X pending`);
    }
    for (const i of MINORITY) for (const s of specs) assert.equal((await nodes[i]!.consensus(s)).state, 'pending', `node${i}: everything pending on the minority side`);
    // Not a word crossed: the sides hold disjoint envelope sets.
    assert.ok(await sideHas(MAJORITY, majorityAtts));
    await Promise.all(publishers.map((p) => p.stop()));
    // A soak knob: hold the partition longer (libp2p's own reconnect attempts give up after
    // about a minute; the nodes' bootstrap re-dial must heal the network even then).
    if (HOLD_MS > 0) await new Promise((r) => setTimeout(r, HOLD_MS));

    // Heal: every node ends with every envelope and the same consensus.
    await b.heal();
    const healT0 = Date.now();
    const all = [...majorityAtts, ...minorityAtts];
    await waitUntil(() => sideHas([0, 1, 2, 3, 4], all), 60_000, 'all five nodes to hold every envelope', 250);
    const converged = Date.now() - healT0;
    for (const s of specs) {
      const [c0, ...rest] = await Promise.all(nodes.map((n) => n.consensus(s)));
      for (const c of rest) assert.deepEqual(c, c0, `same consensus for ${s} on every node`);
      const expected = M.includes(s) || X.includes(s) ? 'agreed' : 'pending';
      assert.equal(c0!.state, expected, `${s}: ${expected}`);
      if (expected === 'agreed') assert.equal(c0!.digest, image(s));
    }
    for (const i of MINORITY) assert.ok((await nodes[i]!.metric('bit4bit_sync_sessions_total', 'result="ok"')) >= 1);
    console.log(
      `      ${nodes.length} nodes up in ${started} ms; split settled in ${splitSettled} ms; ${majorityAtts.length} + ${minorityAtts.length} envelopes on the two sides; ` +
        `converged ${converged} ms after healing; total ${Date.now() - t0} ms`,
    );
  });
});
