import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.js';
import { useTempDirs } from '../support/temp.js';

/**
 * The Dockerfile examples, built as a user would from a fresh clone: `bit4bit build
 * examples/NAME/spec.yaml` with no other flag, each time on a fresh home (clean cache,
 * clean image store), so the debian-base image is rebuilt from its own spec first.
 */
const EXAMPLES = process.env.BIT4BIT_EXAMPLES ?? fileURLToPath(new URL('../../../examples', import.meta.url));

describe('examples: Dockerfile images build reproducibly from a fresh clone', function () {
  this.timeout(600_000);
  const tempDir = useTempDirs('bit4bit-examples-');
  let warmHome: string;

  before(async function () {
    if (!(await stat(join(EXAMPLES, 'debian-base', 'spec.yaml')).catch(() => undefined))) {
      this.skip(); // the base image's spec is not in this tree (yet)
    }
  });

  it('hello-node: two builds on clean homes give one digest, the one skopeo computes', async () => {
    const digests: string[] = [];
    for (const i of [1, 2]) {
      const home = await tempDir();
      const keep = await tempDir();
      const r = await runCli(['--home', home, 'build', join(EXAMPLES, 'hello-node', 'spec.yaml'), '--json', '--keep', keep]);
      assert.equal(r.code, 0, `build ${i}: ${r.stdout}\n${r.stderr.slice(-3000)}`);
      const report = JSON.parse(r.stdout);
      assert.equal(report.outcome, 'reproduced');
      assert.match(r.stderr, /building its spec debian-base/);
      const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${report.artifact}:latest`]);
      assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, report.digest);
      digests.push(report.digest);
      warmHome = home;
    }
    assert.equal(digests[0], digests[1]);
  });

  it('nonrepro: --twice reports unstable, listing the paths that differ; exit 1', async () => {
    const r = await runCli(['--home', warmHome ?? (await tempDir()), 'build', join(EXAMPLES, 'nonrepro', 'spec.yaml'), '--twice', '--json']);
    assert.equal(r.code, 1, r.stderr.slice(-3000));
    const report = JSON.parse(r.stdout);
    assert.equal(report.outcome, 'unstable');
    assert.equal(report.digests.length, 2);
    assert.ok(report.differences.some((d: string) => d.includes('/stamp')), report.differences.join('\n'));
    assert.ok(report.differences.some((d: string) => d.includes('/random')), report.differences.join('\n'));
    assert.ok(!report.differences.some((d: string) => d.includes('/same')), report.differences.join('\n'));
  });
});
