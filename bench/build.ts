/**
 * Build overhead benchmark: per Dockerfile example, wall time of
 *   - `bit4bit build` on a fresh home (cold: fetches, base images built first),
 *   - `bit4bit build` again on the same home (warm cache: inputs verified, not fetched),
 *   - the bare buildah commands on the same prepared inputs (source tree, base layouts,
 *     apt repository taken from a `--keep` run), with the same flags and isolation,
 *     including the removal of its fresh storage afterwards, as bit4bit does,
 * and the ratio warm / bare (goal <= 1.10).
 *
 *   node dist/bench/build.js [examples/NAME ...]     (default: every dockerfile example)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpecFile } from '../src/spec/load.js';
import type { DockerfileBuilder } from '../src/spec/types.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');

async function run(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<number> {
  const started = performance.now();
  await output(argv, env, cwd);
  return (performance.now() - started) / 1000;
}

function output(argv: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.slice(0, 3).join(' ')} exited ${code}:\n${err}`))));
  });
}

/** The same buildah commands the dockerfile backend runs, without bit4bit around them. */
async function bareBuild(example: string, kept: string): Promise<number> {
  const { spec } = await loadSpecFile(join(example, 'spec.yaml'));
  const b = spec.builder as DockerfileBuilder;
  const work = await mkdtemp(join(tmpdir(), 'bit4bit-bench-bare-'));
  const buildah = ['buildah', '--storage-driver', 'vfs', '--root', join(work, 'root'), '--runroot', join(work, 'runroot')];
  const env = { PATH: process.env.PATH, HOME: work, TMPDIR: work, TZ: 'UTC', LC_ALL: 'C.UTF-8', BUILDAH_ISOLATION: 'chroot', SOURCE_DATE_EPOCH: String(spec.sourceDateEpoch) };
  const net = ['unshare', '--net', '--pid', '--fork', '--kill-child', '--'];
  const bases = join(kept, 'build-1', 'work', 'bases');
  const repo = join(kept, 'debian', 'debian-repo');
  const hasRepo = await stat(repo).then(() => true, () => false);
  try {
    const started = performance.now();
    for (const [i, base] of b.baseImages.entries()) {
      const at = base.image.lastIndexOf('@');
      const named = base.image.slice(0, at);
      const tagged = named.lastIndexOf(':') > named.lastIndexOf('/') ? named : `${named}:pinned`;
      const id = (await output([...net, ...buildah, 'pull', '-q', `oci:/proc/self/cwd/${i}:bit4bit`], env, bases)).trim().split('\n').pop()!;
      await run([...net, ...buildah, 'tag', id, tagged], env);
    }
    await run(
      [
        ...net, ...buildah, 'build', '--pull=never', '--isolation', 'chroot', '--platform', 'linux/amd64', '--timestamp', String(spec.sourceDateEpoch), '--identity-label=false',
        '-f', join(kept, 'build-1', 'source', b.dockerfile ?? 'Dockerfile'),
        ...Object.entries(b.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
        '--build-arg', `SOURCE_DATE_EPOCH=${spec.sourceDateEpoch}`,
        ...(hasRepo ? ['--volume', `${repo}:/bit4bit/debian:ro`] : []),
        '-t', 'localhost/bench:build', join(kept, 'build-1', 'source'),
      ],
      env,
    );
    await run([...net, ...buildah, 'push', '-q', '--digestfile', join(work, 'digest'), 'localhost/bench:build', `oci:${join(work, 'out')}:latest`], env);
    // Removing the fresh storage is part of a hermetic build, on both sides of the ratio.
    await rm(work, { recursive: true, force: true });
    return (performance.now() - started) / 1000;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function dockerfileExamples(): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(ROOT, 'examples'))).sort()) {
    const file = join(ROOT, 'examples', name, 'spec.yaml');
    const loaded = await loadSpecFile(file).catch(() => undefined);
    if (loaded?.spec.builder.type === 'dockerfile') out.push(join(ROOT, 'examples', name));
  }
  return out;
}

const examples = process.argv.length > 2 ? process.argv.slice(2) : await dockerfileExamples();
const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: string[][] = [['example', 'cold s', `warm s (median of ${RUNS})`, `bare s (median of ${RUNS})`, 'warm/bare']];
for (const example of examples) {
  const home = await mkdtemp(join(tmpdir(), 'bit4bit-bench-home-'));
  const kept = await mkdtemp(join(tmpdir(), 'bit4bit-bench-keep-'));
  try {
    const build = (extra: string[]) => run([process.execPath, CLI, '--home', home, 'build', join(example, 'spec.yaml'), ...extra]);
    const cold = await build([]);
    await rm(kept, { recursive: true, force: true });
    await build(['--keep', kept]);
    // Alternate warm and bare runs and compare medians: single builds vary by seconds.
    const warms: number[] = [];
    const bares: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      warms.push(await build([]));
      bares.push(await bareBuild(example, kept));
    }
    const warm = median(warms);
    const bare = median(bares);
    rows.push([example.split('/').pop()!, cold.toFixed(1), warm.toFixed(1), bare.toFixed(1), (warm / bare).toFixed(2)]);
    console.error(rows.at(-1)!.join('  '));
  } catch (e) {
    // nonrepro builds are reproduced by a single build; only --twice tells them apart.
    rows.push([example.split('/').pop()!, 'error', (e as Error).message.split('\n')[0]!, '', '']);
  } finally {
    await rm(home, { recursive: true, force: true });
    await rm(kept, { recursive: true, force: true });
  }
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
