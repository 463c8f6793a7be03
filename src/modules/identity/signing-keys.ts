/**
 * The token signing key ring: Ed25519 key pairs generated on first start and stored in `signing_keys`,
 * the private half encrypted at rest with AES-256-GCM under a key derived from AUTH_KEY_ENCRYPTION_KEY.
 *
 * Key encryption key: 64 hex digits or base64/base64url that decodes to exactly 32 bytes are used as the
 * key itself; any other secret of at least 32 characters goes through HKDF-SHA256 (fixed salt and info),
 * so a long passphrase works too. Stored value: base64(iv[12] | tag[16] | ciphertext), with the kid as
 * additional authenticated data, so a ciphertext copied onto another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { ne, sql } from 'drizzle-orm';
import type { Database } from '../../core/db/database.js';
import { uuidv7 } from '../../core/db/ids.js';
import { signingKeys } from './signing-keys.table.js';

export const SIGNING_ALGORITHM = 'EdDSA';

/** A public key as published in the JWKS. */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: typeof SIGNING_ALGORITHM;
  use: 'sig';
}

export interface ActiveSigningKey {
  kid: string;
  privateKey: KeyObject;
}

export interface KeyRing {
  /** The key new tokens are signed with. */
  activeKey(): ActiveSigningKey;
  /** Every key that may have signed a valid token (not retired), for `/.well-known/jwks.json`. */
  publicJwks(): { keys: PublicJwk[] };
  /** The verification key for a `kid`, or undefined when it is unknown or retired. */
  keyFor(kid: string): KeyObject | undefined;
  /** Re-reads the keys from the database (after another process rotated them). */
  reload(): Promise<void>;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_SALT = 'atrium/signing-keys';
const HKDF_INFO = 'atrium signing-key encryption v1';

/** The 32-byte AES key for a configured secret (see the file comment for the accepted forms). */
export function deriveKeyEncryptionKey(secret: string): Buffer {
  if (/^[0-9a-f]{64}$/i.test(secret)) return Buffer.from(secret, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(secret)) {
    const bytes = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  if (secret.length < 32) throw new Error('The key encryption key must be 32 bytes (hex or base64) or a secret of at least 32 characters');
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

/**
 * AES-256-GCM under the key encryption key; `associatedData` (the row's id: a signing key's kid, a user's
 * id for a TOTP secret) binds the ciphertext to its row, so it cannot be copied onto another.
 */
export function encryptAtRest(key: Buffer, associatedData: string, plaintext: string): string {
  const nonce = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(associatedData));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), ciphertext]).toString('base64');
}

/** Throws when the key is wrong or the value was altered (GCM authentication). */
export function decryptAtRest(key: Buffer, associatedData: string, stored: string): string {
  const bytes = Buffer.from(stored, 'base64');
  if (bytes.length <= IV_BYTES + TAG_BYTES) throw new Error('encrypted value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}

interface LoadedKey {
  kid: string;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

function toPublicJwk(kid: string, stored: { kty: string; crv: string; x: string }): PublicJwk {
  if (stored.kty !== 'OKP' || stored.crv !== 'Ed25519' || typeof stored.x !== 'string') throw new Error(`signing key ${kid} is not an Ed25519 key`);
  return { kty: 'OKP', crv: 'Ed25519', x: stored.x, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
}

/**
 * Loads the key ring, creating the first signing key when there is no active one. Safe when several
 * processes start at once: the partial unique index on `status = 'active'` lets one insert win, and every
 * process then loads the winner.
 */
export async function createKeyRing(options: { db: Database; encryptionKey: string }): Promise<KeyRing> {
  const { db } = options;
  const kek = deriveKeyEncryptionKey(options.encryptionKey);
  let keys = new Map<string, LoadedKey>();
  let active: ActiveSigningKey | undefined;

  const load = async (): Promise<boolean> => {
    const rows = await db.transaction({}, (tx) => tx.select().from(signingKeys).where(ne(signingKeys.status, 'retired')));
    const next = new Map<string, LoadedKey>();
    let nextActive: ActiveSigningKey | undefined;
    for (const row of rows) {
      const jwk = toPublicJwk(row.id, row.publicJwk);
      next.set(row.id, { kid: row.id, jwk, publicKey: createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' }) });
      if (row.status === 'active') {
        let pem: string;
        try {
          pem = decryptAtRest(kek, row.id, row.privateKeyEncrypted);
        } catch {
          throw new Error(`AUTH_KEY_ENCRYPTION_KEY cannot decrypt the active signing key ${row.id} (wrong key, or the stored value was altered)`);
        }
        nextActive = { kid: row.id, privateKey: createPrivateKey(pem) };
      }
    }
    keys = next;
    active = nextActive;
    return nextActive !== undefined;
  };

  const generate = async (): Promise<void> => {
    const kid = uuidv7();
    const pair = generateKeyPairSync('ed25519');
    const { kty, crv, x } = pair.publicKey.export({ format: 'jwk' });
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await db.transaction({}, (tx) =>
      tx
        .insert(signingKeys)
        .values({ id: kid, algorithm: SIGNING_ALGORITHM, publicJwk: { kty: kty!, crv: crv!, x: x! }, privateKeyEncrypted: encryptAtRest(kek, kid, pem), status: 'active' })
        // Another process created the active key first: keep theirs.
        .onConflictDoNothing({ target: signingKeys.status, where: sql`${signingKeys.status} = 'active'` }),
    );
  };

  if (!(await load())) {
    await generate();
    if (!(await load())) throw new Error('no active signing key after creating one');
  }

  return {
    activeKey: () => active!,
    publicJwks: () => ({ keys: [...keys.values()].map((key) => key.jwk) }),
    keyFor: (kid) => keys.get(kid)?.publicKey,
    reload: async () => {
      if (!(await load())) throw new Error('no active signing key');
    },
  };
}
