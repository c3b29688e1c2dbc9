import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ROOTFS_LAYOUT_TAG, rootfsBackend } from '../../src/builders/rootfs.js';
import { buildContextFor, loadExample } from '../debian/support.js';
import { Testbed } from '../net/netns.js';
import { waitUntil } from '../support/node-process.js';
import { useTempDirs } from '../support/temp.js';

/**
 * The project's Dockerfile, built and run as a user would, on this machine: no registry
 * can serve its pinned node:20-bookworm-slim, so a stand-in is made locally (bookworm
 * minbase from the debian-base example's locked .debs, plus this host's Node.js 20 and
 * npm where the official image has them) and passed as NODE_IMAGE. Everything else is
 * real: buildah, apt from the Debian mirror, `npm ci` from the npm registry.
 */

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const STAND_IN = 'localhost/bit4bit-test/node:20-bookworm-slim';
const DEBIAN = 'localhost/bit4bit-test/debian:bookworm-minbase';
const IMAGE = 'localhost/bit4bit-test/bit4bit:test';
const API_PORT = 8080;
const P2P_PORT = 4001;
const USER_ID = 10001;
/** Where the host's extra CA bundle goes in the stand-in; not a directory update-ca-certificates reads. */
const EXTRA_CA = '/usr/local/share/bit4bit-test/extra-ca-certificates.pem';

const exec = promisify(execFile);

/** Runs argv; on failure the error carries the command and the end of its output. */
async function run(argv: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<string> {
  const [cmd, ...args] = argv;
  try {
    const { stdout } = await exec(cmd!, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-60).join('\n');
    throw new Error(`${argv.join(' ')} failed: ${(e as Error).message.split('\n')[0]}\n${tail}`);
  }
}

/**
 * buildah as MACHINE.md measured it working daemonless: vfs storage in its own fresh
 * --root/--runroot (nothing shared with other tests or the host), chroot isolation.
 */
class Buildah {
  readonly root: string;
  readonly runroot: string;
  static readonly env = { BUILDAH_ISOLATION: 'chroot' };

  constructor(storage: string) {
    this.root = join(storage, 'root');
    this.runroot = join(storage, 'runroot');
  }

  get argv(): string[] {
    return ['buildah', '--storage-driver', 'vfs', '--root', this.root, '--runroot', this.runroot];
  }

  /** The same storage as a containers-storage reference, for skopeo. */
  storageReference(name: string): string {
    return `containers-storage:[vfs@${this.root}+${this.runroot}]${name}`;
  }

  run(args: readonly string[], timeoutMs?: number): Promise<string> {
    return run([...this.argv, ...args], Buildah.env, timeoutMs);
  }

  /** A working container from a local image (never pulled). */
  async from(image: string): Promise<string> {
    return (await this.run(['from', '--quiet', '--pull=never', image])).trim();
  }

  /** Runs a command in a container as its configured user; returns stdout. */
  exec(container: string, argv: readonly string[]): Promise<string> {
    return this.run(['run', container, '--', ...argv]);
  }
}

/**
 * The stand-in for node:20-bookworm-slim: the debian-base example (mmdebstrap minbase from
 * locked .debs, through the shared .deb cache) with node and npm laid out as in the
 * official image (/usr/local/bin/node, /usr/local/lib/node_modules/npm, npm and npx
 * links), its `node` user (uid 1000), its Entrypoint and Cmd, committed as STAND_IN.
 * Unlike debian:bookworm-slim it has no docker-clean apt hook, so the Dockerfile must
 * clean apt's downloads itself (it does: `apt-get clean`).
 */
async function makeStandIn(buildah: Buildah, workRoot: string): Promise<void> {
  const ctx = await buildContextFor(await loadExample('debian-base'), workRoot);
  const { artifact } = await rootfsBackend.build(ctx);
  // skopeo, not `buildah from oci:...`: buildah names an image pulled from a layout after
  // its path, which mkdtemp's mixed case makes an invalid reference.
  await run(['skopeo', 'copy', '--quiet', `oci:${artifact}:${ROOTFS_LAYOUT_TAG}`, buildah.storageReference(DEBIAN)]);

  const node = await realpath(process.execPath);
  assert.equal(process.versions.node.split('.')[0], '20', `the stand-in must carry Node.js 20, but this host runs ${process.version}`);
  const npm = join((await run(['npm', 'root', '--global'])).trim(), 'npm');
  await access(join(npm, 'bin', 'npm-cli.js'));

  const c = await buildah.from(DEBIAN);
  await buildah.run(['copy', '--quiet', c, node, '/usr/local/bin/node']);
  await buildah.run(['copy', '--quiet', c, npm, '/usr/local/lib/node_modules/npm']);
  await buildah.exec(c, [
    'sh',
    '-c',
    'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm' +
      ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx' +
      ' && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  ]);
  // This machine reaches the npm registry through a TLS-intercepting egress proxy whose
  // CA the host trusts through NODE_EXTRA_CA_CERTS; without it `npm ci` in the build fails
  // with SELF_SIGNED_CERT_IN_CHAIN. The official base has no such setting (and needs none
  // on an open network): the stand-in carries the host's, when the host has one.
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const caEnv = extraCa ? ['--env', `NODE_EXTRA_CA_CERTS=${EXTRA_CA}`] : [];
  if (extraCa) await buildah.run(['copy', '--quiet', c, extraCa, EXTRA_CA]);
  // The official image's Entrypoint and Cmd: the Dockerfile must replace both (Docker
  // resets an inherited CMD when ENTRYPOINT is set). Its docker-entrypoint.sh is not
  // needed here, since it is never run.
  await buildah.run(['config', '--env', `NODE_VERSION=${process.versions.node}`, ...caEnv, '--entrypoint', '["docker-entrypoint.sh"]', '--cmd', '["node"]', c]);
  await buildah.run(['commit', '--quiet', '--rm', c, STAND_IN]);
}

/** `buildah build` of the repository's Dockerfile on the stand-in; never pulls. */
async function buildImage(buildah: Buildah): Promise<void> {
  await buildah.run(['build', '--isolation', 'chroot', '--pull=never', '--build-arg', `NODE_IMAGE=${STAND_IN}`, '--file', join(REPO, 'Dockerfile'), '--tag', IMAGE, REPO], 15 * 60_000);
}

interface ImageConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[] | null;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
}

/** A container started from the entry point (what `docker run IMAGE` starts), its output collected. */
class EntrypointRun {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(argv: readonly string[]) {
    const [cmd, ...args] = argv;
    this.child = spawn(cmd!, args, { env: { ...process.env, ...Buildah.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('exit', (code) => resolve(code));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The API URL the node prints once it is up. */
  apiUrl(): string | undefined {
    return this.stdout.split('\n').find((l) => l.startsWith('http'));
  }

  /** Kills buildah (it does not forward signals); for cleanup after a failure only. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  output(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }
}

/** The pids in a network namespace whose command is `comm` (`ip netns pids` lists all). */
async function pidsNamed(ns: string, comm: string): Promise<number[]> {
  const pids = (await run(['ip', 'netns', 'pids', ns])).split('\n').filter(Boolean).map(Number);
  const named: number[] = [];
  for (const pid of pids) {
    const name = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (name.trim() === comm) named.push(pid);
  }
  return named;
}

/** The effective uid of a running process, from /proc/PID/status. */
async function uidOf(pid: number): Promise<number> {
  const line = (await readFile(`/proc/${pid}/status`, 'utf8')).split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[2]);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The first `x.y.z` in a tool's `--version` output. */
function versionIn(text: string): string {
  const m = /(\d+\.\d+(?:\.\d+)?)/.exec(text);
  assert.ok(m, `no version in ${JSON.stringify(text)}`);
  return m[1]!;
}

describe('container image: the Dockerfile on a stand-in node:20-bookworm-slim (real mmdebstrap, buildah, apt, npm ci)', function () {
  // Measured here on 2 cores: ~30 s stand-in, ~50 s build (apt and npm downloads), ~10 s
  // checks and cleanup; ~1.5 min in all.
  this.timeout(15 * 60_000);
  let buildah: Buildah;
  let container = '';
  let config: ImageConfig;
  let rootfs = '';
  let testbed: Testbed | undefined;
  let entrypoint: EntrypointRun | undefined;

  // Registered before useTempDirs' hook, so it runs first: nothing may still use the storage.
  after(async () => {
    entrypoint?.kill();
    // A failure to start was already reported by the test that started it.
    await entrypoint?.exited.catch(() => null);
    await testbed?.destroy();
    if (buildah) await buildah.run(['rm', '--all']);
  });
  const tempDir = useTempDirs('bit4bit-container-');

  before(async () => {
    buildah = new Buildah(await tempDir());
    await makeStandIn(buildah, await tempDir());
    await buildImage(buildah);
    config = (JSON.parse(await buildah.run(['inspect', '--type', 'image', IMAGE])) as { OCIv1: { config: ImageConfig } }).OCIv1.config;
    container = await buildah.from(IMAGE);
    // With vfs this is the container's root directory on the host: read it as `docker export` would.
    rootfs = (await buildah.run(['mount', container])).trim();
  });

  it('.dockerignore keeps the host\'s node_modules, dist and .git out of the build context', async () => {
    const ignored = (await readFile(join(REPO, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
    for (const dir of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(dir), `.dockerignore lacks ${dir}`);
  });

  it('has the documented config: user bit4bit (uid 10001), the /data volume, ports 4001 and 8080, the entry point and no inherited CMD', async () => {
    assert.equal(config.User, 'bit4bit');
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/data']);
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}).sort(), [`${P2P_PORT}/tcp`, `${API_PORT}/tcp`]);
    assert.deepEqual(config.Entrypoint, ['/opt/bit4bit/scripts/container-entrypoint']);
    // The base's CMD ["node"] would reach `node start` as an argument.
    assert.ok(!config.Cmd?.length, `Cmd ${JSON.stringify(config.Cmd)}`);
    assert.ok(config.Env?.includes('BIT4BIT_HOME=/data'), JSON.stringify(config.Env));
    assert.equal((await buildah.exec(container, ['id', '-u'])).trim(), String(USER_ID));
    assert.equal((await buildah.exec(container, ['id', '-g'])).trim(), String(USER_ID));
  });

  it('holds no build leftovers: apt lists and .debs, npm\'s cache, tests, dev dependencies', async () => {
    const debs = (await readdir(join(rootfs, 'var/cache/apt/archives'))).filter((f) => f.endsWith('.deb'));
    const lists = await readdir(join(rootfs, 'var/lib/apt/lists'));
    const present: string[] = [];
    for (const path of ['root/.npm', 'opt/bit4bit/test', 'opt/bit4bit/bench', 'opt/bit4bit/dist/test', 'opt/bit4bit/node_modules/typescript', 'opt/bit4bit/node_modules/mocha']) {
      if (await exists(join(rootfs, path))) present.push(`/${path}`);
    }
    if (debs.length) present.push(`${debs.length} .debs in /var/cache/apt/archives`);
    if (lists.length) present.push(`${lists.length} files in /var/lib/apt/lists`);
    assert.deepEqual(present, []);
    const data = await stat(join(rootfs, 'data'));
    assert.deepEqual([data.uid, data.gid], [USER_ID, USER_ID], 'owner of /data');
  });

  it('`bit4bit --version` runs as the unprivileged user and prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await buildah.exec(container, ['node', '/opt/bit4bit/dist/src/cli/main.js', '--version'])).trim(), version);
  });

  it('has the toolchain of scripts/install-system-packages: the versions on this host, and the ones the examples pin', async () => {
    const inImage = async (tool: string) => versionIn(await buildah.exec(container, [tool, '--version']));
    const onHost = async (tool: string) => versionIn(await run([tool, '--version']));
    for (const tool of ['buildah', 'skopeo', 'mmdebstrap', 'mkosi']) assert.equal(await inImage(tool), await onHost(tool), tool);
    // A node in this image rebuilds specs only with the exact tool version they pin.
    for (const [example, tool] of [['hello-node', 'buildah'], ['debian-base', 'mmdebstrap'], ['mkosi-minimal', 'mkosi']] as const) {
      assert.equal(await inImage(tool), (await loadExample(example)).loaded.spec.builder.version, `${tool} for ${example}`);
    }
    // The script takes mkosi from bookworm-backports (bookworm's own is 14).
    assert.match(await buildah.exec(container, ['dpkg-query', '-W', '-f', '${Version}', 'mkosi']), /~bpo12\+\d+$/);
  });

  it('the entry point starts an observer node (BIT4BIT_BUILD=none): key in /data, API reachable from outside the container, clean stop on SIGTERM', async () => {
    // A network namespace of its own with an address the test reaches, as `docker run -p`
    // gives: ports 8080 and 4001 cannot clash with the host's, and the API must listen
    // beyond the container's loopback. buildah's chroot isolation runs in the caller's.
    testbed = await Testbed.create(1);
    const ns = testbed.namespaces[0]!;
    // buildah 1.28 mounts the image's VOLUME /data from the container's own storage (it
    // ignores a --volume on it): a fresh volume initialised from the image, like Docker's
    // named volume in `-v bit4bit-data:/data`.
    const started = new EntrypointRun(['ip', 'netns', 'exec', ns, ...buildah.argv, 'run', '--env', 'BIT4BIT_BUILD=none', container, '--', ...config.Entrypoint!]);
    entrypoint = started;
    await waitUntil(() => started.apiUrl() !== undefined || !started.running, 60_000, 'the node to print its API URL');
    assert.ok(started.running, started.output());
    assert.match(started.stdout, /^created signing key \/data\/signing\.key$/m);
    const signer = /^signer +([0-9a-f]{64})$/m.exec(started.stdout)?.[1];

    const [pid, ...others] = await pidsNamed(ns, 'node');
    assert.ok(pid !== undefined && others.length === 0, `node processes in the container: ${[pid, ...others].join(', ')}`);
    assert.equal(await uidOf(pid), USER_ID);
    const key = await stat(`/proc/${pid}/root/data/signing.key`);
    assert.equal(key.mode & 0o777, 0o600);
    assert.equal(key.uid, USER_ID);

    const res = await fetch(`http://${testbed.mgmtAddress(0)}:${API_PORT}/healthz`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const health = (await res.json()) as { status: string; signer: string; build: string; addresses: string[] };
    assert.equal(health.status, 'ok');
    assert.equal(health.build, 'none');
    assert.equal(health.signer, signer);
    assert.ok(health.addresses.some((a) => a.includes(`/tcp/${P2P_PORT}/`)), JSON.stringify(health.addresses));

    // `docker stop`: SIGTERM to the container's main process. buildah does not forward
    // signals, so it goes to node itself (the entry point exec'ed it); buildah's exit code is node's.
    process.kill(pid, 'SIGTERM');
    assert.equal(await started.exited, 0, started.output());
    assert.match(started.stderr, /stopping/);
    assert.deepEqual(await pidsNamed(ns, 'node'), []);
  });
});
