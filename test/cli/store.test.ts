import assert from 'node:assert/strict';
import type { Signer } from '../../src/keys/keys.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Attestation } from '../../src/attestation/attestation.js';
import type { QuorumBundle } from '../../src/bundle/bundle.js';
import type { SignerAudit } from '../../src/audit/audit.js';
import type { ConsensusResult } from '../../src/consensus/consensus.js';
import { computeSpecId } from '../../src/spec/validate.js';
import { AttestationStore } from '../../src/store/store.js';
import { attest, failed, reproduced } from '../support/attestations.js';
import { runCli, runInHome } from '../support/cli.js';
import { dumpLevel } from '../support/level.js';
import { policyDocument } from '../support/policies.js';
import { makeSigners } from '../support/signers.js';
import { digestOf, dockerfileSpec, mkosiSpec, toYaml } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';

interface IngestReport {
  file: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  kind?: string;
  id?: string;
  reason?: string;
}

/**
 * End to end in a temp home: seven trusted signers (4 must agree), plus an outsider.
 * Spec X: s0-s3 reproduce A (quorum), s4 reproduces B (dissent), s5 signs both B and
 * C (equivocation), s6 could not build. Spec Y: only s0 has spoken (pending).
 */
describe('cli: bit4bit ingest, query, audit and bundle', () => {
  const tempDir = useTempDirs();
  const signers = makeSigners(8);
  const trusted = signers.slice(0, 7);
  const [s0, , , , s4, s5, s6, outsider] = signers as [Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer];
  const specX = dockerfileSpec();
  const X = computeSpecId(specX);
  const Y = computeSpecId(mkosiSpec());
  const A = digestOf('image A');
  const B = digestOf('image B');
  const C = digestOf('image C');
  let dir: string;
  let home: string;
  let policyFile: string;
  let good: string[];
  let equivocation: Attestation[];
  const files: Record<string, string> = {};

  const writeJson = async (name: string, value: unknown) => {
    const file = join(dir, name);
    await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
    files[name] = file;
    return file;
  };

  before(async () => {
    dir = await tempDir();
    home = join(dir, 'home');
    assert.equal((await runInHome(home, ['init'])).code, 0);
    policyFile = join(dir, 'policy.yaml');
    await writeFile(policyFile, stringify(policyDocument(trusted, 4)));
    await writeFile(join(dir, 'x.yaml'), toYaml(specX));
    equivocation = [attest(s5, X, reproduced(B)), attest(s5, X, reproduced(C))];
    const onX = [
      ...trusted.slice(0, 4).map((s) => attest(s, X, reproduced(A))),
      attest(s4, X, reproduced(B)),
      ...equivocation,
      attest(s6, X, failed()),
      attest(outsider, X, reproduced(A)),
    ];
    good = [];
    for (const [i, a] of onX.entries()) good.push(await writeJson(`x-${i}.json`, a.envelope));
    good.push(await writeJson('y-0.json', attest(s0, Y, reproduced(A)).envelope));
    good.push(join(dir, 'x.yaml'));

    const tampered = structuredClone(onX[0]!.envelope);
    const sig = Buffer.from(tampered.signatures[0]!.sig, 'base64');
    sig[0]! ^= 1;
    tampered.signatures[0]!.sig = sig.toString('base64');
    await writeJson('bad-signature.json', tampered);
    await writeJson('malformed.json', { ...onX[1]!.envelope, payloadType: 'text/plain' });
  });

  describe('ingest', () => {
    it('reports each file: accepted, or rejected with the reason; a bad signature makes the exit code 1', async () => {
      const r = await runInHome(home, ['ingest', '--json', ...good, files['bad-signature.json']!, files['malformed.json']!]);
      assert.equal(r.code, 1, r.stderr);
      const reports = JSON.parse(r.stdout) as IngestReport[];
      assert.deepEqual(reports.map((x) => x.file), [...good, files['bad-signature.json'], files['malformed.json']]);
      assert.ok(reports.slice(0, good.length - 1).every((x) => x.status === 'accepted' && x.kind === 'envelope' && /^sha256:[0-9a-f]{64}$/.test(x.id!)));
      assert.deepEqual(reports[good.length - 1], { file: join(dir, 'x.yaml'), status: 'accepted', kind: 'spec', id: X });
      const [badSig, malformed] = reports.slice(good.length);
      assert.equal(badSig!.status, 'rejected');
      assert.match(badSig!.reason!, /^bad signature: signature does not verify/);
      assert.equal(malformed!.status, 'rejected');
      assert.match(malformed!.reason!, /^malformed: payloadType is "text\/plain"/);
    });

    it('ingesting the same files again reports duplicates and exits 0', async () => {
      const r = await runInHome(home, ['ingest', ...good]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, good.length);
      for (const line of lines) assert.match(line, /^duplicate /);
    });

    it('a rejected file changes nothing in the store; a malformed one alone exits 2', async () => {
      await writeJson('not-an-envelope.json', { hello: 'world' });
      const before = await dumpLevel(join(home, 'store'));
      // One at a time: each run holds the store's lock.
      const bad = await runInHome(home, ['ingest', files['bad-signature.json']!]);
      const m = await runInHome(home, ['ingest', files['malformed.json']!, files['not-an-envelope.json']!]);
      assert.equal(bad.code, 1);
      assert.match(bad.stdout, /^rejected .*bad-signature\.json {2}\(bad signature: /);
      assert.equal(m.code, 2);
      assert.match(m.stdout, /^rejected .*not-an-envelope\.json {2}\(malformed: /m);
      assert.deepEqual(await dumpLevel(join(home, 'store')), before);
    });
  });

  describe('query', () => {
    it('--json on an agreed spec: the canonical digest and who agrees, dissents, failed, is missing or equivocated; exit 0', async () => {
      const r = await runInHome(home, ['query', X, '--json', '--policy', policyFile]);
      assert.equal(r.code, 0, r.stderr);
      const c = JSON.parse(r.stdout) as ConsensusResult;
      for (const field of ['spec', 'state', 'digest', 'agreeing', 'dissenting', 'failed', 'missing', 'equivocating']) assert.ok(field in c, field);
      assert.equal(c.spec, X);
      assert.equal(c.state, 'agreed');
      assert.equal(c.digest, A);
      assert.deepEqual(c.agreeing, trusted.slice(0, 4).map((s) => s.keyid).sort());
      assert.deepEqual(c.dissenting, [s4.keyid]);
      assert.deepEqual(c.failed, [s6.keyid]);
      assert.deepEqual(c.missing, []);
      assert.deepEqual(c.equivocating, [s5.keyid]);
      assert.deepEqual(c.equivocations[s5.keyid], equivocation.map((e) => e.id).sort());
      assert.deepEqual(c.untrusted, [outsider.keyid]);
    });

    it('a spec without quorum (asked by spec file or id) is exit 1; the text form lists the state', async () => {
      // One at a time: each run holds the store's lock.
      const pending = await runInHome(home, ['query', Y, '--json', '--policy', policyFile]);
      const text = await runInHome(home, ['query', join(dir, 'x.yaml')]);
      assert.equal(pending.code, 1);
      const c = JSON.parse(pending.stdout) as ConsensusResult;
      assert.equal(c.state, 'pending');
      assert.equal(c.digest, null);
      assert.equal(c.missing.length, 6);
      // The home's own policy trusts only the home key, which never attested X.
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^spec +sha256:[0-9a-f]{64}\nstate +pending\n/);
      assert.match(text.stdout, /^missing +self \([0-9a-f]{12}\)$/m);
    });

    it('says the store is in use when a node holds it', async () => {
      const store = await AttestationStore.open(join(home, 'store'));
      try {
        const r = await runInHome(home, ['query', X, '--policy', policyFile]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^error: the store at .*store is in use by another process/);
      } finally {
        await store.close();
      }
    });
  });

  describe('audit', () => {
    it('--json: per signer its name, attestations, agreements, dissents, failures, equivocations with envelope ids, and last seen', async () => {
      const r = await runInHome(home, ['audit', '--json', '--policy', policyFile]);
      assert.equal(r.code, 0, r.stderr);
      const audits = new Map((JSON.parse(r.stdout) as SignerAudit[]).map((a) => [a.signer, a]));
      assert.equal(audits.size, 8);
      for (const a of audits.values()) {
        for (const field of ['signer', 'name', 'attestations', 'agreed', 'dissented', 'failed', 'equivocations', 'lastSeen']) assert.ok(field in a, field);
        assert.ok(!Number.isNaN(Date.parse(a.lastSeen!)));
      }
      const first = audits.get(s0.keyid)!;
      assert.deepEqual([first.name, first.attestations, first.agreed, first.specs], ['s0', 2, 1, 2]);
      assert.equal(audits.get(s4.keyid)!.dissented, 1);
      assert.equal(audits.get(s6.keyid)!.failed, 1);
      assert.deepEqual(audits.get(s5.keyid)!.equivocations, [{ spec: X, envelopes: equivocation.map((e) => e.id).sort() }]);
      assert.deepEqual([audits.get(outsider.keyid)!.name, audits.get(outsider.keyid)!.trusted], [null, false]);
    });

    it('one signer by policy name', async () => {
      const r = await runInHome(home, ['audit', 's5', '--json', '--policy', policyFile]);
      assert.equal(r.code, 0, r.stderr);
      const a = JSON.parse(r.stdout) as SignerAudit;
      assert.equal(a.signer, s5.keyid);
      assert.equal(a.equivocations.length, 1);
    });
  });

  describe('bundle', () => {
    let bundleFile: string;

    it('--out writes the quorum proof, which verify --policy accepts (exit 0)', async () => {
      bundleFile = join(dir, 'x.bundle.json');
      const r = await runInHome(home, ['bundle', X, '--out', bundleFile, '--policy', policyFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^wrote quorum bundle for sha256:[0-9a-f]{64} \(4 envelope\(s\) on sha256:/);
      const bundle = JSON.parse(await readFile(bundleFile, 'utf8')) as QuorumBundle;
      assert.equal(bundle.digest, A);
      assert.deepEqual(bundle.spec, specX);
      const v = await runCli(['verify', bundleFile, '--policy', policyFile, '--json']);
      assert.equal(v.code, 0, v.stderr);
      assert.deepEqual(JSON.parse(v.stdout), { valid: true, kind: 'bundle', spec: X, digest: A, agreeing: trusted.slice(0, 4).map((s) => s.keyid).sort() });
    });

    it('verify exits 1 after one envelope is tampered with, or against a policy the bundle does not satisfy', async () => {
      const bundle = JSON.parse(await readFile(bundleFile, 'utf8')) as QuorumBundle;
      const st = JSON.parse(Buffer.from(bundle.envelopes[2]!.payload, 'base64').toString('utf8')) as { predicate: { finishedOn: string } };
      st.predicate.finishedOn = '2030-01-01T00:00:00Z';
      bundle.envelopes[2]!.payload = Buffer.from(JSON.stringify(st)).toString('base64');
      const tampered = await writeJson('tampered.bundle.json', bundle);
      const strict = join(dir, 'strict.yaml');
      await writeFile(strict, stringify(policyDocument(trusted, 5)));
      const [t, s] = await Promise.all([runCli(['verify', tampered, '--policy', policyFile]), runCli(['verify', bundleFile, '--policy', strict])]);
      assert.equal(t.code, 1);
      assert.match(t.stderr, /bundle\.envelopes\[2\]: signature does not verify/);
      assert.equal(s.code, 1);
      assert.match(s.stderr, /bundle does not prove a quorum .*under this policy: state/);
    });

    it('a bundle carries everything: ingested into a fresh home it gives the same agreed digest', async () => {
      const fresh = join(dir, 'fresh-home');
      const i = await runInHome(fresh, ['ingest', bundleFile]);
      assert.equal(i.code, 0, i.stderr);
      assert.match(i.stdout, /^accepted .* {2}bundle sha256:[0-9a-f]{64} {2}\(4 new envelope\(s\)\)/);
      const q = await runInHome(fresh, ['query', X, '--json', '--policy', policyFile]);
      assert.equal(q.code, 0, q.stderr);
      assert.equal((JSON.parse(q.stdout) as ConsensusResult).digest, A);
    });

    it('a bundle larger than a spec document (over 1 MiB) is ingested: JSON inputs are not held to the YAML limit', async () => {
      const many = Array.from({ length: 1200 }, (_, i) => attest(s0, X, reproduced(A), undefined, new Date(Date.UTC(2026, 0, 1, 0, 0, i))).envelope);
      const big = await writeJson('big-bundle.json', { apiVersion: 'bit4bit/v1', kind: 'QuorumBundle', specId: X, digest: A, spec: specX, envelopes: many });
      assert.ok((await readFile(big)).length > 1024 * 1024);
      const i = await runInHome(join(dir, 'big-home'), ['ingest', big]);
      assert.equal(i.code, 0, i.stderr);
      assert.match(i.stdout, /\(1200 new envelope\(s\)\)/);
    });
  });
});
