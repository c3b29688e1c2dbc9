import assert from 'node:assert/strict';
import { connect, digestOf, fixedRebuilder, newSigner, policyOf, specNamed, startNode, stopAll, waitFor, type ClusterNode } from './cluster.js';

/**
 * Catch-up without gossip: a node that joins late, or was down, gets every
 * announcement and envelope it missed from /bit4bit/sync/1 as soon as it connects.
 */
describe('verifier network: sync (/bit4bit/sync/1)', function () {
  this.timeout(60_000);
  const GOOD = digestOf('synced image');
  const signers = Array.from({ length: 4 }, newSigner);
  const policy = policyOf(signers, 3);
  const rebuilder = fixedRebuilder(() => ({ outcome: 'reproduced', digest: GOOD }));
  const cluster: ClusterNode[] = [];
  after(() => stopAll(cluster));

  it('a node started late catches up fully on connect, with no new gossip', async () => {
    const first = await Promise.all(signers.slice(0, 3).map((signer) => startNode(policy, { signer, rebuilder })));
    cluster.push(...first);
    await connect(first.map((c) => c.node));
    const specs = [specNamed('example/before-1'), specNamed('example/before-2')];
    for (const s of specs) await first[0]!.node.submit(s);
    for (const s of specs) {
      await waitFor(async () => (await Promise.all(first.map(async (c) => (await c.node.consensus(s.id)).state))).every((st) => st === 'agreed'), 20_000, 'quorum among the first three');
    }

    // gossipsub's message cache (IHAVE history) is 3 heartbeats = 300 ms here: let it expire,
    // so only sync can deliver the past.
    await new Promise((r) => setTimeout(r, 1000));
    // An observer that knows one peer and starts after everything was said.
    const late = await startNode(policy, { bootstrap: [`${first[2]!.node.addresses()[0]}`] });
    cluster.push(late);
    for (const s of specs) {
      await waitFor(async () => (await late.node.consensus(s.id)).state === 'agreed', 20_000, 'the late node to catch up');
      const c = await late.node.consensus(s.id);
      assert.equal(c.digest, GOOD);
      assert.equal(c.agreeing.length, 3);
      assert.deepEqual(await late.node.store.getSpec(s.id), s.spec, 'the spec came with its announcement');
    }
    const summary = (await late.node.metrics.syncs.get()).values.find((v) => v.labels.result === 'ok');
    assert.ok(summary && summary.value >= 1);
    const accepted = (await late.node.metrics.gossip.get()).values.filter((v) => v.labels.action === 'ACCEPT').reduce((n, v) => n + v.value, 0);
    assert.equal(accepted, 0, 'nothing arrived by gossip');
  });

  it('a restarted node catches up on what it missed while down, then rebuilds what it was asked to', async () => {
    const [a, b, c] = cluster;
    const { signer, dir } = c!;
    await c!.node.stop();
    const missed = specNamed('example/while-down');
    await a!.node.submit(missed);
    await waitFor(async () => (await b!.node.store.votes(missed.id)).length === 2, 20_000, 'two votes while c is down');

    const restarted = await startNode(policy, { signer, dir, rebuilder, bootstrap: [a!.node.addresses()[0]!] });
    cluster[2] = restarted;
    assert.equal(restarted.node.peerId.toString(), c!.node.peerId.toString(), 'the libp2p identity persists across restarts');
    // c learns the announcement and the two envelopes by sync, builds, and its vote reaches the others.
    for (const n of [a!, b!, restarted]) {
      await waitFor(async () => (await n.node.store.votes(missed.id)).length === 3, 20_000, 'three votes everywhere');
      assert.equal((await n.node.consensus(missed.id)).state, 'agreed');
    }
  });
});
