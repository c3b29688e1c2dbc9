import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isBit4bitError } from '../../src/errors.js';
import { hexOf, newSigner, policyOf, startNode, stopAll, waitFor, type ClusterNode } from './cluster.js';

describe('verifier network: blob exchange (/bit4bit/blob/1 + kad-dht providers)', function () {
  this.timeout(60_000);
  const cluster: ClusterNode[] = [];
  const policy = policyOf([newSigner()], 1);
  before(async () => {
    // A line 0 - 1 - 2 - 3 - 4: the seeker (0) is not connected to the provider (4) at first.
    for (let i = 0; i < 5; i++) cluster.push(await startNode(policy, { bootstrap: i ? [cluster[i - 1]!.node.addresses()[0]!] : [] }));
    await waitFor(() => cluster.every((c) => c.node.net.getPeers().length >= 1), 10_000, 'a connected line');
  });
  after(() => stopAll(cluster));

  it('fetches a blob from a provider found through the DHT and verifies it into the cache', async () => {
    const blob = randomBytes(300 * 1024); // several 64 KiB chunks
    const sha = hexOf(blob);
    const provider = cluster[4]!.node;
    await provider.cache.putBytes(blob, { expected: sha });
    await waitFor(async () => provider.provide(sha).then(() => true, () => false), 15_000, 'the provider record to be stored');

    const seeker = cluster[0]!.node;
    await seeker.fetchBlob(sha, AbortSignal.timeout(20_000));
    assert.deepEqual(await readFile(seeker.cache.path(sha)), blob);
  });

  it('refuses bytes that do not hash to the name asked for, and says when nobody has a blob', async () => {
    const real = randomBytes(1000);
    const sha = hexOf(real);
    // A provider whose cache holds other bytes under that name (corrupt disk or a liar).
    const liar = cluster[3]!.node;
    await mkdir(dirname(liar.cache.path(sha)), { recursive: true });
    await writeFile(liar.cache.path(sha), randomBytes(1000));
    await liar.provide(sha);
    const seeker = cluster[1]!.node;
    await assert.rejects(seeker.fetchBlob(sha, AbortSignal.timeout(20_000)), (e) => isBit4bitError(e) && e.code === 'input-unavailable' && /input-hash-mismatch|has sha256/.test(e.message));
    assert.equal(await seeker.cache.has(sha), false, 'nothing unverified enters the cache');

    await assert.rejects(seeker.fetchBlob(hexOf('nobody has this'), AbortSignal.timeout(5_000)), (e) => isBit4bitError(e) && e.code === 'input-unavailable');
  });
});
