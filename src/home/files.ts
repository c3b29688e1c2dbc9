import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Bit4bitError, invalidInput } from '../errors.js';

/**
 * Writes a file so that readers see either the old or the new content, never a
 * half-written one: write a temporary file beside it, fsync, rename over.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** Reads a user-named input file, refusing it clearly when missing or too large. */
export async function readInputFile(path: string, maxBytes: number, what = 'file'): Promise<Buffer> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw invalidInput('not-a-file', `${what} ${path} is not a regular file`);
    size = s.size;
  } catch (e) {
    if (e instanceof Bit4bitError) throw e;
    throw invalidInput('unreadable', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (size > maxBytes) throw invalidInput('too-large', `${what} ${path} is ${size} bytes, more than the ${maxBytes}-byte limit`);
  return readFile(path);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
