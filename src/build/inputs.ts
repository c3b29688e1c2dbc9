import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobCache } from '../cache/blob-cache.js';
import { Bit4bitError, isBit4bitError } from '../errors.js';
import { packToFile } from '../source/pack.js';

/**
 * Getting one pinned blob into the content-addressed cache, verified by sha256 (DESIGN
 * §1, §5). Sources, in order: the cache itself; a local hint (a directory packed
 * deterministically, or a tar file); peers (`fetchBlob`, the node's blob exchange);
 * the spec's http(s) urls. Nothing enters the cache unless it hashes to the pin.
 */
export interface BlobSource {
  sha256: string;
  urls?: readonly string[];
  /** Human name for messages: "source", "input model.bin", "layout of debian@sha256:…". */
  what: string;
}

export interface FetchOptions {
  cache: BlobCache;
  allowFetch: boolean;
  /** A directory or tar file given by the user (sources only). */
  hint?: string;
  fetchBlob?: (sha256: string) => Promise<void>;
  progress(msg: string): void;
  signal?: AbortSignal;
}

/**
 * Resolves once `blob` is in the cache. Throws `input-hash-mismatch` (naming expected
 * and actual) when every candidate had other bytes, `input-unavailable` when there was
 * nothing to try.
 */
export async function ensureBlob(blob: BlobSource, options: FetchOptions): Promise<void> {
  const { cache } = options;
  if (await cache.has(blob.sha256)) return;
  let mismatch: Bit4bitError | undefined;
  const attempt = async (fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return cache.has(blob.sha256);
    } catch (e) {
      if (isBit4bitError(e) && e.code === 'input-hash-mismatch') mismatch ??= e;
      else if (isBit4bitError(e) && e.code === 'aborted') throw e;
      else options.progress(`${blob.what}: ${(e as Error).message}`);
      return false;
    }
  };

  if (options.hint !== undefined && (await attempt(() => putLocal(blob, options.hint!, cache, options.progress)))) return;
  if (options.fetchBlob && (await attempt(() => options.fetchBlob!(blob.sha256)))) return;
  const urls = blob.urls ?? [];
  if (urls.length && !options.allowFetch) options.progress(`${blob.what}: not fetching ${urls.length} url(s): offline`);
  for (const url of options.allowFetch ? urls : []) {
    if (await attempt(() => download(url, blob, cache, options))) return;
  }
  if (mismatch) throw mismatch;
  throw new Bit4bitError(
    'input-unavailable',
    `${blob.what} (sha256 ${blob.sha256}) is not in the cache${options.hint ? ` and ${options.hint} could not provide it` : ''}` +
      `${urls.length ? (options.allowFetch ? ' and none of its urls delivered it' : ' and fetching is off (--offline)') : ' and the spec gives no urls'}`,
    'negative',
  );
}

async function putLocal(blob: BlobSource, hint: string, cache: BlobCache, progress: (m: string) => void): Promise<void> {
  const st = await stat(hint).catch(() => undefined);
  if (!st) throw new Bit4bitError('input-unavailable', `${hint} does not exist`, 'negative');
  const what = `${blob.what} ${hint}`;
  if (!st.isDirectory()) {
    await cache.putFile(hint, { expected: blob.sha256, what });
    return;
  }
  progress(`packing ${hint}`);
  await mkdir(join(cache.dir, 'tmp'), { recursive: true });
  const tmp = join(cache.dir, 'tmp', `pack-${randomBytes(8).toString('hex')}.tar`);
  try {
    await packToFile(hint, tmp);
    await cache.putFile(tmp, { expected: blob.sha256, what: `${what} (packed with \`bit4bit pack\`)` });
  } finally {
    await rm(tmp, { force: true });
  }
}

async function download(url: string, blob: BlobSource, cache: BlobCache, options: FetchOptions): Promise<void> {
  options.progress(`fetching ${blob.what} from ${url}`);
  const response = await fetch(url, { signal: options.signal ?? null, redirect: 'follow' });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  let received = 0;
  let lastReport = Date.now();
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      options.progress(`${blob.what}: ${mib(received)}${total ? ` of ${mib(total)}` : ''}`);
    }
  });
  await cache.put(body, { expected: blob.sha256, what: `${blob.what} from ${url}` });
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
