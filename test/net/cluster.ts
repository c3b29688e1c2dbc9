import type { RebuildResult } from '../../src/attestation/attestation.js';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKeyPem, signerFromPem, type Signer } from '../../src/keys/keys.js';
import { pubsubOf } from '../../src/net/libp2p.js';
import { ATTESTATION_TOPIC, SPEC_TOPIC } from '../../src/net/protocols.js';
import { parseNodeConfig, type NodeConfigDocument } from '../../src/node/config.js';
import { VerifierNode, type VerifierNodeInit } from '../../src/node/node.js';
import type { Rebuilder } from '../../src/node/rebuilder.js';
import { lintPolicy, type TrustPolicy } from '../../src/policy/policy.js';
import type { LoadedSpec } from '../../src/spec/types.js';
import { validateSpec } from '../../src/spec/validate.js';

/**
 * Real verifier nodes on loopback for tests and benchmarks: each with its own home
 * (temporary directory), signer and libp2p identity, gossipsub heartbeat 100 ms and the
 * loopback exempt from connection limits (js-libp2p throttles inbound dials per IP).
 */
export const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8'];

export interface ClusterNode {
  node: VerifierNode;
  signer: Signer;
  dir: string;
}

export interface NodeOptions {
  signer?: Signer;
  dir?: string;
  rebuilder?: Rebuilder;
  config?: NodeConfigDocument;
  bootstrap?: string[];
  onConsensusChange?: VerifierNodeInit['onConsensusChange'];
  logger?: VerifierNodeInit['logger'];
  /** gossipsub heartbeat; 100 ms (fast mesh repair for tests) unless given. */
  heartbeatMs?: number;
}

export function newSigner(): Signer {
  return signerFromPem(generateSigningKeyPem());
}

export function policyOf(signers: Signer[], threshold: number): TrustPolicy {
  const { policy, problems } = lintPolicy({
    signers: signers.map((s, i) => ({ name: `node${i}`, publicKey: Buffer.from(s.publicKey).toString('hex') })),
    threshold,
  });
  if (!policy) throw new Error(problems.map((p) => p.message).join('; '));
  return policy;
}

export async function startNode(policy: TrustPolicy, opts: NodeOptions = {}): Promise<ClusterNode> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'bit4bit-node-')));
  const signer = opts.signer ?? newSigner();
  const settings = parseNodeConfig(
    {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      privateAddresses: true,
      api: { enabled: false },
      bootstrap: opts.bootstrap ?? [],
      build: { specs: opts.rebuilder ? 'all' : 'none' },
      sync: { intervalSeconds: 3600 },
      ...opts.config,
    },
    dir,
  );
  const node = await VerifierNode.create({
    dirs: { storeDir: join(dir, 'store'), cacheDir: join(dir, 'cache'), nodeDir: join(dir, 'node') },
    signer,
    policy,
    settings,
    rebuilder: opts.rebuilder,
    heartbeatMs: opts.heartbeatMs ?? 100,
    connectionAllow: LOOPBACK_ALLOW,
    onConsensusChange: opts.onConsensusChange,
    logger: opts.logger,
  });
  await node.start();
  return { node, signer, dir };
}

/** Dials i → i-1 and i → 0 (a connected graph the DHT fills in), then waits for gossip meshes. */
export async function connect(nodes: VerifierNode[]): Promise<void> {
  // One dial at a time: dozens of simultaneous Noise handshakes in one process starve the event loop.
  const dial = async (from: VerifierNode, to: VerifierNode) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await from.net.dial(to.net.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(10_000) });
      } catch (e) {
        if (attempt >= 2) throw e;
      }
    }
  };
  for (let i = 1; i < nodes.length; i++) {
    await dial(nodes[i]!, nodes[i - 1]!);
    if (i > 1) await dial(nodes[i]!, nodes[0]!);
  }
  await waitForMesh(nodes, 15_000 + 500 * nodes.length);
}

export async function waitForMesh(nodes: VerifierNode[], timeoutMs = 15_000): Promise<void> {
  await waitFor(() => nodes.every((n) => [ATTESTATION_TOPIC, SPEC_TOPIC].every((t) => pubsubOf(n.net).getMeshPeers(t).length > 0)), timeoutMs, 'gossip meshes');
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stopAll(nodes: ClusterNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.node.stop().catch(() => undefined)));
  await Promise.all(nodes.map((n) => rm(n.dir, { recursive: true, force: true })));
}

/** A Rebuilder for tests: answers with a fixed result instead of building. */
export function fixedRebuilder(result: (specId: string) => RebuildResult): Rebuilder {
  return {
    async rebuild(spec, ctx) {
      ctx.progress('pretending to build');
      const now = new Date();
      return { result: result(spec.id), toolVersion: '1.28.2', startedOn: now, finishedOn: now };
    },
  };
}

/** `sha256:<hex>` of a label: a stand-in image digest. */
export function digestOf(label: string): string {
  return `sha256:${hexOf(label)}`;
}

export function hexOf(label: string | Uint8Array): string {
  return createHash('sha256').update(label).digest('hex');
}

/** A valid Dockerfile spec named `name`, whose source is `source` (any bytes). */
export function specNamed(name: string, source: Uint8Array | string = `source of ${name}`): LoadedSpec {
  return validateSpec({
    apiVersion: 'bit4bit/v1',
    kind: 'BuildSpec',
    name,
    sourceDateEpoch: 1700000000,
    source: { sha256: hexOf(source) },
    builder: { type: 'dockerfile', version: '1.28.2', baseImages: [{ image: `docker.io/library/debian:bookworm@sha256:${hexOf('debian')}` }] },
  });
}
