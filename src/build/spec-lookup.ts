import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { loadSpecFile } from '../spec/load.js';
import type { LoadedSpec } from '../spec/types.js';

/**
 * Finding the spec that builds a base image (`baseImages[].spec`) on the local disk, so
 * `bit4bit build examples/hello-node/spec.yaml` can build `examples/debian-base` first.
 *
 * Rule (docs/builds.md): the spec file's folder is one of several sibling folders
 * (`examples/NAME/spec.yaml`); every sibling `../*\/spec.{yaml,yml,json}` is loaded and
 * the one whose spec id equals the pinned id is used, with `../NAME/source/` as its
 * source hint when that folder exists. Files that are not valid specs are skipped.
 */
export function siblingSpecResolver(specFile: string): (specId: string) => Promise<{ loaded: LoadedSpec; sourceHint?: string } | undefined> {
  const parent = dirname(dirname(resolve(specFile)));
  let found: Map<string, { loaded: LoadedSpec; dir: string }> | undefined;
  return async (specId) => {
    found ??= await scan(parent);
    const hit = found.get(specId);
    if (!hit) return undefined;
    const sourceHint = await defaultSourceHint(hit.dir);
    return { loaded: hit.loaded, ...(sourceHint && { sourceHint }) };
  };
}

async function scan(parent: string): Promise<Map<string, { loaded: LoadedSpec; dir: string }>> {
  const out = new Map<string, { loaded: LoadedSpec; dir: string }>();
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names.sort()) {
    for (const file of ['spec.yaml', 'spec.yml', 'spec.json']) {
      const path = join(parent, name, file);
      if (!(await isFile(path))) continue;
      const loaded = await loadSpecFile(path).catch(() => undefined);
      if (loaded && !out.has(loaded.id)) out.set(loaded.id, { loaded, dir: join(parent, name) });
    }
  }
  return out;
}

/** `<spec folder>/source/` when it exists: where an example keeps its build context. */
export async function defaultSourceHint(specDir: string): Promise<string | undefined> {
  const dir = join(specDir, 'source');
  return (await stat(dir).then((s) => s.isDirectory(), () => false)) ? dir : undefined;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}
