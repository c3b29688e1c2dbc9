import assert from 'node:assert/strict';
import type { Bit4bitError } from '../../src/errors.js';
import { lintPolicy, parsePolicy, singleSignerPolicyDocument, type PolicyDocument } from '../../src/policy/policy.js';
import { satisfies } from '../../src/consensus/consensus.js';
import { policyDocument, trustPolicy } from '../support/policies.js';
import { makeSigners, publicKeyHex } from '../support/signers.js';

const signers = makeSigners(6);
const keyid = (i: number) => signers[i]!.keyid;

function problemsOf(doc: unknown) {
  const { problems, policy } = lintPolicy(doc);
  return {
    policy,
    errors: problems.filter((p) => p.severity === 'error').map((p) => p.message),
    warnings: problems.filter((p) => p.severity === 'warning').map((p) => p.message),
  };
}

describe('policy: trust policies and their lint', () => {
  describe('a clean policy', () => {
    it('has no problems and lists every signer by keyid with its name', () => {
      const { policy, errors, warnings } = problemsOf(policyDocument(signers.slice(0, 3), 2));
      assert.deepEqual([errors, warnings], [[], []]);
      assert.ok(policy);
      assert.deepEqual([...policy.signers.keys()].sort(), [keyid(0), keyid(1), keyid(2)].sort());
      assert.equal(policy.signers.get(keyid(1))?.name, 's1');
      assert.equal(policy.root.threshold, 2);
      assert.equal(policy.root.members.length, 3);
    });

    it('is also accepted as YAML text', () => {
      const yaml = [
        'apiVersion: bit4bit/v1',
        'kind: TrustPolicy',
        'signers:',
        ...signers.slice(0, 3).map((s, i) => `  - {name: s${i}, publicKey: ${publicKeyHex(s)}}`),
        'threshold: 2',
      ].join('\n');
      assert.equal(parsePolicy(yaml).signers.size, 3);
    });

    it('the default single-signer policy trusts exactly that key, threshold 1', () => {
      const policy = trustPolicy(singleSignerPolicyDocument('self', publicKeyHex(signers[0]!)) as PolicyDocument);
      assert.deepEqual([...policy.signers.keys()], [keyid(0)]);
      assert.equal(satisfies(policy.root, new Set([keyid(0)])), true);
    });
  });

  describe('groups count once', () => {
    // s0, s1, s2 are one operator's keys (group "acme", 2 of 3); s3 and s4 stand alone.
    const doc = policyDocument(signers.slice(0, 5), 2, [{ name: 'acme', threshold: 2, members: ['s0', 's1', 's2'] }]);
    const policy = trustPolicy(doc);

    it('the top level is the group and the ungrouped signers', () => {
      assert.deepEqual(policy.root.members.map((m) => m.name).sort(), ['acme', 's3', 's4']);
    });

    it('all of one group\'s keys together are still one member: not a quorum of 2', () => {
      assert.equal(satisfies(policy.root, new Set([keyid(0), keyid(1), keyid(2)])), false);
    });

    it('the group (with its own threshold met) plus one independent signer is a quorum', () => {
      assert.equal(satisfies(policy.root, new Set([keyid(0), keyid(1), keyid(3)])), true);
    });

    it('a group below its own threshold does not count', () => {
      assert.equal(satisfies(policy.root, new Set([keyid(0), keyid(3)])), false);
      assert.equal(satisfies(policy.root, new Set([keyid(3), keyid(4)])), true);
    });

    it('groups nest', () => {
      const nested = trustPolicy(
        policyDocument(signers.slice(0, 5), 2, [
          { name: 'eu', threshold: 1, members: ['s0'] },
          { name: 'acme', threshold: 2, members: ['eu', 's1', 's2'] },
        ]),
      );
      assert.equal(satisfies(nested.root, new Set([keyid(0), keyid(1), keyid(3)])), true);
      assert.equal(satisfies(nested.root, new Set([keyid(1), keyid(3)])), false);
    });
  });

  describe('warnings: a policy that works but is weak', () => {
    it('k <= n/2 at the top level: two digests could both reach quorum', () => {
      const { policy, errors, warnings } = problemsOf(policyDocument(signers.slice(0, 4), 2));
      assert.ok(policy, 'still usable');
      assert.deepEqual(errors, []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^threshold: 2 of 4 is not a majority.*conflict.*use a threshold > 2/);
    });

    it('a group whose threshold is not a majority of its members', () => {
      const { errors, warnings } = problemsOf(policyDocument(signers.slice(0, 5), 2, [{ name: 'acme', threshold: 2, members: ['s0', 's1', 's2', 's3'] }]));
      assert.deepEqual(errors, []);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^groups\[0\]: threshold 2 of 4 is not a majority, so group "acme" could vouch for two different digests/);
    });

    it('a majority threshold is not warned about', () => {
      assert.deepEqual(problemsOf(policyDocument(signers.slice(0, 4), 3)).warnings, []);
      assert.deepEqual(problemsOf(policyDocument(signers.slice(0, 1), 1)).warnings, []);
    });
  });

  describe('errors: a policy that cannot be used', () => {
    function assertError(doc: unknown, message: RegExp): void {
      const { policy, errors } = problemsOf(doc);
      assert.equal(policy, undefined);
      assert.ok(errors.some((e) => message.test(e)), `expected an error matching ${message}, got ${JSON.stringify(errors)}`);
      const refusal = (() => {
        try {
          parsePolicy(JSON.stringify(doc));
        } catch (e) {
          return e as Bit4bitError;
        }
        return assert.fail('parsePolicy accepted it');
      })();
      assert.equal(refusal.code, 'invalid-policy');
      assert.equal(refusal.kind, 'invalid-input');
      assert.ok(refusal.details?.some((d) => message.test(d)), `parsePolicy did not report ${message}: ${refusal.message}`);
      assert.ok(refusal.details?.every((d) => refusal.message.includes(d)), 'the message lists every error');
    }

    it('the same key listed twice (it would count twice)', () => {
      const doc = policyDocument(signers.slice(0, 3), 2);
      doc.signers.push({ name: 'again', publicKey: publicKeyHex(signers[0]!) });
      assertError(doc, /^signers\[3\]\.publicKey: duplicate key, also listed as "s0"/);
    });

    it('a name defined twice', () => {
      const doc = policyDocument(signers.slice(0, 3), 2);
      doc.signers[2]!.name = 's0';
      assertError(doc, /^signers\[2\]\.name: "s0" is defined twice/);
    });

    it('an unknown group member', () => {
      assertError(policyDocument(signers.slice(0, 3), 2, [{ name: 'acme', threshold: 1, members: ['s0', 'nobody'] }]), /^groups\[0\]\.members: unknown member "nobody"/);
    });

    it('a member in two groups', () => {
      assertError(
        policyDocument(signers.slice(0, 4), 2, [
          { name: 'a', threshold: 1, members: ['s0', 's1'] },
          { name: 'b', threshold: 1, members: ['s1', 's2'] },
        ]),
        /^groups\[1\]\.members: "s1" is already a member of group "a"; a member may belong to one group only/,
      );
    });

    it('groups forming a cycle', () => {
      assertError(
        policyDocument(signers.slice(0, 3), 1, [
          { name: 'a', threshold: 1, members: ['b', 's1'] },
          { name: 'b', threshold: 1, members: ['a', 's2'] },
        ]),
        /^groups: a, b form a cycle/,
      );
    });

    it('a group that lists itself', () => {
      assertError(policyDocument(signers.slice(0, 2), 1, [{ name: 'a', threshold: 1, members: ['a', 's1'] }]), /group "a" lists itself/);
    });

    it('a threshold above the number of top-level members', () => {
      assertError(policyDocument(signers.slice(0, 3), 4), /^threshold: 4 is more than the 3 top-level members \(s0, s1, s2\); consensus could never be reached/);
      // s0 and s1 are grouped, so only two top-level members remain.
      assertError(
        policyDocument(signers.slice(0, 3), 3, [{ name: 'acme', threshold: 1, members: ['s0', 's1'] }]),
        /^threshold: 3 is more than the 2 top-level members \(s2, acme\)/,
      );
    });

    it('a group threshold above its member count', () => {
      assertError(policyDocument(signers.slice(0, 3), 2, [{ name: 'acme', threshold: 3, members: ['s0', 's1'] }]), /^groups\[0\]\.threshold: 3 is more than its 2 members/);
    });

    it('schema violations: a bad public key, a zero threshold, an unknown field', () => {
      const doc = policyDocument(signers.slice(0, 2), 2) as unknown as Record<string, unknown>;
      assertError({ ...doc, signers: [{ name: 's0', publicKey: 'ABC' }] }, /signers\[0\]\.publicKey: expected 64 lowercase hex characters: the raw Ed25519 public key/);
      assertError({ ...doc, threshold: 0 }, /^threshold: expected an integer >= 1/);
      assertError({ ...doc, treshold: 2 }, /treshold: unknown field \(did you mean "threshold"\?\)/);
    });
  });
});
