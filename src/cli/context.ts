import type { Command } from 'commander';
import { resolveHome, type Home } from '../home/home.js';
import { AttestationStore } from '../store/store.js';

/** The home directory chosen by the global `--home` option. */
export function homeOf(cmd: Command): Home {
  return resolveHome(cmd.optsWithGlobals<{ home?: string }>().home);
}

/** Opens the home's store for the duration of `fn`. */
export async function withStore<T>(home: Home, fn: (store: AttestationStore) => Promise<T>): Promise<T> {
  const store = await AttestationStore.open(home.storeDir);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Exit codes (DESIGN §7). */
export const EXIT = { ok: 0, negative: 1, invalid: 2 } as const;
