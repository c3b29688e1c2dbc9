import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { BuildFailure, type BackendOutput, type BuilderBackend, type BuildContext } from './backend.js';
import { sha256OfFile } from '../cache/blob-cache.js';
import { installedToolVersion } from './tool-version.js';

/**
 * `mkosi` backend: an OS image built by mkosi from the config tree in the source
 * (builder.directory, default the source root), installing only from the local
 * repository of the spec's package lock, with no network.
 *
 * The node, not the config, supplies what must be the same on every verifier:
 * SourceDateEpoch (the spec's), Seed (builder.seed, else derived from the spec id),
 * the mirror (the local repository) and every output/cache directory (inside this
 * build's work and out dirs, so nothing is read from or left in the user's caches).
 * A config's own values for these are overridden: command-line options win in mkosi.
 *
 * Digest (DESIGN §2, docs/formats/digest.md): sha256 of the output file for single-file
 * formats (tar, cpio, disk, ...); for a directory output, `directoryDigest`.
 */

export const mkosiBackend: BuilderBackend = {
  type: 'mkosi',
  tool: 'mkosi',
  installedVersion: () => installedToolVersion('mkosi', /^mkosi (\S+)/m),
  build: buildMkosi,
};

/** mkosi's output file extensions (mkosi 24 config.py: OutputFormat/Compression.extension). */
const FORMAT_EXTENSION: Record<string, string> = { confext: '.raw', cpio: '.cpio', disk: '.raw', esp: '.raw', portable: '.raw', sysext: '.raw', tar: '.tar', uki: '.efi' };
const OUTER_COMPRESSION = new Set(['tar', 'cpio', 'disk', 'sysext', 'confext', 'portable']);

interface MkosiSummaryImage {
  Distribution?: string;
  Release?: string;
  Format?: string;
  Output?: string;
  CompressOutput?: string | null;
}

async function buildMkosi(ctx: BuildContext): Promise<BackendOutput> {
  const builder = ctx.spec.builder;
  if (builder.type !== 'mkosi') throw new BuildFailure('build-error', `the mkosi backend cannot build a ${builder.type} spec`);
  const repo = ctx.debianRepo;
  if (!repo) {
    throw new BuildFailure('input-unavailable', 'an mkosi build installs only locked packages, but the spec has no builder.packages.lock (make one with `bit4bit lock debian`)');
  }
  const configDir = resolve(ctx.sourceDir, builder.directory ?? '.');
  const inside = relative(ctx.sourceDir, configDir);
  if (inside.startsWith('..') || isAbsolute(inside)) throw new BuildFailure('build-error', `builder.directory ${builder.directory} is outside the source tree`);
  if (!(await lstat(configDir).then((s) => s.isDirectory(), () => false))) {
    throw new BuildFailure('build-error', `builder.directory ${builder.directory ?? '.'} is not a directory in the source tree`);
  }

  const outputDir = join(ctx.outDir, 'mkosi');
  const dirs = { workspace: join(ctx.workDir, 'mkosi-workspace'), packages: join(ctx.workDir, 'mkosi-package-cache'), cache: join(ctx.workDir, 'mkosi-cache') };
  for (const d of [outputDir, ...Object.values(dirs)]) await mkdir(d, { recursive: true });
  // ctx.run gives mkosi its own PID namespace but keeps the host's /proc, where bwrap
  // then looks for its children's /proc/<pid>/ns and fails: mount a /proc that matches
  // the namespace, in a private mount namespace (nothing leaks to the host).
  const mkosi = ['unshare', '--mount', '--mount-proc', '--', 'mkosi'];
  const options = [
    '--directory', configDir,
    '--source-date-epoch', String(ctx.spec.sourceDateEpoch),
    '--seed', builder.seed ?? seedForSpec(ctx.specId),
    '--local-mirror', `file://${repo.dir}`,
    '--output-dir', outputDir,
    '--workspace-dir', dirs.workspace,
    '--package-cache-dir', dirs.packages,
    '--cache-dir', dirs.cache,
  ];

  // What mkosi will build, as it resolves the config (the last image is the main one).
  const summary = JSON.parse((await ctx.run([...mkosi, ...options, '--json', 'summary'], { cwd: configDir })).stdout) as { Images?: MkosiSummaryImage[] };
  const image = summary.Images?.at(-1);
  if (!image?.Format || !image.Output) throw new BuildFailure('build-error', 'mkosi summary names no image to build');
  if (image.Distribution !== 'debian') {
    throw new BuildFailure('build-error', `the mkosi config builds ${image.Distribution}; only Debian images (from a package lock) can be rebuilt offline today`);
  }
  if (image.Release !== repo.suite) {
    throw new BuildFailure('build-error', `the mkosi config builds Debian ${image.Release}, but the package lock is for ${repo.suite}`);
  }
  if (image.Format === 'none') throw new BuildFailure('build-error', 'the mkosi config has Format=none: it produces no image to attest');
  const output = join(outputDir, outputName(image));

  const started = Date.now();
  ctx.progress(`mkosi: ${image.Format} image of Debian ${image.Release} from ${builder.directory ?? '.'}`);
  await ctx.run([...mkosi, ...options, '--force', 'build'], {
    cwd: configDir,
    onLine: (line) => {
      if (/^‣|^(Error|Warning)/.test(line.trim())) ctx.progress(`  ${line.trim()}`);
    },
  });
  const st = await lstat(output).catch(() => undefined);
  let digest: string;
  if (st?.isFile()) digest = `sha256:${await sha256OfFile(output)}`;
  else if (st?.isDirectory()) digest = await directoryDigest(output);
  else throw new BuildFailure('build-error', `mkosi finished but its output ${output} is missing`);
  ctx.progress(`mkosi: ${digest} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { digest, artifact: output };
}

function outputName(image: MkosiSummaryImage): string {
  const format = image.Format!;
  const compression = image.CompressOutput && image.CompressOutput !== 'none' && OUTER_COMPRESSION.has(format) ? image.CompressOutput : undefined;
  const suffix = compression ? (compression === 'zstd' || compression === 'zst' ? '.zst' : `.${compression}`) : '';
  return `${image.Output}${FORMAT_EXTENSION[format] ?? ''}${suffix}`;
}

/**
 * The default Seed (it fixes the UUIDs mkosi/systemd-repart generate): a UUID made
 * from sha256("bit4bit mkosi seed\0" + spec id), version 4/variant 1 bits set, so
 * every verifier of one spec derives the same one.
 */
export function seedForSpec(specId: string): string {
  const b = createHash('sha256').update(`bit4bit mkosi seed\0${specId}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The digest of a directory output (docs/formats/digest.md, "directory digest"):
 * sha256 over every entry below the root, sorted by path bytes, each entry encoded as
 * eight NUL-terminated fields:
 *   path, type (f d l c b p s), mode (4-digit octal of mode & 07777), uid, gid,
 *   size (regular files, else 0), link target (symlinks; "major,minor" for devices,
 *   else empty), content sha256 (regular files, hex, else empty).
 * Paths are relative to the root, without "./"; the root itself is ".". mtimes,
 * xattrs, ACLs and hard-link structure are not part of it.
 */
export async function directoryDigest(root: string): Promise<string> {
  // Collect first, then sort the whole list by path bytes: a depth-first walk would
  // put "a/b" before "a-c", although "-" (0x2d) sorts before "/" (0x2f).
  const paths: Buffer[] = [];
  const walk = async (rel: Buffer | null): Promise<void> => {
    for (const name of await readdir(pathOf(root, rel), { encoding: 'buffer' })) {
      const child = rel ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      paths.push(child);
      if ((await lstat(pathOf(root, child))).isDirectory()) await walk(child);
    }
  };
  await walk(null);
  paths.sort(Buffer.compare);

  const hash = createHash('sha256');
  for (const rel of [null, ...paths]) {
    const full = pathOf(root, rel);
    const st = await lstat(full);
    const type = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : 's';
    let target = Buffer.alloc(0);
    if (type === 'l') target = await readlink(full, { encoding: 'buffer' });
    // Linux dev_t: major = bits 8-19 (and 32+), minor = bits 0-7 and 20-31.
    else if (type === 'c' || type === 'b') target = Buffer.from(`${Math.floor(st.rdev / 256) & 0xfff},${(st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00)}`);
    const fields = [
      rel ?? Buffer.from('.'),
      Buffer.from(type),
      Buffer.from((st.mode & 0o7777).toString(8).padStart(4, '0')),
      Buffer.from(String(st.uid)),
      Buffer.from(String(st.gid)),
      Buffer.from(String(type === 'f' ? st.size : 0)),
      target,
      Buffer.from(type === 'f' ? await sha256OfFile(full) : ''),
    ];
    for (const f of fields) hash.update(f).update(NUL);
  }
  return `sha256:${hash.digest('hex')}`;
}

const NUL = Buffer.from([0]);

function pathOf(root: string, rel: Buffer | null): Buffer {
  return rel ? Buffer.concat([Buffer.from(root), Buffer.from('/'), rel]) : Buffer.from(root);
}


