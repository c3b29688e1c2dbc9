import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runInHome, type CliResult } from '../support/cli.js';
import { toYaml, dockerfileSpec, digestOf } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';

/** Every encoding in which the secret part of a PEM Ed25519 key could leak. */
function secretForms(pem: string): string[] {
  const seed = Buffer.from(createPrivateKey(pem).export({ format: 'jwk' }).d!, 'base64url');
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  return [seed.toString('hex'), seed.toString('base64'), seed.toString('base64url'), body];
}

describe('cli: bit4bit init and id', () => {
  const tempDir = useTempDirs();
  let home: string;
  const outputs: CliResult[] = [];
  /** Keys replaced by `init --force`: they must not leak either. */
  const oldKeys: string[] = [];
  const run = async (args: string[]) => {
    const r = await runInHome(home, args);
    outputs.push(r);
    return r;
  };

  before(async () => {
    home = join(await tempDir(), 'home');
  });

  it('init creates a signing key readable only by its owner (0600), a config and a single-signer policy', async () => {
    const r = await run(['init']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(home, 'signing.key'))).mode & 0o777, 0o600);
    assert.match(await readFile(join(home, 'signing.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(r.stdout, /^created signing key .*signing\.key\nsigner   [0-9a-f]{64}\npublic   [0-9a-f]{64}\n/);
    const policy = parse(await readFile(join(home, 'policy.yaml'), 'utf8')) as { signers: { publicKey: string }[]; threshold: number };
    const publicKey = /public   ([0-9a-f]{64})/.exec(r.stdout)![1];
    assert.deepEqual(policy.signers.map((s) => s.publicKey), [publicKey]);
    assert.equal(policy.threshold, 1);
    assert.deepEqual(parse(await readFile(join(home, 'config.yaml'), 'utf8')), { policy: 'policy.yaml' });
  });

  it('id --json prints {signer, publicKey} with signer = sha256 of the raw public key', async () => {
    const r = await run(['id', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const id = JSON.parse(r.stdout) as { signer: string; publicKey: string };
    assert.deepEqual(Object.keys(id), ['signer', 'publicKey']);
    assert.equal(id.signer, createHash('sha256').update(Buffer.from(id.publicKey, 'hex')).digest('hex'));
    const jwk = createPrivateKey(await readFile(join(home, 'signing.key'), 'utf8')).export({ format: 'jwk' });
    assert.equal(Buffer.from(id.publicKey, 'hex').toString('base64url'), jwk.x, 'the public half of the key on disk');
    const text = await run(['id']);
    assert.equal(text.stdout, `signer     ${id.signer}\npublicKey  ${id.publicKey}\n`);
  });

  it('init refuses to overwrite an existing key without --force (exit 2) and leaves it unchanged', async () => {
    const before = await readFile(join(home, 'signing.key'));
    const r = await run(['init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: a signing key already exists at .*signing\.key; pass --force to replace it/);
    assert.deepEqual(await readFile(join(home, 'signing.key')), before);
  });

  it('init --force replaces the key (still 0600) and keeps the user\'s existing policy', async () => {
    const oldKey = await readFile(join(home, 'signing.key'), 'utf8');
    const oldId = JSON.parse((await run(['id', '--json'])).stdout) as { signer: string };
    const policyBefore = await readFile(join(home, 'policy.yaml'), 'utf8');
    const r = await run(['init', '--force']);
    assert.equal(r.code, 0, r.stderr);
    const newKey = await readFile(join(home, 'signing.key'), 'utf8');
    assert.notEqual(newKey, oldKey);
    assert.equal((await stat(join(home, 'signing.key'))).mode & 0o777, 0o600);
    assert.notEqual((JSON.parse((await run(['id', '--json'])).stdout) as { signer: string }).signer, oldId.signer);
    assert.equal(await readFile(join(home, 'policy.yaml'), 'utf8'), policyBefore);
    oldKeys.push(oldKey);
  });

  it('id without a key says how to make one (exit 2)', async () => {
    const r = await runInHome(join(home, 'nowhere'), ['id']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no signing key at .*; create one with `bit4bit init`/);
  });

  it('the private key never appears in any output, not even when signing', async () => {
    const spec = join(home, 'spec.yaml');
    await writeFile(spec, toYaml(dockerfileSpec()));
    const signed = await run(['attest', spec, '--digest', digestOf('image')]);
    assert.equal(signed.code, 0, signed.stderr);
    const forms = [...secretForms(await readFile(join(home, 'signing.key'), 'utf8')), ...oldKeys.flatMap(secretForms)];
    assert.ok(outputs.length >= 7);
    for (const { stdout, stderr } of outputs) for (const secret of forms) {
      assert.ok(!stdout.includes(secret) && !stderr.includes(secret), 'a secret key form was printed');
    }
  });
});
