import { readInputFile } from '../home/files.js';
import { SHA256_DIGEST } from '../canonical/index.js';
import { MAX_SPEC_BYTES, parseSpec } from './validate.js';
import type { LoadedSpec } from './types.js';

/** Reads and validates a spec file (YAML or JSON). */
export async function loadSpecFile(path: string): Promise<LoadedSpec> {
  const text = (await readInputFile(path, MAX_SPEC_BYTES, 'spec')).toString('utf8');
  return parseSpec(text, `spec ${path}`);
}

/** A command argument that is either a spec id (`sha256:<hex>`) or a spec file. */
export async function resolveSpecArgument(arg: string): Promise<{ id: string; loaded?: LoadedSpec }> {
  if (SHA256_DIGEST.test(arg)) return { id: arg };
  const loaded = await loadSpecFile(arg);
  return { id: loaded.id, loaded };
}
