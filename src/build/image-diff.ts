import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { blobPath, readOciIndex } from './image-store.js';

/**
 * Explains why two OCI images (local layouts) differ, for `unstable` outcomes: which
 * config keys differ, which layers differ, and in those layers which paths differ in
 * content, mode, owner, mtime, type or link target. The same comparison as the probe's
 * oci-diff.py, in TypeScript so it needs nothing installed.
 */

interface Manifest {
  config: { digest: string };
  layers: { digest: string; mediaType?: string }[];
}

interface FileFacts {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  content: string;
  linkname: string;
}

export interface ImageDifference {
  /** One line per difference, e.g. `layer 1: /stamp (content, mtime)`. */
  lines: string[];
  /** The first pair of differing layer blobs, for deeper tools (diffoscope). */
  firstLayers?: [string, string];
}

export async function diffImages(layoutA: string, digestA: string, layoutB: string, digestB: string): Promise<ImageDifference> {
  if (digestA === digestB) return { lines: [] };
  const [a, b] = [await readManifest(layoutA, digestA), await readManifest(layoutB, digestB)];
  const lines: string[] = [];
  const [configA, configB] = [await readJson(layoutA, a.config.digest), await readJson(layoutB, b.config.digest)];
  for (const key of [...new Set([...Object.keys(configA), ...Object.keys(configB)])].sort()) {
    if (key === 'rootfs') continue; // diff_ids follow from the layers, reported below
    if (JSON.stringify(configA[key]) !== JSON.stringify(configB[key])) lines.push(`config.${key} differs`);
  }
  if (a.layers.length !== b.layers.length) lines.push(`layer count differs: ${a.layers.length} vs ${b.layers.length}`);
  let firstLayers: [string, string] | undefined;
  for (let i = 0; i < Math.min(a.layers.length, b.layers.length); i++) {
    const [la, lb] = [a.layers[i]!, b.layers[i]!];
    if (la.digest === lb.digest) continue;
    firstLayers ??= [blobPath(layoutA, la.digest), blobPath(layoutB, lb.digest)];
    const [filesA, filesB] = [await listLayer(blobPath(layoutA, la.digest)), await listLayer(blobPath(layoutB, lb.digest))];
    let found = 0;
    for (const path of [...new Set([...filesA.keys(), ...filesB.keys()])].sort()) {
      const [fa, fb] = [filesA.get(path), filesB.get(path)];
      if (!fa || !fb) {
        lines.push(`layer ${i}: /${path} (only in ${fa ? 'first' : 'second'} build)`);
        found++;
        continue;
      }
      const what = (Object.keys(fa) as (keyof FileFacts)[]).filter((k) => fa[k] !== fb[k]).map((k) => (k === 'uid' || k === 'gid' ? 'owner' : k));
      if (what.length) {
        lines.push(`layer ${i}: /${path} (${[...new Set(what)].join(', ')})`);
        found++;
      }
    }
    if (found === 0) lines.push(`layer ${i}: same files, different tar bytes (entry order or headers)`);
  }
  return { lines, ...(firstLayers && { firstLayers }) };
}

async function readManifest(layout: string, digest: string): Promise<Manifest> {
  const index = await readOciIndex(layout);
  const chosen = index.manifests.find((m) => m.digest === digest) ?? index.manifests[0];
  return JSON.parse(await readFile(blobPath(layout, chosen!.digest), 'utf8')) as Manifest;
}

async function readJson(layout: string, digest: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(blobPath(layout, digest), 'utf8')) as Record<string, unknown>;
}

/** Path → facts for every entry of a (gzip or plain) layer tar. */
async function listLayer(path: string): Promise<Map<string, FileFacts>> {
  const head = Buffer.alloc(2);
  const fd = await open(path, 'r');
  await fd.read(head, 0, 2, 0);
  await fd.close();
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const extract = tarExtract();
  const files = new Map<string, FileFacts>();
  const reading = (async () => {
    for await (const e of extract) {
      const hash = createHash('sha256');
      for await (const chunk of e as unknown as Readable) hash.update(chunk as Buffer);
      const h = e.header;
      files.set(h.name.replace(/^\.?\//, '').replace(/\/$/, ''), {
        type: h.type ?? 'file',
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0,
        size: h.size ?? 0,
        content: hash.digest('hex'),
        linkname: h.linkname ?? '',
      });
    }
  })();
  const input = createReadStream(path);
  await Promise.all([gz ? pipeline(input, createGunzip(), extract as unknown as NodeJS.WritableStream) : pipeline(input, extract as unknown as NodeJS.WritableStream), reading]);
  return files;
}
