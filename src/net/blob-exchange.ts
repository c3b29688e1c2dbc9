import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import { create as createDigest } from 'multiformats/hashes/digest';
import { sha256 } from 'multiformats/hashes/sha2';
import type { BlobCache } from '../cache/blob-cache.js';
import { SHA256_HEX } from '../canonical/index.js';
import { Bit4bitError, isBit4bitError } from '../errors.js';
import { FrameStream, isRecord, ProtocolError } from './frames.js';
import type { NetNode } from './libp2p.js';
import { BLOB_CHUNK_BYTES, BLOB_PROTOCOL, MAX_BLOB_REQUEST_BYTES } from './protocols.js';

/**
 * `/bit4bit/blob/1`: fetch a blob by sha256 from a peer that has it
 * (docs/protocols/blob-exchange.md). Providers are found through kad-dht provider
 * records keyed by the CIDv1 (raw codec, sha2-256 multihash) of the blob. What arrives
 * is streamed into the BlobCache, which stores it only if it hashes to the name asked for.
 */

/** CIDv1, raw codec (0x55), sha2-256 multihash of the blob. */
export function blobCid(sha256Hex: string): CID {
  if (!SHA256_HEX.test(sha256Hex)) throw new Bit4bitError('bad-digest', `blob name must be 64 lowercase hex, got ${JSON.stringify(sha256Hex)}`);
  return CID.createV1(raw.code, createDigest(sha256.code, Buffer.from(sha256Hex, 'hex')));
}

export interface BlobExchangeInit {
  /** Largest blob this node will download. */
  maxBlobBytes: number;
  /** Providers tried per fetch. */
  maxProviders?: number;
  onServe?: (sha256: string, peer: string, found: boolean) => void;
  onError?: (e: Error, peer: string) => void;
}

export class BlobExchange {
  constructor(
    private readonly net: NetNode,
    private readonly cache: BlobCache,
    private readonly init: BlobExchangeInit,
  ) {}

  async start(): Promise<void> {
    await this.net.handle(BLOB_PROTOCOL, (stream, connection) => this.serve(stream, connection), { maxInboundStreams: 8 });
  }

  async stop(): Promise<void> {
    await this.net.unhandle(BLOB_PROTOCOL);
  }

  /** Announces in the DHT that this node can serve the blob (which must be in the cache). */
  async provide(sha256Hex: string, signal?: AbortSignal): Promise<void> {
    if (!(await this.cache.has(sha256Hex))) throw new Bit4bitError('not-found', `blob ${sha256Hex} is not in the cache; cannot provide it`, 'negative');
    await this.net.contentRouting.provide(blobCid(sha256Hex), { signal: signal ?? AbortSignal.timeout(60_000) });
  }

  /**
   * Makes sure the blob is in the cache: already there, or fetched from the first
   * provider (found through the DHT) that delivers bytes with the right hash.
   */
  async fetch(sha256Hex: string, options: { signal?: AbortSignal; what?: string } = {}): Promise<void> {
    if (await this.cache.has(sha256Hex)) return;
    const signal = options.signal ?? AbortSignal.timeout(120_000);
    const cid = blobCid(sha256Hex);
    const failures: string[] = [];
    let tried = 0;
    for await (const provider of this.net.contentRouting.findProviders(cid, { signal })) {
      if (provider.id.equals(this.net.peerId)) continue;
      try {
        await this.fetchFrom(provider.id, sha256Hex, { signal, what: options.what });
        return;
      } catch (e) {
        if (signal.aborted) throw e;
        failures.push(`${provider.id.toString()}: ${(e as Error).message}`);
      }
      if (++tried >= (this.init.maxProviders ?? 5)) break;
    }
    throw new Bit4bitError(
      'input-unavailable',
      `no peer delivered ${options.what ?? 'blob'} sha256:${sha256Hex}${failures.length ? ` (${failures.join('; ')})` : ' (no provider found in the DHT)'}`,
      'negative',
    );
  }

  /** Fetches one blob from one peer into the cache, verifying its hash and size. */
  async fetchFrom(peer: PeerId, sha256Hex: string, options: { signal?: AbortSignal; what?: string } = {}): Promise<void> {
    const stream = await this.net.dialProtocol(peer, BLOB_PROTOCOL, { signal: options.signal ?? AbortSignal.timeout(10_000) });
    const frames = new FrameStream(stream, BLOB_CHUNK_BYTES, 30_000);
    try {
      await frames.writeJson({ sha256: sha256Hex });
      const header = await frames.readJson();
      if (!isRecord(header)) throw new ProtocolError('bad-response', 'blob response header must be an object');
      if (header.status === 'not-found') throw new Bit4bitError('not-found', 'peer does not have it', 'negative');
      const size = header.size;
      if (header.status !== 'ok' || !Number.isSafeInteger(size) || (size as number) < 0) throw new ProtocolError('bad-response', 'blob header must be {status:"ok", size}');
      if ((size as number) > this.init.maxBlobBytes) {
        throw new Bit4bitError('too-large', `peer offers ${size} bytes, more than the ${this.init.maxBlobBytes}-byte limit`, 'negative');
      }
      const total = size as number;
      async function* chunks() {
        let received = 0;
        while (received < total) {
          options.signal?.throwIfAborted();
          const chunk = await frames.readBytes();
          if (chunk === null) throw new ProtocolError('truncated', `blob ended after ${received} of ${total} bytes`);
          received += chunk.length;
          if (received > total) throw new ProtocolError('oversized', `peer sent more than the announced ${total} bytes`);
          yield chunk;
        }
      }
      await this.cache.put(chunks(), { expected: sha256Hex, maxBytes: total, what: options.what ?? `blob sha256:${sha256Hex}` });
      await frames.close();
    } catch (e) {
      frames.abort(e as Error);
      throw e;
    }
  }

  private async serve(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    const frames = new FrameStream(stream, MAX_BLOB_REQUEST_BYTES, 30_000);
    try {
      const request = await frames.readJson();
      if (!isRecord(request) || typeof request.sha256 !== 'string' || !SHA256_HEX.test(request.sha256)) {
        throw new ProtocolError('bad-request', 'a blob request is {"sha256": "<64 hex>"}');
      }
      const name = request.sha256;
      const size = await this.cache.size(name);
      this.init.onServe?.(name, peer, size !== undefined);
      if (size === undefined) {
        await frames.writeJson({ status: 'not-found' });
      } else {
        await frames.writeJson({ status: 'ok', size });
        const file = await this.cache.open(name);
        for await (const chunk of file) {
          for (let i = 0; i < (chunk as Buffer).length; i += BLOB_CHUNK_BYTES) await frames.writeBytes((chunk as Buffer).subarray(i, i + BLOB_CHUNK_BYTES));
        }
      }
      await frames.close();
    } catch (e) {
      if (!isBit4bitError(e)) this.init.onError?.(e as Error, peer);
      frames.abort(e as Error);
    }
  }
}
