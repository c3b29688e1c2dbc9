import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { verifyBundle } from '../../src/bundle/bundle.js';
import { connect, digestOf, fixedRebuilder, hexOf, newSigner, policyOf, specNamed, startNode, stopAll, waitFor, type ClusterNode } from '../net/cluster.js';

describe('HTTP API (fastify) of a running node', function () {
  this.timeout(60_000);
  const GOOD = digestOf('api image');
  const signers = Array.from({ length: 3 }, newSigner);
  const policy = policyOf(signers, 2);
  const cluster: ClusterNode[] = [];
  let base = '';
  const source = randomBytes(100_000);
  const loaded = specNamed('example/api', source);

  before(async () => {
    for (const [i, signer] of signers.entries()) {
      cluster.push(
        await startNode(policy, {
          signer,
          rebuilder: fixedRebuilder(() => ({ outcome: 'reproduced', digest: GOOD })),
          config: i === 0 ? { api: { listen: '127.0.0.1:0', maxSourceBytes: 1024 * 1024 } } : {},
        }),
      );
    }
    await connect(cluster.map((c) => c.node));
    base = cluster[0]!.node.apiUrl!;
  });
  after(() => stopAll(cluster));

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const get = async (path: string): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
  };
  const post = async (body: unknown) => {
    const res = await fetch(`${base}/v1/specs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('GET /healthz reports the node', async () => {
    const { status, body } = await get('/healthz');
    assert.equal(status, 200);
    assert.equal((body as { peerId: string }).peerId, cluster[0]!.node.peerId.toString());
    assert.equal((body as { signer: string }).signer, signers[0]!.keyid);
  });

  it('POST /v1/specs publishes a spec and seeds its source; the network agrees; consensus, attestations and bundle are served', async () => {
    const submitted = await post({ spec: loaded.spec, source: source.toString('base64') });
    assert.equal(submitted.status, 202);
    assert.equal(submitted.body.spec, loaded.id);
    assert.equal(submitted.body.seeded, true);

    await waitFor(async () => (await get(`/v1/specs/${loaded.id}/consensus`)).body.state === 'agreed' && (await cluster[0]!.node.store.votes(loaded.id)).length === 3, 20_000, 'agreement');
    const consensus = await get(`/v1/specs/${loaded.id}/consensus`);
    assert.deepEqual(consensus.body, JSON.parse(JSON.stringify(await cluster[0]!.node.consensus(loaded.id))), 'the same JSON as `bit4bit query --json`');
    assert.equal(consensus.body.digest, GOOD);

    const atts = await get(`/v1/specs/${loaded.id}/attestations`);
    assert.equal((atts.body.attestations as unknown[]).length, 3);

    const bundle = await get(`/v1/specs/${loaded.id}/bundle`);
    assert.equal(bundle.status, 200);
    assert.equal(verifyBundle(bundle.body, policy).digest, GOOD);

    // The publisher's node seeds the source: another node fetches it through the DHT.
    await waitFor(async () => cluster[2]!.node.fetchBlob(hexOf(source), AbortSignal.timeout(5_000)).then(() => true, () => false), 20_000, 'source fetched from the publisher');
    assert.equal(await cluster[2]!.node.cache.has(hexOf(source)), true);
  });

  it('GET /v1/signers and /v1/signers/{id} answer like `bit4bit audit --json`', async () => {
    const all = await get('/v1/signers');
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, JSON.parse(JSON.stringify(await cluster[0]!.node.signers())));
    const one = await get('/v1/signers/node1');
    assert.equal((one.body as { signer: string }).signer, signers[1]!.keyid);
    assert.equal((await get(`/v1/signers/${signers[2]!.keyid}`)).body.name, 'node2');
    assert.equal((await get('/v1/signers/nobody')).status, 404);
  });

  it('GET /metrics exposes peers, gossip results, builds, queue depth and consensus states', async () => {
    const { status, body } = await get('/metrics');
    assert.equal(status, 200);
    for (const name of ['bit4bit_peers', 'bit4bit_gossip_messages_total', 'bit4bit_builds_total', 'bit4bit_build_queue_depth', 'bit4bit_specs{state="agreed"} 1']) {
      assert.ok((body as string).includes(name), `metrics mention ${name}`);
    }
  });

  it('refuses bad input with a status and a coded error', async () => {
    const expect = async (p: Promise<{ status: number; body: unknown }>, status: number, code: string) => {
      const r = await p;
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal((r.body as { error: { code: string } }).error.code, code);
    };
    await expect(get('/v1/specs/sha256:nothex/consensus'), 400, 'bad-spec-id');
    await expect(get(`/v1/specs/sha256:${hexOf('unknown')}/bundle`), 404, 'unknown-spec');
    await expect(post({ spec: loaded.spec, extra: 1 }), 400, 'bad-body');
    await expect(post({ spec: { ...loaded.spec, sourceDateEpoch: 'now' } }), 400, 'invalid-spec');
    await expect(post({ spec: loaded.spec, source: Buffer.from('other bytes').toString('base64') }), 400, 'input-hash-mismatch');
    await expect(post({ spec: loaded.spec, source: 'not base64!' }), 400, 'bad-body');
    await expect(post({ spec: loaded.spec, source: randomBytes(2 * 1024 * 1024).toString('base64') }), 413, 'FST_ERR_CTP_BODY_TOO_LARGE');
    await expect(post('{"spec":'), 400, 'FST_ERR_CTP_INVALID_JSON_BODY');
    await expect(get('/v1/nothing'), 404, 'no-route');
  });
});
