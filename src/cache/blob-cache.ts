import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SHA256_HEX } from '../canonical/index.js';
import { Bit4bitError, invalidInput } from '../errors.js';

/**
 * Content-addressed blob cache: `<dir>/sha256/<hex>`. A blob enters only after its
 * bytes hashed to the name it is stored under, so anything read from here has been
 * verified. Writes go to a temporary file and are renamed into place.
 */
export class BlobCache {
  constructor(readonly dir: string) {}

  path(sha256: string): string {
    assertHex(sha256);
    return join(this.dir, 'sha256', sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.path(sha256)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  async size(sha256: string): Promise<number | undefined> {
    return stat(this.path(sha256)).then(
      (s) => s.size,
      () => undefined,
    );
  }

  /**
   * Streams bytes into the cache, verifying they hash to `expected` (when given) and
   * stay under `maxBytes`. Returns the sha256 of what was stored. On mismatch nothing
   * is stored and an `input-hash-mismatch` error names both hashes.
   */
  async put(source: Readable | AsyncIterable<Uint8Array>, { expected, maxBytes = Number.MAX_SAFE_INTEGER, what = 'blob' }: PutOptions = {}): Promise<string> {
    if (expected !== undefined) assertHex(expected);
    await mkdir(join(this.dir, 'sha256'), { recursive: true });
    await mkdir(join(this.dir, 'tmp'), { recursive: true });
    const tmp = join(this.dir, 'tmp', `${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(new Bit4bitError('too-large', `${what} is larger than the ${maxBytes}-byte limit`, 'invalid-input'));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp, { mode: 0o644 }));
      const actual = hash.digest('hex');
      if (expected !== undefined && actual !== expected) {
        throw new Bit4bitError('input-hash-mismatch', `${what} has sha256 ${actual}, but ${expected} was pinned; the input was changed or corrupted`, 'negative');
      }
      await rename(tmp, this.path(actual));
      return actual;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Copies a local file into the cache (verifying it when `expected` is given). */
  async putFile(file: string, options: PutOptions = {}): Promise<string> {
    return this.put(createReadStream(file), options);
  }

  /**
   * Takes a local file into the cache by hard link (a copy across filesystems) after
   * checking it hashes to `expected`. The caller must not modify the file afterwards.
   */
  async adoptFile(file: string, expected: string, what = `blob ${expected}`): Promise<void> {
    assertHex(expected);
    const actual = await sha256OfFile(file);
    if (actual !== expected) {
      throw new Bit4bitError('input-hash-mismatch', `${what} has sha256 ${actual}, but ${expected} was expected`, 'negative');
    }
    await mkdir(join(this.dir, 'sha256'), { recursive: true });
    try {
      await link(file, this.path(expected));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM') throw e;
      await this.putFile(file, { expected, what });
    }
  }

  async putBytes(data: Uint8Array, options: PutOptions = {}): Promise<string> {
    return this.put(Readable.from([data]), options);
  }

  /** Opens a cached blob for reading; throws `not-found` when absent. */
  async open(sha256: string): Promise<Readable> {
    if (!(await this.has(sha256))) throw new Bit4bitError('not-found', `blob ${sha256} is not in the cache`, 'negative');
    return createReadStream(this.path(sha256));
  }
}

/** The sha256 (hex) of a file's content, streamed. */
export async function sha256OfFile(path: string | Buffer): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface PutOptions {
  expected?: string;
  maxBytes?: number;
  /** How to name the blob in errors (e.g. "source of spec X"). */
  what?: string;
}

function assertHex(sha256: string): void {
  if (!SHA256_HEX.test(sha256)) throw invalidInput('bad-digest', `blob name must be 64 lowercase hex characters, got ${JSON.stringify(sha256)}`);
}
