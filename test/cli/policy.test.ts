import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PolicyDocument } from '../../src/policy/policy.js';
import { runCli } from '../support/cli.js';
import { policyDocument } from '../support/policies.js';
import { makeSigners, publicKeyHex } from '../support/signers.js';
import { useTempDirs } from '../support/temp.js';

describe('cli: bit4bit policy lint', () => {
  const tempDir = useTempDirs();
  const signers = makeSigners(4);
  let dir: string;
  const write = async (name: string, doc: PolicyDocument) => {
    const file = join(dir, name);
    await writeFile(file, stringify(doc));
    return file;
  };
  before(async () => {
    dir = await tempDir();
  });

  it('exit 0 for a clean policy, exit 1 with warnings for a weak one, exit 2 with errors for an unusable one', async () => {
    const clean = await write('clean.yaml', policyDocument(signers.slice(0, 3), 2));
    const weak = await write('weak.yaml', policyDocument(signers, 1, [{ name: 'acme', threshold: 1, members: ['s0', 's1'] }]));
    const dup = policyDocument(signers.slice(0, 3), 2);
    dup.signers.push({ name: 'again', publicKey: publicKeyHex(signers[0]!) });
    const broken = await write('broken.yaml', dup);
    const [c, w, b] = await Promise.all([runCli(['policy', 'lint', clean]), runCli(['policy', 'lint', weak]), runCli(['policy', 'lint', broken])]);

    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, `ok: ${clean}: 3 signer(s), 2 of 3 top-level members must agree\n`);

    assert.equal(w.code, 1);
    assert.match(w.stdout, /^warning: groups\[0\]: threshold 1 of 2 is not a majority/m);
    // s0 and s1 count once (as acme), so the top level is acme, s2 and s3.
    assert.match(w.stdout, /^warning: threshold: 1 of 3 is not a majority/m);

    assert.equal(b.code, 2);
    assert.match(b.stdout, /^error: signers\[3\]\.publicKey: duplicate key, also listed as "s0"/m);
  });

  it('--json lists every problem with its severity', async () => {
    const file = await write('cycle.yaml', policyDocument(signers.slice(0, 3), 1, [
      { name: 'a', threshold: 1, members: ['b', 's1'] },
      { name: 'b', threshold: 1, members: ['a', 's2'] },
    ]));
    const r = await runCli(['policy', 'lint', '--json', file]);
    assert.equal(r.code, 2);
    const out = JSON.parse(r.stdout) as { ok: boolean; problems: { severity: string; message: string }[] };
    assert.equal(out.ok, false);
    // Each group is 1 of 2 (a warning); the cycle is the error.
    assert.deepEqual(out.problems.map((p) => p.severity), ['warning', 'warning', 'error']);
    assert.match(out.problems[2]!.message, /^groups: a, b form a cycle/);
  });
});
