import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobCache } from '../cache/blob-cache.js';
import { SHA256_DIGEST, SHA256_HEX } from '../canonical/index.js';
import { Bit4bitError } from '../errors.js';
import { unpackTar } from '../source/pack.js';
import { sha256OfFile } from '../cache/blob-cache.js';

/**
 * Local image store: OCI images by manifest digest, for base images that exist in no
 * registry (DESIGN §1: base images pinned by digest).
 *
 * OCI already names every blob (manifest, config, layers) by its sha256, so an image's
 * blobs are kept as ordinary blobs of the content-addressed cache and need no index:
 * an image is present when its manifest blob and every blob that manifest references
 * are. Blobs enter the cache only after hashing to their names, and images share
 * layers, so storing a build's output links a few files and materialising a base image
 * copies them: no whole-layout archive is packed, unpacked or re-hashed.
 */
export class ImageStore {
  constructor(readonly cache: BlobCache) {}

  /** The blobs (hex) an image needs, manifest first; undefined unless all are stored. */
  private async blobsOf(digest: string): Promise<string[] | undefined> {
    const manifestHex = hexOf(digest);
    if (!(await this.cache.has(manifestHex))) return undefined;
    const manifest = parseManifest(await readFile(this.cache.path(manifestHex), 'utf8'), digest);
    const blobs = [manifestHex, ...[manifest.config, ...manifest.layers].map((d) => hexOf(d.digest))];
    for (const b of blobs) if (!(await this.cache.has(b))) return undefined;
    return blobs;
  }

  async has(digest: string): Promise<boolean> {
    return (await this.blobsOf(digest)) !== undefined;
  }

  /**
   * Stores the OCI layout in `layoutDir` (a build's output): every blob whose content
   * matches its name. Returns the manifest digests it holds.
   */
  async addLayout(layoutDir: string): Promise<{ digests: string[] }> {
    const digests = await verifiedManifests(layoutDir);
    const dir = join(layoutDir, 'blobs', 'sha256');
    for (const name of await readdir(dir)) {
      if (SHA256_HEX.test(name) && !(await this.cache.has(name))) await this.cache.adoptFile(join(dir, name), name);
    }
    for (const d of digests) {
      if (!(await this.has(d))) throw new Bit4bitError('build-error', `${layoutDir} lacks blobs that manifest ${d} references`, 'negative');
    }
    return { digests };
  }

  /**
   * Stores the images of a layout tar that is already in the cache (a base image's
   * `layout.sha256`). Returns the manifest digests it holds.
   */
  async importLayoutBlob(sha256: string, scratchDir: string): Promise<string[]> {
    const dir = join(scratchDir, `import-${sha256.slice(0, 16)}`);
    await rm(dir, { recursive: true, force: true });
    try {
      await unpackTar(await this.cache.open(sha256), dir);
      return (await this.addLayout(dir)).digests;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Writes the stored image `digest` into `dest` as an OCI layout whose index.json
   * names only that manifest, under `tag`. Returns the buildah/skopeo reference
   * `oci:<dest>:<tag>`. Throws `input-unavailable` when the image is not stored.
   */
  async materialize(digest: string, dest: string, tag = 'bit4bit'): Promise<string> {
    const blobs = await this.blobsOf(digest);
    if (!blobs) throw new Bit4bitError('input-unavailable', `image ${digest} is not in the local image store`, 'negative');
    await mkdir(join(dest, 'blobs', 'sha256'), { recursive: true });
    // Copies, not links: nothing a tool does to its working copy can reach the cache.
    for (const b of blobs) await copyFile(this.cache.path(b), join(dest, 'blobs', 'sha256', b), constants.COPYFILE_FICLONE);
    const size = (await stat(this.cache.path(blobs[0]!))).size;
    const index = {
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    };
    await writeFile(join(dest, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(dest, 'index.json'), JSON.stringify(index));
    return `oci:${dest}:${tag}`;
  }
}

interface OciManifest {
  config: { digest: string };
  layers: { digest: string }[];
}

function parseManifest(text: string, digest: string): OciManifest {
  const m = JSON.parse(text) as Partial<OciManifest>;
  const ok = (d: unknown) => typeof d === 'object' && d !== null && SHA256_DIGEST.test((d as { digest?: string }).digest ?? '');
  if (!ok(m.config) || !Array.isArray(m.layers) || !m.layers.every(ok)) {
    throw new Bit4bitError('input-unavailable', `${digest} is not a single-platform OCI image manifest`, 'negative');
  }
  return m as OciManifest;
}

/** Reads an OCI layout's index.json: the manifest digests whose blobs hash to their names. */
export async function verifiedManifests(layoutDir: string): Promise<string[]> {
  const index = await readOciIndex(layoutDir);
  const out: string[] = [];
  for (const m of index.manifests) {
    if (!SHA256_DIGEST.test(m.digest)) continue;
    if ((await sha256OfFile(blobPath(layoutDir, m.digest))) === hexOf(m.digest)) out.push(m.digest);
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


function hexOf(digest: string): string {
  if (!SHA256_DIGEST.test(digest)) throw new Bit4bitError('bad-digest', `expected sha256:<64 hex>, got ${digest}`);
  return digest.slice('sha256:'.length);
}
