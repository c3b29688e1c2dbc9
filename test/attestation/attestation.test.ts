import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { createAttestation, verifyAttestation, type Attestation } from '../../src/attestation/attestation.js';
import { decodeEnvelope, envelopeId, MAX_ENVELOPE_BYTES, pae, signEnvelope, type EnvelopeJson } from '../../src/attestation/dsse.js';
import { PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, type Statement } from '../../src/attestation/statement.js';
import { canonicalDigest } from '../../src/canonical/index.js';
import type { Signer } from '../../src/keys/keys.js';
import { attest, failed, FINISHED, reproduced, STARTED, unstable } from '../support/attestations.js';
import { makeSigners, publicKeyHex } from '../support/signers.js';
import { digestOf, hexOf } from '../support/specs.js';
import { refusal } from '../support/refusal.js';

const SPEC = digestOf('spec');
const IMAGE = digestOf('image');
const [alice, bob] = makeSigners(2) as [Signer, Signer];

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** DSSE PAE written out from protocol.md, independently of bit4bit's `pae`. */
function paeByHand(payloadType: string, body: Uint8Array): Uint8Array {
  const type = new TextEncoder().encode(payloadType);
  const head = new TextEncoder().encode(`DSSEv1 ${type.byteLength} ${payloadType} ${body.byteLength} `);
  const out = new Uint8Array(head.byteLength + body.byteLength);
  out.set(head);
  out.set(body, head.byteLength);
  return out;
}

function payloadOf(env: EnvelopeJson): Statement {
  return JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Statement;
}

/** The envelope with its payload replaced by `statement` (signature left as it was). */
function withPayload(env: EnvelopeJson, statement: unknown): EnvelopeJson {
  return { ...env, payload: Buffer.from(JSON.stringify(statement)).toString('base64') };
}

function toUrlSafe(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('attestation: DSSE envelopes holding in-toto rebuild statements', () => {
  let att: Attestation;
  before(() => {
    att = attest(alice, SPEC, reproduced(IMAGE));
  });

  describe('a reproduced attestation', () => {
    it('verifies, and names its signer, spec, outcome and digest', () => {
      const v = verifyAttestation(JSON.stringify(att.envelope));
      assert.equal(v.signer, sha256(alice.publicKey).toString('hex'));
      assert.equal(v.publicKey, publicKeyHex(alice));
      assert.equal(v.spec, SPEC);
      assert.equal(v.outcome, 'reproduced');
      assert.equal(v.digest, IMAGE);
      assert.equal(v.id, att.id);
    });

    it('is an in-toto Statement v1 whose subject is the image and whose predicate carries spec, outcome, builder, key and times', () => {
      assert.equal(att.envelope.payloadType, 'application/vnd.in-toto+json');
      const st = payloadOf(att.envelope);
      assert.equal(st._type, 'https://in-toto.io/Statement/v1');
      assert.equal(st.predicateType, 'https://bit4bit.dev/rebuild/v1');
      assert.deepEqual(st.subject, [{ name: 'example/hello', digest: { sha256: IMAGE.slice('sha256:'.length) } }]);
      assert.deepEqual(st.predicate, {
        spec: SPEC,
        outcome: 'reproduced',
        builder: { type: 'dockerfile', version: '1.28.2' },
        signer: { publicKey: publicKeyHex(alice) },
        startedOn: STARTED.toISOString(),
        finishedOn: FINISHED.toISOString(),
      });
    });

    it('has keyid = hex sha256 of the raw 32-byte public key', () => {
      assert.equal(alice.publicKey.byteLength, 32);
      assert.equal(att.envelope.signatures.length, 1);
      assert.equal(att.envelope.signatures[0]!.keyid, sha256(alice.publicKey).toString('hex'));
    });

    it('records the installed tool version when it is given', () => {
      const a = createAttestation({ specId: SPEC, spec: { name: 'x', builder: { type: 'mkosi', version: '24.3' } }, toolVersion: '24.3-1', result: reproduced(IMAGE), startedOn: STARTED, finishedOn: FINISHED }, alice);
      assert.deepEqual(a.statement.predicate.builder, { type: 'mkosi', version: '24.3-1' });
    });

    it('refuses to sign a malformed spec id or digest', () => {
      assert.equal(refusal(() => attest(alice, 'sha256:abc', reproduced(IMAGE))).code, 'bad-spec-id');
      assert.equal(refusal(() => attest(alice, SPEC, reproduced(IMAGE.toUpperCase().replace('SHA256', 'sha256')))).code, 'bad-digest');
    });
  });

  describe('verifiable with nothing but the public key and the DSSE spec', () => {
    it('the signature verifies with @noble/ed25519 over a PAE computed by hand', async () => {
      const body = Buffer.from(att.envelope.payload, 'base64');
      const message = paeByHand(att.envelope.payloadType, body);
      const sig = Buffer.from(att.envelope.signatures[0]!.sig, 'base64');
      assert.equal(await ed.verifyAsync(sig, message, alice.publicKey), true);
      // ...and bit4bit's PAE is byte for byte the same.
      assert.deepEqual(new Uint8Array(pae(att.envelope.payloadType, body)), message);
    });

    it('PAE lengths are in bytes, not characters', () => {
      const body = new TextEncoder().encode('{"é":"ü"}');
      assert.equal(pae('t/é', body).toString('utf8'), 'DSSEv1 4 t/é 11 {"é":"ü"}');
      assert.deepEqual(new Uint8Array(pae('t/é', body)), paeByHand('t/é', body));
    });

    it('the signature does not verify for another key or another message', async () => {
      const body = Buffer.from(att.envelope.payload, 'base64');
      const sig = Buffer.from(att.envelope.signatures[0]!.sig, 'base64');
      assert.equal(await ed.verifyAsync(sig, paeByHand(att.envelope.payloadType, body), bob.publicKey), false);
      assert.equal(await ed.verifyAsync(sig, body, alice.publicKey), false, 'signed over PAE, not over the bare payload');
    });

    it('an envelope signed by @noble/ed25519 over a hand-made PAE is accepted by verifyAttestation', async () => {
      const { secretKey, publicKey } = await ed.keygenAsync();
      const keyHex = Buffer.from(publicKey).toString('hex');
      const statement: Statement = {
        _type: STATEMENT_TYPE,
        subject: [{ name: 'example/hello', digest: { sha256: IMAGE.slice(7) } }],
        predicateType: PREDICATE_TYPE,
        predicate: {
          spec: SPEC,
          outcome: 'reproduced',
          builder: { type: 'dockerfile', version: '1.28.2' },
          signer: { publicKey: keyHex },
          startedOn: '2026-01-01T00:00:00Z',
          finishedOn: '2026-01-01T00:00:01.5Z',
        },
      };
      const body = new TextEncoder().encode(JSON.stringify(statement));
      const sig = await ed.signAsync(paeByHand(PAYLOAD_TYPE, body), secretKey);
      const envelope = {
        payloadType: PAYLOAD_TYPE,
        payload: Buffer.from(body).toString('base64'),
        signatures: [{ keyid: sha256(publicKey).toString('hex'), sig: Buffer.from(sig).toString('base64') }],
      };
      const v = verifyAttestation(JSON.stringify(envelope), { publicKey: keyHex });
      assert.equal(v.signer, sha256(publicKey).toString('hex'));
      assert.equal(v.digest, IMAGE);
      // The keyid is only a hint: an envelope without one verifies too.
      assert.equal(verifyAttestation({ ...envelope, signatures: [{ sig: envelope.signatures[0]!.sig }] }).signer, v.signer);
    });
  });

  describe('tampering', () => {
    it('a changed payload value fails the signature check (bad-signature, negative)', () => {
      const st = payloadOf(att.envelope);
      st.subject[0]!.digest.sha256 = hexOf('another image');
      const e = refusal(() => verifyAttestation(withPayload(att.envelope, st)));
      assert.equal(e.code, 'bad-signature');
      assert.equal(e.kind, 'negative');
    });

    it('a changed payload byte that breaks the statement is malformed (invalid-input)', () => {
      const bytes = Buffer.from(att.envelope.payload, 'base64');
      bytes[0] = 0x5b; // '{' → '['
      const e = refusal(() => verifyAttestation({ ...att.envelope, payload: bytes.toString('base64') }));
      assert.equal(e.code, 'malformed');
      assert.equal(e.kind, 'invalid-input');
    });

    it('every single flipped payload bit is caught', () => {
      const bytes = Buffer.from(att.envelope.payload, 'base64');
      for (let i = 0; i < bytes.length; i += 7) {
        const copy = Buffer.from(bytes);
        copy[i]! ^= 0x01;
        const e = refusal(() => verifyAttestation({ ...att.envelope, payload: copy.toString('base64') }));
        assert.ok(e.code === 'bad-signature' || e.code === 'malformed', `byte ${i}: ${e.code}`);
      }
    });

    it('a changed signature byte is bad-signature', () => {
      const sig = Buffer.from(att.envelope.signatures[0]!.sig, 'base64');
      sig[10]! ^= 0x80;
      const e = refusal(() => verifyAttestation({ ...att.envelope, signatures: [{ ...att.envelope.signatures[0]!, sig: sig.toString('base64') }] }));
      assert.equal(e.code, 'bad-signature');
      const short = refusal(() => verifyAttestation({ ...att.envelope, signatures: [{ sig: sig.subarray(0, 63).toString('base64') }] }));
      assert.equal(short.code, 'bad-signature');
    });

    it('a changed payloadType is malformed: only in-toto statements are attestations', () => {
      const e = refusal(() => verifyAttestation({ ...att.envelope, payloadType: 'application/json' }));
      assert.equal(e.code, 'malformed');
      assert.match(e.message, /payloadType is "application\/json", expected application\/vnd\.in-toto\+json/);
    });

    it('a keyid hint that is not the statement key is malformed', () => {
      const e = refusal(() => verifyAttestation({ ...att.envelope, signatures: [{ keyid: bob.keyid, sig: att.envelope.signatures[0]!.sig }] }));
      assert.equal(e.code, 'malformed');
      assert.match(e.message, /keyid/);
    });

    it("replacing the signer's public key in the predicate is caught: by the keyid hint, else by the signature", () => {
      const st = payloadOf(att.envelope);
      st.predicate.signer.publicKey = publicKeyHex(bob);
      const forged = withPayload(att.envelope, st);
      assert.equal(refusal(() => verifyAttestation(forged)).code, 'malformed');
      const withBobsHint = { ...forged, signatures: [{ keyid: bob.keyid, sig: forged.signatures[0]!.sig }] };
      assert.equal(refusal(() => verifyAttestation(withBobsHint)).code, 'bad-signature');
      const withoutHint = { ...forged, signatures: [{ sig: forged.signatures[0]!.sig }] };
      assert.equal(refusal(() => verifyAttestation(withoutHint)).code, 'bad-signature');
    });

    it('re-signing with another key makes it that signer\'s attestation, not the original one\'s', () => {
      const st = payloadOf(att.envelope);
      st.predicate.signer.publicKey = publicKeyHex(bob);
      const resigned = signEnvelope(PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), bob);
      assert.equal(verifyAttestation(resigned).signer, bob.keyid);
      const e = refusal(() => verifyAttestation(resigned, { publicKey: publicKeyHex(alice) }));
      assert.equal(e.code, 'wrong-signer');
      assert.equal(e.kind, 'negative');
    });

    it('an envelope with two signatures, none, or a non-JSON payload is malformed', () => {
      const sig = att.envelope.signatures[0]!;
      assert.equal(refusal(() => verifyAttestation({ ...att.envelope, signatures: [sig, sig] })).code, 'malformed');
      assert.equal(refusal(() => verifyAttestation({ ...att.envelope, signatures: [] })).code, 'malformed');
      assert.equal(refusal(() => verifyAttestation({ ...att.envelope, payload: Buffer.from('not json').toString('base64') })).code, 'malformed');
      assert.equal(refusal(() => verifyAttestation('{"payloadType": 1}')).code, 'malformed');
      assert.equal(refusal(() => verifyAttestation('not json at all')).code, 'malformed');
      assert.equal(refusal(() => verifyAttestation({ ...att.envelope, payload: 'not base64!' })).code, 'malformed');
    });
  });

  describe('failed and unstable outcomes', () => {
    it('a failed statement is about the spec itself and votes for no digest', () => {
      const a = attest(alice, SPEC, failed('base image unavailable', 'input-unavailable'));
      assert.equal(a.outcome, 'failed');
      assert.equal(a.digest, null);
      assert.equal(a.statement.subject[0]!.digest.sha256, SPEC.slice('sha256:'.length));
      assert.deepEqual(a.statement.predicate.failure, { class: 'input-unavailable', message: 'base image unavailable' });
      assert.equal(verifyAttestation(JSON.stringify(a.envelope)).digest, null);
    });

    it('an unstable statement is about the spec, lists the differing digests, and votes for no digest', () => {
      const a = attest(alice, SPEC, unstable());
      assert.equal(a.outcome, 'unstable');
      assert.equal(a.digest, null);
      assert.equal(a.statement.subject[0]!.digest.sha256, SPEC.slice('sha256:'.length));
      assert.deepEqual(a.statement.predicate.unstable?.digests, [digestOf('first build'), digestOf('second build')]);
    });

    it('a signed failed statement whose subject is an image digest is refused: "failed" can never read as "built something else"', () => {
      const st = structuredClone(attest(alice, SPEC, failed()).statement);
      st.subject[0]!.digest.sha256 = IMAGE.slice(7);
      const env = signEnvelope(PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), alice);
      const e = refusal(() => verifyAttestation(env));
      assert.equal(e.code, 'malformed');
      assert.match(e.message, /subject digest must be the spec id/);
    });

    it('a signed reproduced statement that carries a failure is refused', () => {
      const st = structuredClone(att.statement) as Statement;
      st.predicate.failure = { class: 'build-error', message: 'x' };
      assert.equal(refusal(() => verifyAttestation(signEnvelope(PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), alice))).code, 'malformed');
    });

    it('an unstable statement needs two different digests', () => {
      const e = refusal(() => attest(alice, SPEC, { outcome: 'unstable', digests: [IMAGE, IMAGE] }));
      assert.equal(e.code, 'malformed');
    });
  });

  describe('size limit', () => {
    it(`refuses an envelope larger than ${MAX_ENVELOPE_BYTES} bytes before parsing it`, () => {
      const padded = `${JSON.stringify(att.envelope)}${' '.repeat(MAX_ENVELOPE_BYTES)}`;
      const e = refusal(() => decodeEnvelope(padded));
      assert.equal(e.code, 'malformed');
      assert.match(e.message, /more than the 65536-byte limit/);
      assert.equal(refusal(() => verifyAttestation(Buffer.from(padded))).code, 'malformed');
    });

    it('never signs an envelope that verifiers would refuse for its size, however long the diagnostics', () => {
      const longFailure = attest(alice, SPEC, failed('\u0001'.repeat(100_000)));
      const manyDifferences = attest(alice, SPEC, {
        outcome: 'unstable',
        digests: [digestOf('a'), digestOf('b')],
        differences: Array.from({ length: 1000 }, (_, i) => `layer ${i}: ${'\u0002'.repeat(2000)}`),
      });
      for (const a of [longFailure, manyDifferences]) {
        const text = JSON.stringify(a.envelope);
        assert.ok(Buffer.byteLength(text) <= MAX_ENVELOPE_BYTES, `${a.outcome} envelope is ${Buffer.byteLength(text)} bytes`);
        assert.equal(verifyAttestation(text).id, a.id);
      }
      assert.ok((manyDifferences.statement.predicate.unstable?.differences?.length ?? 0) > 0, 'keeps the differences that fit');
    });

    it('applies the same limit to an envelope given as parsed JSON (as inside a bundle)', () => {
      const padded = { ...att.envelope, padding: 'x'.repeat(MAX_ENVELOPE_BYTES) };
      assert.equal(refusal(() => verifyAttestation(padded)).code, 'malformed');
    });
  });

  describe('encodings and envelope ids', () => {
    it('accepts URL-safe base64 and gives the same envelope id as the standard encoding', () => {
      const urlSafe = {
        payloadType: att.envelope.payloadType,
        payload: toUrlSafe(att.envelope.payload),
        signatures: [{ keyid: att.envelope.signatures[0]!.keyid, sig: toUrlSafe(att.envelope.signatures[0]!.sig) }],
      };
      assert.notEqual(urlSafe.payload, att.envelope.payload, 'this payload has + or / or padding, so the encodings differ');
      const v = verifyAttestation(JSON.stringify(urlSafe));
      assert.equal(v.id, att.id);
      assert.deepEqual(v.envelope, att.envelope, 'normalised back to standard base64');
    });

    it('the envelope id is sha256 of the RFC 8785 form of the standard encoding, independent of whitespace and key order', () => {
      const { payloadType, payload, signatures } = att.envelope;
      const s = signatures[0]!;
      const canonical = `{"payload":"${payload}","payloadType":"${payloadType}","signatures":[{"keyid":"${s.keyid}","sig":"${s.sig}"}]}`;
      assert.equal(att.id, `sha256:${sha256(canonical).toString('hex')}`);
      const reordered = `{\n  "signatures": [ { "sig": "${s.sig}", "keyid": "${s.keyid}" } ],\n  "payload": "${payload}",\n  "payloadType": "${payloadType}"\n}`;
      assert.equal(verifyAttestation(reordered).id, att.id);
    });

    it('the fast envelope id equals the general RFC 8785 canonicaliser on odd but legal strings', () => {
      const odd: EnvelopeJson[] = [
        att.envelope,
        { payloadType: 'tëxt/"quoted"\\\u0001\u2028', payload: '', signatures: [{ sig: 'AA==' }] },
        { payloadType: 'x', payload: 'eA==', signatures: [{ keyid: '\ud83d\ude00', sig: 'AA' }, { keyid: '', sig: '' }] },
      ];
      for (const e of odd) {
        const normal = { ...e, signatures: e.signatures.map((s) => ({ keyid: s.keyid ?? '', sig: s.sig })) };
        assert.equal(envelopeId(e), canonicalDigest(normal));
      }
    });

    it('an envelope without its keyid hint has the same id, and is stored with the true keyid', () => {
      const bare = { ...att.envelope, signatures: [{ sig: att.envelope.signatures[0]!.sig }] };
      const v = verifyAttestation(bare);
      assert.equal(v.id, att.id);
      assert.equal(v.envelope.signatures[0]!.keyid, alice.keyid);
    });

    it('different attestations have different ids', () => {
      const again = attest(alice, SPEC, reproduced(IMAGE), undefined, new Date('2026-01-02T00:00:00Z'));
      assert.notEqual(again.id, att.id);
      assert.notEqual(attest(bob, SPEC, reproduced(IMAGE)).id, att.id);
    });
  });
});
