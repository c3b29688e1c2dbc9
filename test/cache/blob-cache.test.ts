import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { BlobCache } from '../../src/cache/blob-cache.js';
import type { Bit4bitError } from '../../src/errors.js';
import { useTempDirs } from '../support/temp.js';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('cache: content-addressed blobs, verified on the way in', () => {
  const tempDir = useTempDirs();
  let cache: BlobCache;
  beforeEach(async () => {
    cache = new BlobCache(join(await tempDir(), 'cache'));
  });

  /** Every file under the cache, so a refused put can be shown to leave nothing behind. */
  async function files(): Promise<string[]> {
    return (await readdir(cache.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  }

  it('stores bytes under their sha256 and reads them back', async () => {
    const data = Buffer.from('hello, reproducible world\n');
    const hex = await cache.putBytes(data);
    assert.equal(hex, sha256(data));
    assert.equal(cache.path(hex), join(cache.dir, 'sha256', hex));
    assert.equal(await cache.has(hex), true);
    assert.equal(await cache.size(hex), data.length);
    assert.equal(await text(await cache.open(hex)), data.toString());
  });

  it('accepts bytes that match the pinned hash, from a stream or a file', async () => {
    const chunks = ['part one, ', 'part two'];
    const hex = sha256(chunks.join(''));
    assert.equal(await cache.put(Readable.from(chunks.map((c) => Buffer.from(c))), { expected: hex }), hex);
    const file = join(await tempDir(), 'input.bin');
    await writeFile(file, 'from a file');
    assert.equal(await cache.putFile(file, { expected: sha256('from a file') }), sha256('from a file'));
    assert.deepEqual(await readFile(cache.path(sha256('from a file')), 'utf8'), 'from a file');
  });

  it('refuses bytes that do not match the pinned hash, naming both hashes, and stores nothing', async () => {
    const pinned = sha256('what the spec pinned');
    await assert.rejects(cache.putBytes(Buffer.from('something else'), { expected: pinned, what: 'source of spec X' }), (e: Bit4bitError) => {
      assert.equal(e.code, 'input-hash-mismatch');
      assert.equal(e.kind, 'negative');
      assert.match(e.message, new RegExp(`^source of spec X has sha256 ${sha256('something else')}, but ${pinned} was pinned`));
      return true;
    });
    assert.equal(await cache.has(pinned), false);
    assert.equal(await cache.has(sha256('something else')), false);
    assert.deepEqual(await files(), []);
  });

  it('refuses a blob over the size limit and stores nothing', async () => {
    const big = Buffer.alloc(10_001, 7);
    await assert.rejects(cache.put(Readable.from([big.subarray(0, 5000), big.subarray(5000)]), { maxBytes: 10_000, what: 'base image' }), (e: Bit4bitError) => {
      assert.equal(e.code, 'too-large');
      assert.match(e.message, /^base image is larger than the 10000-byte limit/);
      return true;
    });
    assert.deepEqual(await files(), []);
    assert.equal(await cache.putBytes(big.subarray(0, 10_000), { maxBytes: 10_000 }), sha256(big.subarray(0, 10_000)), 'exactly at the limit is fine');
  });

  it('storing the same blob twice keeps one copy', async () => {
    await cache.putBytes(Buffer.from('same'));
    await cache.putBytes(Buffer.from('same'));
    assert.deepEqual(await files(), [cache.path(sha256('same'))]);
  });

  it('says clearly when a blob is absent, and refuses names that are not sha256 hex', async () => {
    const absent = sha256('absent');
    assert.equal(await cache.has(absent), false);
    assert.equal(await cache.size(absent), undefined);
    await assert.rejects(cache.open(absent), (e: Bit4bitError) => e.code === 'not-found' && e.message.includes(absent));
    assert.throws(() => cache.path('../../etc/passwd'), (e: Bit4bitError) => e.code === 'bad-digest');
    await assert.rejects(cache.putBytes(Buffer.from('x'), { expected: 'ABC' }), (e: Bit4bitError) => e.code === 'bad-digest');
  });
});
