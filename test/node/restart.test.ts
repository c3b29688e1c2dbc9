import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attestation } from '../../src/attestation/attestation.js';
import { pubsubOf } from '../../src/net/libp2p.js';
import { ATTESTATION_TOPIC } from '../../src/net/protocols.js';
import { AttestationStore } from '../../src/store/store.js';
import { newSigner, policyOf, startNode, stopAll, type ClusterNode } from '../net/cluster.js';
import { attest, failed, reproduced } from '../support/attestations.js';
import { dialAddress, NodeProcess, waitUntil } from '../support/node-process.js';
import { policyDocument } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf } from '../support/specs.js';

/**
 * Issue #4, crash safety with real processes: three observer nodes (`bit4bit node start`,
 * build.specs none, sync every second) and an in-process publisher that gossips a few
 * hundred attestations. The victim is SIGKILLed mid-stream; everything its API had listed
 * (stored = acknowledged: gossip ACCEPTs only after the store write) must still be in its
 * store, and once restarted on the same home it must catch up by sync to the same
 * envelopes and the same consensus as the others.
 */
describe('node process: kill -9 during ingest, then restart', function () {
  this.timeout(120_000);
  const SPECS = 12;
  const SIGNERS = 25;
  const KILL_AFTER_LISTED = 60; // the victim has listed this many when it is killed
  const HOLD_AT = 200; // the publisher waits for the kill before sending the rest

  let root: string;
  const procs: NodeProcess[] = [];
  const cluster: ClusterNode[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'bit4bit-restart-'));
  });
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const p of procs) console.error(`---- ${p.name} log tail\n${await p.logTail()}`);
  });
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await stopAll(cluster);
    await rm(root, { recursive: true, force: true });
  });

  it('keeps every envelope it had acknowledged and catches up by sync to the same consensus', async () => {
    const signers = makeSigners(SIGNERS);
    const policyFile = join(root, 'policy.json');
    await writeFile(policyFile, JSON.stringify(policyDocument(signers, 13)));
    const specs = Array.from({ length: SPECS }, (_, i) => digestOf(`restart spec ${i}`));
    // Interleaved (signer-major) so that every spec is half-attested when the victim dies;
    // the last three signers dissent (even specs) or fail (odd specs).
    const atts: Attestation[] = [];
    for (const [j, s] of signers.entries()) {
      for (const [i, spec] of specs.entries()) {
        const result = j < SIGNERS - 3 ? reproduced(digestOf(`image ${i}`)) : i % 2 === 0 ? reproduced(digestOf(`other image ${i}`)) : failed();
        atts.push(attest(s, spec, result));
      }
    }
    const allIds = new Set(atts.map((a) => a.id));
    assert.equal(allIds.size, SPECS * SIGNERS);

    const setupT0 = Date.now();
    // Three node processes on loopback; b and the victim bootstrap from a.
    const [a, b, victim] = await Promise.all(
      ['a', 'b', 'victim'].map(async (name) => {
        const home = join(root, name);
        await mkdir(home);
        const p = new NodeProcess(name, home);
        procs.push(p);
        await p.init();
        return p;
      }),
    );
    const settings = (bootstrap: string[], p2pPort = 0, apiPort = 0) => ({
      listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`],
      privateAddresses: true,
      bootstrap,
      api: { listen: `127.0.0.1:${apiPort}` },
      policy: policyFile,
      build: { specs: 'none' as const },
      sync: { intervalSeconds: 1 },
    });
    await a!.configure(settings([]));
    await a!.start();
    const boot = dialAddress(await a!.health());
    await b!.configure(settings([boot]));
    await victim!.configure(settings([boot]));
    await Promise.all([b!.start(), victim!.start()]);
    const victimHealth = await victim!.health();
    const victimAddr = dialAddress(victimHealth);
    // The restart reuses the same ports: the same node at the same address.
    await victim!.configure(settings([boot], Number(/\/tcp\/(\d+)/.exec(victimAddr)![1]), Number(new URL(victim!.apiUrl).port)));

    const publisher = await startNode(policyOf([newSigner()], 1), { bootstrap: await Promise.all([a!, b!].map(async (p) => dialAddress(await p.health()))).then((l) => [...l, victimAddr]) });
    cluster.push(publisher);
    await waitUntil(() => pubsubOf(publisher.node.net).getSubscribers(ATTESTATION_TOPIC).length === 3, 20_000, 'the publisher to see all three nodes subscribed');

    // Stream: ~100 envelopes/s (4 every 40 ms); after HOLD_AT, wait for the kill, then the rest.
    let killed!: () => void;
    const killedNow = new Promise<void>((r) => (killed = r));
    const setup = Date.now() - setupT0;
    const t0 = Date.now();
    const stream = (async () => {
      for (const [k, att] of atts.entries()) {
        if (k === HOLD_AT) await killedNow;
        await publisher.node.publish(att);
        if (k % 4 === 3) await new Promise((r) => setTimeout(r, 40));
      }
    })();

    // Poll what the victim lists (= what it acknowledged) until enough, then SIGKILL it.
    const acked = new Set<string>();
    let polls = 0;
    await waitUntil(
      async () => {
        const lists = await Promise.all(specs.map((s) => victim!.envelopeIds(s)));
        polls++;
        for (const ids of lists) for (const id of ids) acked.add(id);
        return acked.size >= KILL_AFTER_LISTED;
      },
      30_000,
      `the victim to list ${KILL_AFTER_LISTED} envelopes`,
      10,
    );
    const exit = await victim!.kill('SIGKILL');
    const killedAt = Date.now() - t0;
    killed();
    assert.equal(exit, null, 'killed by a signal');
    await stream;
    const streamed = Date.now() - t0;

    // Durability, read straight from the dead node's LevelDB (no sync can have helped).
    const store = await AttestationStore.open(join(victim!.home, 'store'));
    const stored = new Set<string>();
    try {
      for (const s of specs) for (const e of await store.envelopes(s)) stored.add(e.id);
    } finally {
      await store.close();
    }
    const lost = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `acknowledged envelopes lost by kill -9 (${acked.size} acknowledged, ${stored.size} stored)`);
    assert.ok(stored.size < allIds.size, 'the victim died before it had everything');
    for (const id of stored) assert.ok(allIds.has(id));

    // The survivors have everything; the victim restarts on the same home and catches up.
    for (const p of [a!, b!]) await waitUntil(async () => (await Promise.all(specs.map((s) => p.envelopeIds(s)))).flat().length === allIds.size, 30_000, `${p.name} to have all envelopes`);
    const restartT0 = Date.now();
    await victim!.start();
    assert.equal((await victim!.health()).peerId, victimHealth.peerId, 'same libp2p identity after the restart');
    const afterRestart = new Set((await Promise.all(specs.map((s) => victim!.envelopeIds(s)))).flat());
    assert.deepEqual([...acked].filter((id) => !afterRestart.has(id)), [], 'the restarted node lists all it had acknowledged');
    await waitUntil(async () => (await Promise.all(specs.map((s) => victim!.envelopeIds(s)))).flat().length === allIds.size, 30_000, 'the restarted victim to catch up');
    const caughtUp = Date.now() - restartT0;

    for (const s of specs) {
      const [ids, ...others] = await Promise.all([victim!, a!, b!].map((p) => p.envelopeIds(s)));
      for (const o of others) assert.deepEqual(ids, o, `same envelopes for ${s}`);
      const [c, ...rest] = await Promise.all([victim!, a!, b!].map((p) => p.consensus(s)));
      assert.equal(c!.state, 'agreed', `${s} agreed`);
      assert.equal(c!.digest, digestOf(`image ${specs.indexOf(s)}`));
      for (const o of rest) assert.deepEqual(c, o, `same consensus for ${s} on every node`);
    }
    assert.ok((await victim!.metric('bit4bit_sync_sessions_total', 'result="ok"')) >= 1, 'the victim caught up through sync');
    console.log(
      `      setup ${setup} ms; ${allIds.size} envelopes streamed in ${streamed} ms; victim killed at ${killedAt} ms after listing ${acked.size} (${polls} polls), ` +
        `${stored.size} in its store, all ${acked.size} acknowledged kept; caught up ${allIds.size - stored.size} by sync in ${caughtUp} ms after restart`,
    );
  });
});
