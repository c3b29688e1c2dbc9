import { generateKeyPair } from '@libp2p/crypto/keys';
import assert from 'node:assert/strict';
import { createAttestation } from '../../src/attestation/attestation.js';
import { createNetNode, pubsubOf, type NetNode } from '../../src/net/libp2p.js';
import { ATTESTATION_TOPIC } from '../../src/net/protocols.js';
import { connect, digestOf, fixedRebuilder, LOOPBACK_ALLOW, newSigner, policyOf, specNamed, startNode, stopAll, waitFor, type ClusterNode } from './cluster.js';

/**
 * Five real nodes on loopback, each with its own signer. Four rebuild every spec to the
 * same digest; one (byzantine) always gets another digest. Policy: 3 of 5.
 */
describe('verifier network: gossip and consensus (5 nodes)', function () {
  this.timeout(60_000);
  const GOOD = digestOf('the image');
  const BAD = digestOf('a backdoored image');
  const signers = Array.from({ length: 5 }, newSigner);
  const policy = policyOf(signers, 3);
  let cluster: ClusterNode[] = [];
  const nodes = () => cluster.map((c) => c.node);
  let specNo = 0;
  const nextSpec = () => specNamed(`example/gossip-${specNo++}`);

  before(async () => {
    cluster = await Promise.all(
      signers.map((signer, i) =>
        startNode(policy, { signer, rebuilder: fixedRebuilder(() => ({ outcome: 'reproduced', digest: i === 4 ? BAD : GOOD })) }),
      ),
    );
    await connect(nodes());
  });
  after(() => stopAll(cluster));

  const everyNodeHas = (spec: string, envelopes: number) =>
    waitFor(async () => (await Promise.all(nodes().map(async (n) => (await n.store.votes(spec)).length))).every((c) => c >= envelopes), 20_000, `${envelopes} envelopes for ${spec} on every node`);

  it('rebuilds a submitted spec on every node, and every node reports the same agreed digest with the byzantine signer dissenting', async () => {
    const loaded = nextSpec();
    const submitted = await cluster[0]!.node.submit(loaded);
    assert.equal(submitted.spec, loaded.id);
    await everyNodeHas(loaded.id, 5);
    for (const n of nodes()) {
      const c = await n.consensus(loaded.id);
      assert.equal(c.state, 'agreed');
      assert.equal(c.digest, GOOD);
      assert.deepEqual(c.agreeing, signers.slice(0, 4).map((s) => s.keyid).sort());
      assert.deepEqual(c.dissenting, [signers[4]!.keyid]);
      assert.deepEqual(await n.store.getSpec(loaded.id), loaded.spec, 'the spec document travelled with the announcement');
    }
  });

  it('an equivocating signer\'s two envelopes reach every node, and it is excluded everywhere', async () => {
    const loaded = nextSpec();
    await cluster[0]!.node.submit(loaded);
    await everyNodeHas(loaded.id, 5);
    // Signer 3 also signs a different digest for the same spec.
    const now = new Date();
    const second = createAttestation({ specId: loaded.id, spec: loaded.spec, result: { outcome: 'reproduced', digest: digestOf('second opinion') }, startedOn: now, finishedOn: now }, signers[3]!);
    await cluster[3]!.node.publish(second);
    await everyNodeHas(loaded.id, 6);
    for (const n of nodes()) {
      const c = await n.consensus(loaded.id);
      assert.deepEqual(c.equivocating, [signers[3]!.keyid]);
      assert.equal(c.equivocations[signers[3]!.keyid]!.length, 2);
      assert.ok(!c.agreeing.includes(signers[3]!.keyid));
      assert.equal(c.state, 'agreed', 'three honest signers are still a quorum');
      assert.equal(c.agreeing.length, 3);
    }
  });

  it('a flood of invalid and oversized messages does not stop consensus, and the flooder\'s score drops', async () => {
    const flooder = await createFlooder();
    try {
      const target = cluster[1]!.node;
      await flooder.dial(target.net.getMultiaddrs()[0]!);
      const ps = pubsubOf(flooder);
      await waitFor(() => ps.getMeshPeers(ATTESTATION_TOPIC).length > 0 || ps.getSubscribers(ATTESTATION_TOPIC).length > 0, 10_000, 'flooder to see subscribers');

      const other = nextSpec();
      const honest = createAttestation({ specId: other.id, spec: other.spec, result: { outcome: 'reproduced', digest: GOOD }, startedOn: new Date(), finishedOn: new Date() }, newSigner());
      const badSignature = (i: number) => {
        const env = structuredClone(honest.envelope);
        const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
        sig.writeUInt8(sig.readUInt8(i % 64) ^ 0xff, i % 64);
        env.signatures[0]!.sig = sig.toString('base64');
        return Buffer.from(JSON.stringify(env));
      };
      const junk = [
        ...Array.from({ length: 20 }, (_, i) => Buffer.from(`not json ${i}`)),
        ...Array.from({ length: 5 }, (_, i) => Buffer.alloc(70 * 1024, 97 + i)), // over the 64 KiB envelope limit
        ...Array.from({ length: 10 }, (_, i) => badSignature(i)),
      ];
      const before = pubsubOf(target.net).getScore(flooder.peerId.toString());
      for (const data of junk) await ps.publish(ATTESTATION_TOPIC, data).catch(() => undefined);

      const loaded = nextSpec();
      await cluster[2]!.node.submit(loaded);
      await everyNodeHas(loaded.id, 5);
      for (const n of nodes()) assert.equal((await n.consensus(loaded.id)).digest, GOOD);

      const score = () => pubsubOf(target.net).getScore(flooder.peerId.toString());
      await waitFor(() => score() < -50, 10_000, `the flooder's score to drop (was ${before}, now ${score()})`);
      const rejected = (await target.metrics.gossip.get()).values.filter((v) => v.labels.action === 'REJECT').reduce((a, v) => a + v.value, 0);
      assert.ok(rejected >= 1, `node 1 counted ${rejected} rejections`);
      for (const n of nodes()) assert.equal(await n.store.hasEnvelope(honest.id), false, 'forged envelopes are never stored');
    } finally {
      await flooder.stop();
    }
  });
});

async function createFlooder(): Promise<NetNode> {
  const net = await createNetNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateAddresses: true, allow: LOOPBACK_ALLOW, heartbeatMs: 100 });
  await net.start();
  pubsubOf(net).subscribe(ATTESTATION_TOPIC);
  return net;
}
