import { Level } from 'level';

/**
 * Every key and value in a (closed) LevelDB directory, as raw strings, read with a
 * plain `level` handle rather than the store's own code.
 */
export async function dumpLevel(dir: string): Promise<[string, string][]> {
  const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    return await db.iterator().all();
  } finally {
    await db.close();
  }
}
