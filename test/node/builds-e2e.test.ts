import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpecFile } from '../../src/spec/load.js';
import { packToFile } from '../../src/source/pack.js';
import { runInHome } from '../support/cli.js';
import { dialAddress, NodeProcess, waitUntil } from '../support/node-process.js';
import { useTempDirs } from '../support/temp.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

/**
 * Issue #4 end to end, with real builds: three `bit4bit node start` processes that
 * rebuild every spec (buildah, mmdebstrap), one shared policy (2 of 3). Each example is
 * submitted with its packed source to node 0 only; the others fetch the source over the
 * blob exchange, rebuild, sign and gossip. A reproducible image ends `agreed` on one
 * digest everywhere; the deliberately non-reproducible one ends `disputed`.
 */
describe('verifier network end to end: three node processes rebuild real examples', function () {
  this.timeout(30 * 60_000);
  const tempDir = useTempDirs('bit4bit-e2e-');
  const nodes: NodeProcess[] = [];
  let root: string;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // hermetic builds need namespaces (root)
    root = await tempDir();
    for (let i = 0; i < 3; i++) {
      const node = new NodeProcess(`node${i}`, join(root, `node${i}`));
      await node.init();
      nodes.push(node);
    }
    const keys = await Promise.all(
      nodes.map(async (n) => (JSON.parse((await runInHome(n.home, ['id', '--json'])).stdout) as { publicKey: string }).publicKey),
    );
    const policyFile = join(root, 'policy.json');
    await writeFile(policyFile, JSON.stringify({ signers: keys.map((publicKey, i) => ({ name: `node${i}`, publicKey })), threshold: 2 }));
    let bootstrap: string[] = [];
    for (const node of nodes) {
      await node.configure({
        listen: ['/ip4/127.0.0.1/tcp/0'],
        privateAddresses: true,
        bootstrap,
        api: { listen: '127.0.0.1:0' },
        policy: policyFile,
        build: { specs: 'all', concurrency: 1, timeoutSeconds: 900 },
        sync: { intervalSeconds: 2 },
      });
      await node.start();
      if (bootstrap.length === 0) bootstrap = [dialAddress(await node.health())];
    }
    await waitUntil(async () => (await Promise.all(nodes.map((n) => n.health()))).every((h) => h.peers >= 2), 60_000, 'a fully connected network');
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.error(`--- ${n.name} log tail\n${await n.logTail(30)}`);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  /** Submits an example to node 0 with its packed source; returns its spec id. */
  async function submit(name: string): Promise<string> {
    const specFile = join(EXAMPLES, name, 'spec.yaml');
    const tar = join(root, `${name}.tar`);
    const { id, spec } = await loadSpecFile(specFile);
    assert.equal((await packToFile(join(EXAMPLES, name, 'source'), tar)).sha256, spec.source.sha256, `${name}: source/ matches its pin`);
    const r = await runInHome(nodes[0]!.home, ['submit', specFile, '--source', tar, '--node', nodes[0]!.apiUrl]);
    assert.equal(r.code, 0, r.stderr);
    return id;
  }

  async function settle(spec: string, states: string[]): Promise<{ state: string; digest?: string }[]> {
    await waitUntil(
      async () => (await Promise.all(nodes.map((n) => n.consensus(spec)))).every((c) => states.includes(c.state) && (c.missing as string[]).length === 0),
      25 * 60_000,
      `every node to have all three votes on ${spec}`,
      2000,
    );
    return Promise.all(nodes.map((n) => n.consensus(spec)));
  }

  it('the debian-base and hello-node images reach `agreed` on one digest on every node, each node having built them itself', async () => {
    const base = await submit('debian-base');
    const app = await submit('hello-node');
    for (const spec of [base, app]) {
      const results = await settle(spec, ['agreed', 'disputed', 'conflict']);
      assert.deepEqual(results.map((c) => c.state), ['agreed', 'agreed', 'agreed'], JSON.stringify(results));
      assert.equal(new Set(results.map((c) => c.digest)).size, 1);
      // Every node's own attestation is a reproduced vote for that digest.
      const agreeing = results[0] as unknown as { agreeing: string[] };
      assert.equal(agreeing.agreeing.length, 3);
    }
    // The other nodes got the sources from node 0 over the blob exchange.
    for (const n of nodes.slice(1)) assert.ok((await n.metric('bit4bit_builds_total', 'outcome="reproduced"')) >= 2);
    assert.ok((await nodes[0]!.metric('bit4bit_blob_requests_served_total', 'found="true"')) >= 1);
  });

  it('the non-reproducible example ends `disputed`: three builds, three digests, no quorum possible', async () => {
    const spec = await submit('nonrepro');
    const results = await settle(spec, ['disputed', 'agreed', 'conflict']);
    assert.deepEqual(results.map((c) => c.state), ['disputed', 'disputed', 'disputed'], JSON.stringify(results));
    assert.equal((results[0] as unknown as { votes: unknown[] }).votes.length, 3);
  });
});
