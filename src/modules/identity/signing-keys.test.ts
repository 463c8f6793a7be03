import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { createKeyRing, decryptAtRest, deriveKeyEncryptionKey, encryptAtRest } from './signing-keys.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

interface StoredKey extends Record<string, unknown> {
  id: string;
  status: string;
  public_jwk: { kty: string; crv: string; x: string; d?: string };
  private_key_encrypted: string;
}

const storedKeys = () => t.admin.query<StoredKey>('SELECT id, status, public_jwk, private_key_encrypted FROM signing_keys ORDER BY id');
const ring = (encryptionKey = t.config.auth.keyEncryptionKey) => createKeyRing({ db: t.platform.db, encryptionKey });

describe('key ring', () => {
  it('creates the signing key on first start and stores it', async () => {
    const kid = t.app.keyRing.activeKey().kid;
    const row = (await storedKeys()).find((key) => key.id === kid);
    expect(row).toMatchObject({ status: expect.stringMatching(/^(active|retired)$/), public_jwk: { kty: 'OKP', crv: 'Ed25519' } });
  });

  it('reuses the stored key: a second key ring on the same database loads the same kid', async () => {
    const first = await ring();
    const second = await ring();
    expect(second.activeKey().kid).toBe(first.activeKey().kid);
    expect((await storedKeys()).filter((key) => key.status === 'active')).toHaveLength(1);
    // The same private key, not merely the same id.
    expect(second.activeKey().privateKey.equals(first.activeKey().privateKey)).toBe(true);
  });

  it('publishes the public half only, with kid, alg and use', async () => {
    const keys = await ring();
    const { kid } = keys.activeKey();
    const jwks = keys.publicJwks();
    expect(jwks.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid, alg: 'EdDSA', use: 'sig' }]);
    expect(keys.keyFor(kid)?.type).toBe('public');
    expect(keys.keyFor('00000000-0000-7000-8000-000000000000')).toBeUndefined();
  });

  it('stores the private key encrypted: neither the PEM nor the JWK `d` appears in the row', async () => {
    const keys = await ring();
    const { kid, privateKey } = keys.activeKey();
    const d = privateKey.export({ format: 'jwk' }).d!;
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const [row] = (await storedKeys()).filter((key) => key.id === kid);
    const stored = row!.private_key_encrypted;
    const decoded = Buffer.from(stored, 'base64');
    expect(stored).not.toContain('PRIVATE KEY');
    expect(stored).not.toContain(d);
    expect(decoded.includes(Buffer.from(d, 'base64url'))).toBe(false);
    expect(decoded.includes(pkcs8)).toBe(false);
    expect(JSON.stringify(row!.public_jwk)).not.toContain(d);
    // It does decrypt with the configured key, to this very key.
    expect(decryptAtRest(deriveKeyEncryptionKey(t.config.auth.keyEncryptionKey), kid, stored)).toContain('BEGIN PRIVATE KEY');
  });

  it('refuses to start with the wrong key encryption key', async () => {
    const { kid } = (await ring()).activeKey();
    const [row] = (await storedKeys()).filter((key) => key.id === kid);
    expect(() => decryptAtRest(deriveKeyEncryptionKey(randomBytes(32).toString('hex')), kid, row!.private_key_encrypted)).toThrow();
    await expect(ring('another-secret-that-is-long-enough-to-be-accepted')).rejects.toThrow(/AUTH_KEY_ENCRYPTION_KEY cannot decrypt the active signing key/);
  });

  it('one active key when several processes create it at once', async () => {
    // Retire what exists, so every key ring below finds no active key and tries to create one.
    await t.admin.query(`UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE status = 'active'`);
    const rings = await Promise.all(Array.from({ length: 4 }, () => ring()));
    const kids = new Set(rings.map((keys) => keys.activeKey().kid));
    expect(kids.size).toBe(1);
    const active = (await storedKeys()).filter((key) => key.status === 'active');
    expect(active.map((key) => key.id)).toEqual([...kids]);
    // Retired keys are no longer published nor accepted.
    const retired = (await storedKeys()).filter((key) => key.status === 'retired').map((key) => key.id);
    expect(retired.length).toBeGreaterThan(0);
    for (const kid of retired) expect(rings[0]!.keyFor(kid)).toBeUndefined();
    expect(rings[0]!.publicJwks().keys.map((key) => key.kid)).toEqual([...kids]);
  });
});

describe('key encryption', () => {
  it('accepts 32 bytes as hex, base64 or base64url, and derives a key from a long passphrase', () => {
    const raw = randomBytes(32);
    expect(deriveKeyEncryptionKey(raw.toString('hex'))).toEqual(raw);
    expect(deriveKeyEncryptionKey(raw.toString('base64'))).toEqual(raw);
    expect(deriveKeyEncryptionKey(raw.toString('base64url'))).toEqual(raw);
    const derived = deriveKeyEncryptionKey('correct horse battery staple, and then some');
    expect(derived).toHaveLength(32);
    expect(deriveKeyEncryptionKey('correct horse battery staple, and then some')).toEqual(derived);
    expect(deriveKeyEncryptionKey('correct horse battery staple, and then more')).not.toEqual(derived);
    expect(() => deriveKeyEncryptionKey('too short')).toThrow(/at least 32 characters/);
  });

  it('binds the ciphertext to its kid and detects tampering', () => {
    const key = randomBytes(32);
    const stored = encryptAtRest(key, 'kid-a', 'secret pem');
    expect(decryptAtRest(key, 'kid-a', stored)).toBe('secret pem');
    expect(() => decryptAtRest(key, 'kid-b', stored)).toThrow();
    const bytes = Buffer.from(stored, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => decryptAtRest(key, 'kid-a', bytes.toString('base64'))).toThrow();
    // A fresh IV each time: the same plaintext never encrypts to the same value.
    expect(encryptAtRest(key, 'kid-a', 'secret pem')).not.toBe(stored);
  });
});
