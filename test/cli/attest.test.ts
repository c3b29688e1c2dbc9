import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import * as ed from '@noble/ed25519';
import { pae } from '../../src/attestation/dsse.js';
import type { EnvelopeJson } from '../../src/attestation/dsse.js';
import type { Statement } from '../../src/attestation/statement.js';
import { computeSpecId } from '../../src/spec/validate.js';
import { runCli, runInHome } from '../support/cli.js';
import { policyDocument } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf, dockerfileSpec, toYaml } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';

const statementOf = (env: EnvelopeJson) => JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Statement;

describe('cli: bit4bit attest and verify', () => {
  const tempDir = useTempDirs();
  const spec = dockerfileSpec();
  const specId = computeSpecId(spec);
  const IMAGE = digestOf('image');
  let home: string;
  let dir: string;
  let specFile: string;
  let me: { signer: string; publicKey: string };
  let envelopeFile: string;

  before(async () => {
    dir = await tempDir();
    home = join(dir, 'home');
    specFile = join(dir, 'hello.yaml');
    envelopeFile = join(dir, 'reproduced.json');
    await writeFile(specFile, toYaml(spec));
    assert.equal((await runInHome(home, ['init'])).code, 0);
    me = JSON.parse((await runInHome(home, ['id', '--json'])).stdout) as typeof me;
  });

  describe('attest', () => {
    it('reproduced --out: writes an envelope signed by the home key over the image digest', async () => {
      const r = await runInHome(home, ['attest', specFile, '--digest', IMAGE, '--out', envelopeFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^wrote reproduced attestation sha256:[0-9a-f]{64} for ${specId} to ${envelopeFile}`));
      const env = JSON.parse(await readFile(envelopeFile, 'utf8')) as EnvelopeJson;
      const st = statementOf(env);
      assert.equal(st.subject[0]!.digest.sha256, IMAGE.slice(7));
      assert.equal(st.predicate.spec, specId);
      assert.equal(st.predicate.signer.publicKey, me.publicKey);
      assert.equal(env.signatures[0]!.keyid, me.signer);
      const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
      assert.equal(await ed.verifyAsync(sig, pae(env.payloadType, Buffer.from(env.payload, 'base64')), Buffer.from(me.publicKey, 'hex')), true);
    });

    it('failed and unstable: the subject is the spec, with the reason recorded', async () => {
      const [f, u] = await Promise.all([
        runInHome(home, ['attest', specFile, '--outcome', 'failed', '--class', 'input-unavailable', '--reason', 'mirror down']),
        runInHome(home, ['attest', specFile, '--outcome', 'unstable', '--digest', digestOf('one'), '--digest', digestOf('two'), '--reason', 'layer 3 differs']),
      ]);
      assert.equal(f.code, 0, f.stderr);
      assert.equal(u.code, 0, u.stderr);
      const failed = statementOf(JSON.parse(f.stdout) as EnvelopeJson);
      assert.equal(failed.subject[0]!.digest.sha256, specId.slice(7));
      assert.deepEqual(failed.predicate.failure, { class: 'input-unavailable', message: 'mirror down' });
      const unstable = statementOf(JSON.parse(u.stdout) as EnvelopeJson);
      assert.equal(unstable.subject[0]!.digest.sha256, specId.slice(7));
      assert.deepEqual(unstable.predicate.unstable, { digests: [digestOf('one'), digestOf('two')], differences: ['layer 3 differs'] });
    });

    it('bad usage is exit 2: a reproduced result without a digest, a malformed digest', async () => {
      const runs = await Promise.all([
        runInHome(home, ['attest', specFile]),
        runInHome(home, ['attest', specFile, '--outcome', 'failed', '--digest', 'sha256:XYZ']),
      ]);
      assert.deepEqual(runs.map((r) => r.code), [2, 2]);
      assert.match(runs[0]!.stderr, /needs exactly one --digest/);
      assert.match(runs[1]!.stderr, /--digest must be sha256:<64 lowercase hex>/);
    });
  });

  describe('verify', () => {
    it('--key: exit 0 for the signing key (JSON has the verdict), 1 for another key', async () => {
      const other = Buffer.from(makeSigners(1)[0]!.publicKey).toString('hex');
      const [ok, json, wrong] = await Promise.all([
        runCli(['verify', envelopeFile, '--key', me.publicKey]),
        runCli(['verify', envelopeFile, '--key', me.publicKey, '--json']),
        runCli(['verify', envelopeFile, '--key', other]),
      ]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, `valid: reproduced attestation for ${specId} signed by ${me.signer}\n`);
      const v = JSON.parse(json.stdout) as Record<string, unknown>;
      assert.deepEqual({ ...v, id: undefined }, { valid: true, kind: 'envelope', id: undefined, signer: me.signer, spec: specId, outcome: 'reproduced', digest: IMAGE });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /envelope is signed for key .* not the expected/);
    });

    it('exit 1 for a bad signature, exit 2 for a file that is unreadable or not JSON', async () => {
      const env = JSON.parse(await readFile(envelopeFile, 'utf8')) as EnvelopeJson;
      const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
      sig[5]! ^= 1;
      env.signatures[0]!.sig = sig.toString('base64');
      await writeFile(join(dir, 'bad-sig.json'), JSON.stringify(env));
      await writeFile(join(dir, 'not-json.json'), 'this is not JSON');
      const [badJson, notJson, missing] = await Promise.all([
        runCli(['verify', join(dir, 'bad-sig.json'), '--key', me.publicKey, '--json']),
        runCli(['verify', join(dir, 'not-json.json'), '--key', me.publicKey]),
        runCli(['verify', join(dir, 'absent.json'), '--key', me.publicKey]),
      ]);
      assert.equal(badJson.code, 1);
      assert.match(badJson.stderr, /signature does not verify/);
      assert.deepEqual({ ...(JSON.parse(badJson.stdout) as object), reason: undefined }, { valid: false, code: 'bad-signature', reason: undefined });
      assert.equal(notJson.code, 2);
      assert.match(notJson.stderr, /not-json\.json is not JSON/);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /cannot read input .*absent\.json: no such file/);
    });

    it('--policy: exit 0 when the signer is in the policy, 1 when it is not', async () => {
      const strangers = join(dir, 'strangers.yaml');
      await writeFile(strangers, stringify(policyDocument(makeSigners(2), 2)));
      const [trusted, untrusted, both] = await Promise.all([
        runCli(['verify', envelopeFile, '--policy', join(home, 'policy.yaml')]),
        runCli(['verify', envelopeFile, '--policy', strangers]),
        runCli(['verify', envelopeFile, '--policy', strangers, '--key', me.publicKey]),
      ]);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.match(trusted.stdout, /^valid: reproduced attestation .* signed by self \(/);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, new RegExp(`signature is valid but signer ${me.signer} is not in policy`));
      assert.equal(both.code, 2, 'exactly one of --key and --policy');
    });
  });
});
