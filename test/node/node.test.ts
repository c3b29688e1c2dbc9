import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Bit4bitError, isBit4bitError } from '../../src/errors.js';
import { parseNodeConfig } from '../../src/node/config.js';
import { createLogger } from '../../src/node/log.js';
import { VerifierNode } from '../../src/node/node.js';
import type { Rebuilder } from '../../src/node/rebuilder.js';
import { connect, newSigner, policyOf, specNamed, startNode, stopAll, waitFor, type ClusterNode } from '../net/cluster.js';

describe('node: settings', () => {
  it('fills defaults: API on 127.0.0.1:8080, rebuilding every spec once with a 1 h timeout, sync every 60 s', () => {
    const s = parseNodeConfig(undefined, '/home/x');
    assert.deepEqual(s.api, { enabled: true, host: '127.0.0.1', port: 8080, maxSourceBytes: 64 * 1024 * 1024 });
    assert.deepEqual(s.build, { specs: 'all', publishers: [], concurrency: 1, queueLimit: 1000, timeoutMs: 3_600_000, fetchUrls: true, twice: false });
    assert.equal(s.syncIntervalMs, 60_000);
    assert.equal(parseNodeConfig({ policy: 'testnet.yaml' }, '/home/x').policyFile, '/home/x/testnet.yaml');
  });
  it('refuses unknown fields, bad values and an empty allowlist, naming the field', () => {
    const refuses = (value: unknown, pattern: RegExp) => assert.throws(() => parseNodeConfig(value, '/h'), (e) => isBit4bitError(e) && e.code === 'invalid-config' && pattern.test(e.message));
    refuses({ listn: [] }, /listn: unknown field \(did you mean "listen"\?\)/);
    refuses({ build: { concurrency: 0 } }, /build\.concurrency/);
    refuses({ bootstrap: ['/ip4/1.2.3.4/tcp/4001'] }, /bootstrap\[0\]: expected a multiaddr ending in \/p2p/);
    refuses({ build: { specs: 'allowlist' } }, /build\.publishers is empty/);
  });
});

describe('node: builds', function () {
  this.timeout(60_000);
  const cluster: ClusterNode[] = [];
  after(() => stopAll(cluster));

  it('refuses to start building without a rebuild backend', async () => {
    const settings = parseNodeConfig({ build: { specs: 'all' }, api: { enabled: false } }, '/tmp');
    await assert.rejects(
      VerifierNode.create({ dirs: { storeDir: '/nonexistent/s', cacheDir: '/nonexistent/c', nodeDir: '/nonexistent/n' }, signer: newSigner(), policy: policyOf([newSigner()], 1), settings }),
      (e) => isBit4bitError(e) && e.code === 'no-rebuilder',
    );
  });

  it('attests a rebuild that threw as a failure of its class, builds only allowlisted publishers, and runs at most `concurrency` builds at once', async () => {
    const publisher = newSigner();
    const stranger = newSigner();
    let running = 0;
    let maxRunning = 0;
    const rebuilder: Rebuilder = {
      async rebuild(spec, ctx) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        ctx.progress('working');
        await new Promise((r) => setTimeout(r, 50));
        running--;
        if (spec.spec.name.endsWith('missing-input')) throw new Bit4bitError('input-unavailable', 'nobody has the source', 'negative');
        throw new Error('buildah exploded');
      },
    };
    const builderSigner = newSigner();
    const policy = policyOf([builderSigner], 1);
    const builder = await startNode(policy, { signer: builderSigner, rebuilder, config: { build: { specs: 'allowlist', publishers: [publisher.keyid], concurrency: 2 } } });
    const pub = await startNode(policy, { signer: publisher });
    const other = await startNode(policy, { signer: stranger });
    cluster.push(builder, pub, other);
    await connect([builder.node, pub.node, other.node]);

    const specs = ['a-missing-input', 'b', 'c', 'd'].map((n) => specNamed(`example/${n}`));
    for (const s of specs) await pub.node.submit(s);
    const ignored = specNamed('example/from-a-stranger');
    await other.node.submit(ignored);

    for (const s of specs) await waitFor(async () => (await pub.node.store.votes(s.id)).length === 1, 20_000, 'the builder\'s attestation');
    const [missing, ...rest] = await Promise.all(specs.map(async (s) => (await pub.node.store.envelopes(s.id))[0]!));
    const outcomeOf = (env: { envelope: { payload: string } }) => JSON.parse(Buffer.from(env.envelope.payload, 'base64').toString()).predicate;
    assert.deepEqual(outcomeOf(missing!).failure.class, 'input-unavailable');
    for (const r of rest) assert.deepEqual(outcomeOf(r).failure, { class: 'build-error', message: 'buildah exploded' });
    assert.ok(maxRunning <= 2, `at most 2 builds at once, saw ${maxRunning}`);
    await builder.node.buildsIdle();
    assert.equal((await builder.node.store.votes(ignored.id)).length, 0, 'a stranger\'s spec is stored but not built');
    assert.ok(await builder.node.store.getSpec(ignored.id));
  });
});

describe('node: bootstrap peers', function () {
  this.timeout(60_000);
  const cluster: ClusterNode[] = [];
  after(() => stopAll(cluster));

  it('keeps redialling an unreachable bootstrap peer, warning once, and says when it is back', async () => {
    const policy = policyOf([newSigner()], 1);
    // A peer that existed: its identity (in its dir) and address are real, then it stops.
    const gone = await startNode(policy);
    const address = gone.node.addresses().find((a) => a.includes('/tcp/'))!;
    const port = /\/tcp\/(\d+)/.exec(address)![1];
    await gone.node.stop();

    const lines: { level: number; msg: string }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    const watcher = await startNode(policy, { bootstrap: [address], config: { sync: { intervalSeconds: 0.2 } }, logger: createLogger({ json: true, level: 'debug', destination }) });
    cluster.push(watcher);
    const about = (msg: string) => lines.filter((l) => l.msg.startsWith(msg));
    await waitFor(() => about('bootstrap peer unreachable').length >= 4, 20_000, 'several failed bootstrap dials');
    assert.deepEqual(about('bootstrap peer unreachable').map((l) => l.level).slice(0, 4), [40, 20, 20, 20], 'warn once, then debug');

    // The same peer comes back on the same address: the next tick reaches it.
    const back = await startNode(policy, { dir: gone.dir, config: { listen: [`/ip4/127.0.0.1/tcp/${port}`] } });
    cluster.push(back);
    await waitFor(() => about('bootstrap peer reachable again').length === 1, 20_000, 'the bootstrap peer to be reached again');
    assert.ok(watcher.node.net.getPeers().some((p) => p.equals(back.node.peerId)));
  });
});
