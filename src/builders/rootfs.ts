import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootfsBuilder } from '../spec/types.js';
import { BuildFailure, type BackendOutput, type BuilderBackend, type BuildContext } from './backend.js';
import { installedToolVersion } from './tool-version.js';

/**
 * `rootfs` backend: a Debian root file system made by mmdebstrap from exactly the
 * locked .debs, packed as a single-layer OCI image by buildah (DESIGN §2: the digest
 * is the OCI manifest digest, what a registry would show).
 *
 * Reproducibility, as measured on Debian 12 (docs/formats/digest.md):
 * - mmdebstrap installs only from the local repository of the lock (copy://), under
 *   SOURCE_DATE_EPOCH, with no network; customize hooks drop the two files it copies
 *   from the host (resolv.conf, hostname) and write the standard Debian sources.list
 *   instead of the local repository's path;
 * - buildah runs with fresh vfs storage inside the work dir, commits with
 *   `--timestamp SOURCE_DATE_EPOCH --identity-label=false`, and pushes to an OCI layout.
 *   Its gzip output ties the digest to buildah's build (Debian's 1.28.2 here).
 */

const IMAGE = 'localhost/bit4bit-rootfs:build';
/** The tag of the image inside the output OCI layout (`oci:<dir>:latest`). */
export const ROOTFS_LAYOUT_TAG = 'latest';
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SUITE = /^[a-z][a-z0-9-]{0,31}$/;

export const rootfsBackend: BuilderBackend = {
  type: 'rootfs',
  tool: 'mmdebstrap',
  installedVersion: () => installedToolVersion('mmdebstrap', /^mmdebstrap (\S+)/m),
  build: buildRootfs,
};

async function buildRootfs(ctx: BuildContext): Promise<BackendOutput> {
  const builder = ctx.spec.builder;
  if (builder.type !== 'rootfs') throw new BuildFailure('build-error', `the rootfs backend cannot build a ${builder.type} spec`);
  const repo = ctx.debianRepo;
  if (!repo) throw new BuildFailure('input-unavailable', 'a rootfs build installs only locked packages, but no local repository was prepared from builder.packages.lock');
  if (repo.suite !== builder.suite) {
    throw new BuildFailure('build-error', `builder.suite is ${builder.suite}, but the package lock is for ${repo.suite}; make the lock with \`bit4bit lock debian --suite ${builder.suite}\``);
  }
  if (!SUITE.test(builder.suite)) throw new BuildFailure('build-error', `builder.suite ${JSON.stringify(builder.suite)} is not a Debian codename`);
  // mmdebstrap splits its mirror argument on spaces; buildah's oci: reference on ':'.
  for (const dir of [repo.dir, ctx.workDir, ctx.outDir]) {
    if (/[\s:]/.test(dir)) throw new BuildFailure('build-error', `the build directory ${dir} contains a space or colon, which mmdebstrap/buildah cannot take`);
  }

  const tar = join(ctx.workDir, 'rootfs.tar');
  const started = Date.now();
  ctx.progress(`mmdebstrap: ${builder.variant ?? 'minbase'} ${builder.suite} from the ${repo.dir} repository${builder.include?.length ? ` + ${builder.include.join(',')}` : ''}`);
  await ctx.run(mmdebstrapArgv(builder, repo.dir, tar), {
    onLine: (line) => {
      if (/^[IWE]: /.test(line)) ctx.progress(`  ${line}`);
    },
  });
  ctx.progress(`mmdebstrap: done in ${seconds(started)}`);

  const layout = join(ctx.outDir, 'oci');
  const digest = await ociImageFromTar(ctx, tar, builder.config ?? {}, layout);
  return { digest, artifact: layout };
}

/** The mmdebstrap command: nothing in it comes from a shell-parsed spec value. */
export function mmdebstrapArgv(builder: RootfsBuilder, repoDir: string, outTar: string): string[] {
  const suite = builder.suite;
  const sources = [
    `deb http://deb.debian.org/debian ${suite} main`,
    `deb http://deb.debian.org/debian ${suite}-updates main`,
    `deb http://deb.debian.org/debian-security ${suite}-security main`,
  ];
  return [
    'mmdebstrap',
    `--variant=${builder.variant ?? 'minbase'}`,
    ...(builder.include?.length ? [`--include=${builder.include.join(',')}`] : []),
    '--aptopt=Acquire::Languages "none"',
    // Both are copied from the host by mmdebstrap; an image must not depend on the builder's.
    '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
    // Otherwise sources.list names the local repository's path on this node.
    `--customize-hook=printf '${sources.join('\\n')}\\n' > "$1/etc/apt/sources.list"`,
    suite,
    outTar,
    `deb [trusted=yes] copy://${repoDir} ${suite} main`,
  ];
}

/** buildah: scratch + the tar + config → commit at SOURCE_DATE_EPOCH → OCI layout. */
async function ociImageFromTar(ctx: BuildContext, tar: string, config: NonNullable<RootfsBuilder['config']>, layout: string): Promise<string> {
  const storage = join(ctx.workDir, 'buildah');
  await mkdir(storage, { recursive: true });
  const buildah = ['buildah', '--storage-driver', 'vfs', '--root', join(storage, 'root'), '--runroot', join(storage, 'runroot')];
  const env = { BUILDAH_ISOLATION: 'chroot' };
  const started = Date.now();
  ctx.progress('buildah: packing the root file system as an OCI image');
  const { stdout } = await ctx.run([...buildah, 'from', '--quiet', '--pull=never', 'scratch'], { env });
  const container = stdout.trim().split('\n').pop() ?? '';
  await ctx.run([...buildah, 'add', '--quiet', container, tar, '/'], { env });
  await ctx.run([...buildah, 'config', ...imageConfigArgs(config), container], { env });
  const epoch = String(ctx.spec.sourceDateEpoch);
  await ctx.run([...buildah, 'commit', '--quiet', '--timestamp', epoch, '--identity-label=false', container, IMAGE], { env });
  const digestFile = join(ctx.workDir, 'rootfs.digest');
  await ctx.run([...buildah, 'push', '--quiet', '--digestfile', digestFile, IMAGE, `oci:${layout}:${ROOTFS_LAYOUT_TAG}`], { env });
  const digest = (await readFile(digestFile, 'utf8')).trim();
  await checkLayoutDigest(layout, digest);
  ctx.progress(`buildah: ${digest} in ${seconds(started)}`);
  return digest;
}

export function imageConfigArgs(config: NonNullable<RootfsBuilder['config']>): string[] {
  const env = config.env ?? [];
  return [
    '--os', 'linux',
    '--arch', 'amd64',
    ...(env.some((e) => e.startsWith('PATH=')) ? [] : ['--env', DEFAULT_PATH]),
    ...env.flatMap((e) => ['--env', e]),
    // JSON arrays: buildah takes them as exec form, never through a shell.
    ...(config.entrypoint ? ['--entrypoint', JSON.stringify(config.entrypoint)] : []),
    ...(config.cmd ? ['--cmd', JSON.stringify(config.cmd)] : []),
    ...(config.workingDir ? ['--workingdir', config.workingDir] : []),
    ...(config.user ? ['--user', config.user] : []),
  ];
}

/** The digest buildah reports must be the manifest the layout's index.json points to. */
async function checkLayoutDigest(layout: string, digest: string): Promise<void> {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new BuildFailure('build-error', `buildah reported ${JSON.stringify(digest)} as the image digest`);
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests?: { digest?: string }[] };
  const listed = (index.manifests ?? []).map((m) => m.digest);
  if (!listed.includes(digest)) throw new BuildFailure('build-error', `buildah reported ${digest}, but the OCI layout lists ${listed.join(', ') || 'no manifest'}`);
}


function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}
