import assert from 'node:assert/strict';
import { createAttestation } from '../../src/attestation/attestation.js';
import { createAnnouncement } from '../../src/net/announcement.js';
import { validateGossipAttestation } from '../../src/net/validation/attestation.js';
import { GossipAction, GossipValidationError } from '../../src/net/validation/errors.js';
import { validateGossipSpec } from '../../src/net/validation/spec.js';
import { digestOf, newSigner, specNamed } from './cluster.js';

const rejects = (action: GossipAction, code: string) => (e: unknown) => e instanceof GossipValidationError && e.action === action && e.code === code;

describe('gossip validation rules', () => {
  const signer = newSigner();
  const loaded = specNamed('example/validation');
  const att = createAttestation({ specId: loaded.id, spec: loaded.spec, result: { outcome: 'reproduced', digest: digestOf('x') }, startedOn: new Date(0), finishedOn: new Date(0) }, signer);
  const data = Buffer.from(JSON.stringify(att.envelope));
  const none = { hasEnvelope: async () => false, hasAnnouncement: async () => false };

  describe('/bit4bit/attestations/1', () => {
    it('ACCEPTs a valid envelope and returns it verified', async () => {
      assert.equal((await validateGossipAttestation(none, data)).id, att.id);
    });
    it('REJECTs an oversized message before parsing it', async () => {
      await assert.rejects(validateGossipAttestation(none, Buffer.alloc(64 * 1024 + 1, 32)), rejects(GossipAction.REJECT, 'too-large'));
    });
    it('REJECTs what does not decode as an envelope or statement', async () => {
      await assert.rejects(validateGossipAttestation(none, Buffer.from('{"payloadType":1}')), rejects(GossipAction.REJECT, 'malformed'));
      const env = { ...att.envelope, payload: Buffer.from('{"not":"a statement"}').toString('base64') };
      await assert.rejects(validateGossipAttestation(none, Buffer.from(JSON.stringify(env))), rejects(GossipAction.REJECT, 'malformed'));
    });
    it('IGNOREs an envelope already stored, without checking its signature', async () => {
      let asked = '';
      const ctx = { hasEnvelope: async (id: string) => ((asked = id), true) };
      await assert.rejects(validateGossipAttestation(ctx, data), rejects(GossipAction.IGNORE, 'duplicate'));
      assert.equal(asked, att.id);
    });
    it('REJECTs a bad signature', async () => {
      const sig = Buffer.from(att.envelope.signatures[0]!.sig, 'base64');
      sig.writeUInt8(sig.readUInt8(0) ^ 1, 0);
      const env = { ...att.envelope, signatures: [{ keyid: att.signer, sig: sig.toString('base64') }] };
      await assert.rejects(validateGossipAttestation(none, Buffer.from(JSON.stringify(env))), rejects(GossipAction.REJECT, 'bad-signature'));
    });
  });

  describe('/bit4bit/specs/1', () => {
    const ann = createAnnouncement(loaded, signer);
    const annData = Buffer.from(JSON.stringify(ann.envelope));
    it('ACCEPTs a signed announcement and names its publisher', async () => {
      const got = await validateGossipSpec(none, annData);
      assert.equal(got.specId, loaded.id);
      assert.equal(got.publisher, signer.keyid);
    });
    it('REJECTs an attestation sent on the spec topic, an invalid spec, or a forged publisher', async () => {
      await assert.rejects(validateGossipSpec(none, data), rejects(GossipAction.REJECT, 'malformed'));
      const payload = JSON.parse(Buffer.from(ann.envelope.payload, 'base64').toString()) as { spec: { name?: string } };
      delete payload.spec.name;
      const broken = { ...ann.envelope, payload: Buffer.from(JSON.stringify(payload)).toString('base64') };
      await assert.rejects(validateGossipSpec(none, Buffer.from(JSON.stringify(broken))), rejects(GossipAction.REJECT, 'malformed'));
      const other = newSigner();
      const forged = { ...ann.envelope, payload: Buffer.from(JSON.stringify({ publisher: Buffer.from(other.publicKey).toString('hex'), spec: loaded.spec })).toString('base64'), signatures: [{ keyid: '', sig: ann.envelope.signatures[0]!.sig }] };
      await assert.rejects(validateGossipSpec(none, Buffer.from(JSON.stringify(forged))), rejects(GossipAction.REJECT, 'bad-signature'));
    });
    it('IGNOREs an announcement already stored', async () => {
      await assert.rejects(validateGossipSpec({ hasAnnouncement: async () => true }, annData), rejects(GossipAction.IGNORE, 'duplicate'));
    });
    it('the same publisher announcing the same spec is the same message (Ed25519 is deterministic)', () => {
      assert.equal(createAnnouncement(loaded, signer).id, ann.id);
    });
  });
});
