import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { readFile, stat } from 'node:fs/promises';
import { Bit4bitError } from '../errors.js';
import { writeFileAtomic } from '../home/files.js';

/**
 * The node's libp2p identity (its PeerId), kept across restarts so peers, DHT routing
 * tables and bootstrap lists stay valid. A separate key from the signing key: the
 * transport identity can be rotated without changing who signs attestations.
 * Stored as the libp2p protobuf encoding of an Ed25519 key, mode 0600.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Bit4bitError('identity-unreadable', `cannot read the node identity ${path}: ${(e as Error).message}`, 'environment');
    }
    const key = await generateKeyPair('Ed25519');
    await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600);
    return key;
  }
  const mode = (await stat(path)).mode & 0o077;
  if (mode !== 0) {
    throw new Bit4bitError('identity-permissions', `the node identity ${path} is readable by others (mode ${((await stat(path)).mode & 0o777).toString(8)}); run chmod 600 on it`, 'environment');
  }
  try {
    return privateKeyFromProtobuf(new Uint8Array(bytes));
  } catch {
    throw new Bit4bitError('identity-corrupt', `the node identity ${path} is not a libp2p private key; move it away to create a new one`, 'environment');
  }
}
