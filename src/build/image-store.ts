import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobCache } from '../cache/blob-cache.js';
import { SHA256_DIGEST } from '../canonical/index.js';
import { Bit4bitError } from '../errors.js';
import { writeFileAtomic } from '../home/files.js';
import { listTree, packTree, unpackTar } from '../source/pack.js';

/**
 * Local image store: OCI images by manifest digest, for base images that exist in no
 * registry (DESIGN §1: base images pinned by digest).
 *
 * An image is kept as the deterministic tar (src/source/pack.ts) of an OCI image layout,
 * stored as an ordinary blob of the content-addressed cache, plus an index entry
 *   <cache>/images/<manifest hex>.json  →  {"layout": "<tar sha256>"}
 * The index is only a pointer: every use re-checks that the manifest inside the layout
 * hashes to the digest asked for, so a stale or edited index cannot substitute an image.
 */
export class ImageStore {
  constructor(readonly cache: BlobCache) {}

  private indexFile(digest: string): string {
    return join(this.cache.dir, 'images', `${hexOf(digest)}.json`);
  }

  /** The cache blob (sha256 hex) holding the layout of `digest`, if it is stored. */
  async layoutOf(digest: string): Promise<string | undefined> {
    const text = await readFile(this.indexFile(digest), 'utf8').catch(() => undefined);
    if (!text) return undefined;
    const layout = (JSON.parse(text) as { layout?: string }).layout;
    return layout && (await this.cache.has(layout)) ? layout : undefined;
  }

  async has(digest: string): Promise<boolean> {
    return (await this.layoutOf(digest)) !== undefined;
  }

  /**
   * Stores the OCI layout in `layoutDir` (a build's output), indexed by every manifest
   * digest its index.json lists and verifies. Returns the layout blob's sha256.
   */
  async addLayout(layoutDir: string): Promise<{ layout: string; digests: string[] }> {
    const digests = await verifiedManifests(layoutDir);
    // One pass: the deterministic tar streams straight into the cache, hashed on the way.
    const layout = await this.cache.put(packTree(layoutDir, await listTree(layoutDir)), { what: `OCI layout ${layoutDir}` });
    await this.index(layout, digests);
    return { layout, digests };
  }

  /**
   * Indexes a layout tar that is already in the cache (a base image's `layout.sha256`).
   * Returns the manifest digests it holds.
   */
  async importLayoutBlob(sha256: string, scratchDir: string): Promise<string[]> {
    const dir = join(scratchDir, `import-${sha256.slice(0, 16)}`);
    await rm(dir, { recursive: true, force: true });
    try {
      await unpackTar(await this.cache.open(sha256), dir);
      const digests = await verifiedManifests(dir);
      await this.index(sha256, digests);
      return digests;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Unpacks the stored image `digest` into `dest` as an OCI layout whose index.json
   * names only that manifest, under `tag`. Returns the buildah/skopeo reference
   * `oci:<dest>:<tag>`. Throws `input-unavailable` when the image is not stored.
   */
  async materialize(digest: string, dest: string, tag = 'bit4bit'): Promise<string> {
    const layout = await this.layoutOf(digest);
    if (!layout) throw new Bit4bitError('input-unavailable', `image ${digest} is not in the local image store`, 'negative');
    await unpackTar(await this.cache.open(layout), dest);
    const manifests = await verifiedManifests(dest);
    if (!manifests.includes(digest)) {
      throw new Bit4bitError('input-hash-mismatch', `the stored layout ${layout} does not hold manifest ${digest}`, 'negative');
    }
    const size = (await readFile(blobPath(dest, digest))).length;
    const index = {
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    };
    await writeFile(join(dest, 'index.json'), JSON.stringify(index));
    return `oci:${dest}:${tag}`;
  }

  private async index(layout: string, digests: string[]): Promise<void> {
    await mkdir(join(this.cache.dir, 'images'), { recursive: true });
    for (const d of digests) await writeFileAtomic(this.indexFile(d), `${JSON.stringify({ layout })}\n`);
  }
}

/** Reads an OCI layout's index.json: the manifest digests whose blobs hash to their names. */
export async function verifiedManifests(layoutDir: string): Promise<string[]> {
  const index = await readOciIndex(layoutDir);
  const out: string[] = [];
  for (const m of index.manifests) {
    if (!SHA256_DIGEST.test(m.digest)) continue;
    if ((await fileSha256(blobPath(layoutDir, m.digest))) === hexOf(m.digest)) out.push(m.digest);
  }
  if (out.length === 0) throw new Bit4bitError('input-hash-mismatch', `${layoutDir} holds no manifest whose blob matches its digest`, 'negative');
  return out;
}

export interface OciIndex {
  manifests: { digest: string; mediaType?: string; size?: number; annotations?: Record<string, string> }[];
}

export async function readOciIndex(layoutDir: string): Promise<OciIndex> {
  const text = await readFile(join(layoutDir, 'index.json'), 'utf8').catch(() => undefined);
  if (text === undefined) throw new Bit4bitError('build-error', `${layoutDir} is not an OCI image layout (no index.json)`, 'negative');
  const index = JSON.parse(text) as Partial<OciIndex>;
  return { manifests: Array.isArray(index.manifests) ? index.manifests : [] };
}

export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', hexOf(digest));
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function hexOf(digest: string): string {
  if (!SHA256_DIGEST.test(digest)) throw new Bit4bitError('bad-digest', `expected sha256:<64 hex>, got ${digest}`);
  return digest.slice('sha256:'.length);
}
