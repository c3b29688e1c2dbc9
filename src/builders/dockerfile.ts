import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageStore, readOciIndex } from '../build/image-store.js';
import type { BaseImage, DockerfileBuilder } from '../spec/types.js';
import { BuildFailure, type BackendOutput, type BuilderBackend, type BuildContext } from './backend.js';
import { installedToolVersion } from './tool-version.js';

/**
 * Dockerfile images with buildah (DESIGN §2: the digest is the OCI manifest digest).
 *
 * Reproducibility comes from (measured, see docs/builds.md):
 * - fresh vfs storage under the build's work dir, so nothing from earlier builds leaks in;
 * - base images only from their verified OCI layouts (the local image store), pulled by
 *   digest and tagged with the name the Dockerfile uses; `--pull=never`, so a FROM can
 *   resolve to nothing else;
 * - `--timestamp SOURCE_DATE_EPOCH` (config dates and every file's mtime in the new
 *   layers), `--identity-label=false`, `--build-arg SOURCE_DATE_EPOCH=...` (buildah 1.28
 *   does not export it to RUN steps; tools such as useradd honour it);
 * - chroot isolation inside the hermetic runner's empty network namespace: RUN steps
 *   have no network (`--network none` is refused with chroot isolation).
 */

/** Where RUN steps find the spec's locked Debian packages as an apt repository. */
export const DEBIAN_REPO_MOUNT = '/bit4bit/debian';
const OUTPUT_TAG = 'latest';

export const dockerfileBackend: BuilderBackend = {
  type: 'dockerfile',
  tool: 'buildah',
  installedVersion: buildahVersion,
  build: buildDockerfile,
};

export async function buildahVersion(): Promise<string | null> {
  return installedToolVersion('buildah', /version\s+(\S+)/);
}

async function buildDockerfile(ctx: BuildContext): Promise<BackendOutput> {
  const builder = ctx.spec.builder as DockerfileBuilder;
  const dockerfile = join(ctx.sourceDir, builder.dockerfile ?? 'Dockerfile');
  const text = await readFile(dockerfile, 'utf8').catch(() => {
    throw new BuildFailure('build-error', `the source has no ${builder.dockerfile ?? 'Dockerfile'} (builder.dockerfile)`);
  });
  checkImageReferences(parseDockerfile(text, builder.buildArgs ?? {}), builder.baseImages);

  const storage = join(ctx.workDir, 'storage');
  const buildah = ['buildah', '--storage-driver', 'vfs', '--root', join(storage, 'root'), '--runroot', join(storage, 'runroot')];
  const env = { BUILDAH_ISOLATION: 'chroot' };

  // Base images: verified layout → fresh storage → the name the Dockerfile uses.
  const bases = join(ctx.workDir, 'bases');
  await mkdir(bases, { recursive: true });
  const store = new ImageStore(ctx.cache);
  for (const [i, base] of builder.baseImages.entries()) {
    const { name, tag, digest } = splitReference(base.image);
    ctx.progress(`importing base image ${base.image}`);
    await store.materialize(digest, join(bases, String(i)), 'bit4bit');
    // buildah names a pulled layout after its path, which must be lowercase: refer to
    // it through /proc/self/cwd so the work dir's own path does not matter.
    const pulled = await ctx.run([...buildah, 'pull', '-q', `oci:/proc/self/cwd/${i}:bit4bit`], { cwd: bases, env });
    const id = pulled.stdout.trim().split('\n').pop()!;
    // Tagging by digest is not supported; the image keeps its manifest digest, so
    // `FROM name@sha256:...` resolves through the name plus that digest.
    await ctx.run([...buildah, 'tag', id, `${name}:${tag ?? `pinned-${digest.slice(7, 19)}`}`], { env });
  }

  const args = [
    ...buildah,
    'build',
    '--pull=never',
    '--isolation',
    'chroot',
    '--platform',
    builder.platform ?? 'linux/amd64',
    '--timestamp',
    String(ctx.spec.sourceDateEpoch),
    '--identity-label=false',
    '-f',
    dockerfile,
    ...(builder.target ? ['--target', builder.target] : []),
    ...Object.entries(builder.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    '--build-arg',
    `SOURCE_DATE_EPOCH=${ctx.spec.sourceDateEpoch}`,
    ...(ctx.debianRepo ? ['--volume', `${ctx.debianRepo.dir}:${DEBIAN_REPO_MOUNT}:ro`] : []),
    '-t',
    'localhost/bit4bit-output:build',
    ctx.sourceDir,
  ];
  ctx.progress(`buildah build ${builder.dockerfile ?? 'Dockerfile'}${builder.target ? ` --target ${builder.target}` : ''}`);
  await ctx.run(args, { env, onLine: (line) => /^STEP \d+\/\d+/.test(line) && ctx.progress(line) });

  const artifact = join(ctx.outDir, 'image');
  const digestFile = join(ctx.workDir, 'digest');
  ctx.progress('writing the OCI layout');
  await ctx.run([...buildah, 'push', '-q', '--digestfile', digestFile, 'localhost/bit4bit-output:build', `oci:${artifact}:${OUTPUT_TAG}`], { env });
  const digest = (await readFile(digestFile, 'utf8')).trim();
  const listed = (await readOciIndex(artifact)).manifests.map((m) => m.digest);
  if (!/^sha256:[0-9a-f]{64}$/.test(digest) || !listed.includes(digest)) {
    throw new BuildFailure('build-error', `buildah push reported digest ${JSON.stringify(digest)}, which the output layout does not list (${listed.join(', ')})`);
  }
  return { digest, artifact };
}

export interface ImageReference {
  /** `FROM` (stage base) or `COPY --from` / `ADD --from`. */
  kind: 'from' | 'copy-from';
  image: string;
  line: number;
}

export interface ParsedDockerfile {
  references: ImageReference[];
  stages: string[];
}

/**
 * The image references of a Dockerfile: every FROM image and every `--from=` of
 * COPY/ADD, with ARG values (defaults before the first FROM, overridden by the spec's
 * build args) substituted as buildah would.
 */
export function parseDockerfile(text: string, buildArgs: Record<string, string>): ParsedDockerfile {
  const args: Record<string, string> = {};
  const references: ImageReference[] = [];
  const stages: string[] = [];
  let seenFrom = false;
  const substitute = (s: string) =>
    s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a: string | undefined, dflt: string | undefined, b: string | undefined) => {
      const name = (a ?? b)!;
      return buildArgs[name] ?? args[name] ?? dflt ?? '';
    });
  for (const { text: instr, line } of logicalLines(text)) {
    const m = /^(\S+)\s*(.*)$/s.exec(instr);
    if (!m) continue;
    const [keyword, rest] = [m[1]!.toUpperCase(), m[2]!];
    const words = rest.split(/\s+/).filter(Boolean);
    if (keyword === 'ARG' && !seenFrom) {
      for (const w of words) {
        const eq = w.indexOf('=');
        if (eq > 0) args[w.slice(0, eq)] = w.slice(eq + 1).replace(/^"(.*)"$/, '$1');
      }
    } else if (keyword === 'FROM') {
      seenFrom = true;
      const plain = words.filter((w) => !w.startsWith('--'));
      if (plain[0]) references.push({ kind: 'from', image: substitute(plain[0]), line });
      if (plain.length >= 3 && plain[1]!.toUpperCase() === 'AS') stages.push(plain[2]!.toLowerCase());
      else stages.push(String(stages.length));
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      for (const w of words) {
        if (!w.startsWith('--')) break;
        const from = /^--from=(.+)$/.exec(w);
        if (from) references.push({ kind: 'copy-from', image: substitute(from[1]!), line });
      }
    }
  }
  return { references, stages };
}

/** Joins `\` continuations and drops comments and blank lines. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current = '';
  let start = 0;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return;
    if (current === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      current += `${trimmed.slice(0, -1)} `;
      return;
    }
    current += trimmed;
    if (current.trim()) out.push({ text: current.trim(), line: start });
    current = '';
  });
  if (current.trim()) out.push({ text: current.trim(), line: start });
  return out;
}

/**
 * Every image the Dockerfile names must be `scratch`, an earlier build stage, or one of
 * builder.baseImages written exactly as in the spec (so the pin the spec shows is the
 * image the build uses).
 */
export function checkImageReferences(parsed: ParsedDockerfile, baseImages: readonly BaseImage[]): void {
  const pinned = new Set(baseImages.map((b) => b.image));
  const stages = new Set(parsed.stages);
  for (const ref of parsed.references) {
    if (ref.kind === 'from' && ref.image.toLowerCase() === 'scratch') continue;
    if (stages.has(ref.image.toLowerCase())) continue;
    if (pinned.has(ref.image)) continue;
    const what = ref.kind === 'from' ? 'FROM' : 'COPY/ADD --from';
    const list = baseImages.length ? baseImages.map((b) => b.image).join(', ') : 'none';
    throw new BuildFailure(
      'build-error',
      `Dockerfile line ${ref.line}: ${what} ${ref.image} is not a build stage, scratch, or one of builder.baseImages (${list}); ` +
        'write it in the Dockerfile exactly as pinned in the spec (name@sha256:<manifest digest>)',
    );
  }
}

/** `name[:tag]@sha256:hex` → parts (the spec schema guarantees the shape). */
export function splitReference(image: string): { name: string; tag?: string; digest: string } {
  const at = image.lastIndexOf('@');
  const [named, digest] = [image.slice(0, at), image.slice(at + 1)];
  const colon = named.lastIndexOf(':');
  if (colon > named.lastIndexOf('/')) return { name: named.slice(0, colon), tag: named.slice(colon + 1), digest };
  return { name: named, digest };
}
