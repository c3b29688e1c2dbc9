import '../../src/polyfill.js';
import { createInterface } from 'node:readline';
import { pubsubOf } from '../../src/net/libp2p.js';
import { ATTESTATION_TOPIC } from '../../src/net/protocols.js';
import { validateGossipAttestation } from '../../src/net/validation/attestation.js';
import { newSigner, policyOf, startNode, stopAll, waitFor } from './cluster.js';

/**
 * A publishing node as its own process, for tests that place it in a network namespace:
 *
 *   node dist/test/net/publisher-process.js '{"listen": "/ip4/…/tcp/4101", "bootstrap": [...], "subscribers": 2}'
 *
 * Starts a VerifierNode (observer, no API), waits until `subscribers` peers are subscribed
 * to the attestation topic, prints `ready <peerId>`, then reads DSSE envelopes (one JSON
 * per line) on stdin, verifies and publishes each (store, then gossip) and prints
 * `published <id> <recipients>`. Stops cleanly on SIGTERM.
 */
const opts = JSON.parse(process.argv[2] ?? '{}') as { listen: string; bootstrap: string[]; subscribers?: number };
const signer = newSigner();
const pub = await startNode(policyOf([signer], 1), { signer, bootstrap: opts.bootstrap, heartbeatMs: 1000, config: { listen: [opts.listen], sync: { intervalSeconds: 1 } } });
const ps = pubsubOf(pub.node.net);
await waitFor(() => ps.getSubscribers(ATTESTATION_TOPIC).length >= (opts.subscribers ?? 1), 30_000, 'subscribers to the attestation topic');
process.stdout.write(`ready ${pub.node.peerId.toString()}\n`);

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => {
    const att = await validateGossipAttestation({ hasEnvelope: async () => false }, Buffer.from(line));
    const recipients = await pub.node.publish(att);
    process.stdout.write(`published ${att.id} ${recipients}\n`);
  }).catch((e) => void process.stdout.write(`error ${(e as Error).message}\n`));
});

const stop = async () => {
  await queue.catch(() => undefined);
  await stopAll([pub]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
