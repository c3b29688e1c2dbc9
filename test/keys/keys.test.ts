import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, verify, createPublicKey } from 'node:crypto';
import type { Bit4bitError } from '../../src/errors.js';
import { generateSigningKeyPem, keyIdOf, keyIdOfHex, parsePublicKeyHex, publicKeyObject, signerFromPem } from '../../src/keys/keys.js';

describe('keys: Ed25519 signing keys and key ids', () => {
  it('a generated key is an Ed25519 PKCS#8 PEM whose signer has a 32-byte public key', () => {
    const pem = generateSigningKeyPem();
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
    const signer = signerFromPem(pem);
    assert.equal(signer.publicKey.byteLength, 32);
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    assert.equal(Buffer.from(signer.publicKey).toString('base64url'), jwk.x, 'the raw key is the JWK x coordinate');
  });

  it('keyid = hex sha256 of the raw public key, the same from bytes or hex', () => {
    const signer = signerFromPem(generateSigningKeyPem());
    const expected = createHash('sha256').update(signer.publicKey).digest('hex');
    assert.equal(signer.keyid, expected);
    assert.equal(keyIdOf(signer.publicKey), expected);
    assert.equal(keyIdOfHex(Buffer.from(signer.publicKey).toString('hex')), expected);
  });

  it('signs messages verifiable with the raw public key', () => {
    const signer = signerFromPem(generateSigningKeyPem());
    const message = Buffer.from('message');
    const sig = signer.sign(message);
    assert.equal(sig.byteLength, 64);
    assert.equal(verify(null, message, publicKeyObject(Buffer.from(signer.publicKey).toString('hex')), sig), true);
  });

  it('refuses a PEM that is not a private key, or not Ed25519, without echoing it', () => {
    assert.throws(() => signerFromPem('not a key', 'signing key /x'), (e: Bit4bitError) => e.code === 'bad-key' && /signing key \/x is not a PEM private key; create one with `bit4bit init`/.test(e.message));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(() => signerFromPem(rsa), (e: Bit4bitError) => {
      assert.equal(e.code, 'bad-key');
      assert.match(e.message, /is a rsa key; bit4bit signs with Ed25519 only/);
      assert.ok(!e.message.includes('PRIVATE KEY'));
      return true;
    });
  });

  it('parses only 64 lowercase hex characters as a public key', () => {
    const hex = 'ab'.repeat(32);
    assert.deepEqual(parsePublicKeyHex(hex), new Uint8Array(Buffer.from(hex, 'hex')));
    for (const bad of [hex.toUpperCase(), hex.slice(2), `${hex}00`, 'zz'.repeat(32)]) {
      assert.throws(() => parsePublicKeyHex(bad, '--key'), (e: Bit4bitError) => e.code === 'bad-key' && e.message.startsWith('--key must be 64 lowercase hex characters'));
    }
  });
});
