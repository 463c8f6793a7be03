/**
 * The token signing key ring: Ed25519 key pairs generated on first start and stored in `signing_keys`,
 * the private half encrypted at rest with AES-256-GCM under a key derived from AUTH_KEY_ENCRYPTION_KEY.
 *
 * Rotation (`atrium keys rotate`, or `KeyRing.rotate()`): the active key becomes `previous` — it stops
 * signing but keeps verifying, and stays in the JWKS, for one access-token lifetime plus a skew margin,
 * so no live token is invalidated — and a new active key is created, in one transaction. Other processes
 * pick the new key up on their periodic reload (they sign with it from then on) or, sooner, the first time
 * they see a token with its `kid` (an unknown `kid` triggers a reload, at most one per few seconds).
 * A previous key whose tokens have all expired is retired: it no longer verifies and leaves the JWKS.
 *
 * Key encryption key: 64 hex digits or base64/base64url that decodes to exactly 32 bytes are used as the
 * key itself; any other secret of at least 32 characters goes through HKDF-SHA256 (fixed salt and info),
 * so a long passphrase works too. Stored value: base64(iv[12] | tag[16] | ciphertext), with the kid as
 * additional authenticated data, so a ciphertext copied onto another row does not decrypt.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { and, desc, eq, lte, ne, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../core/db/database.js';
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
  /** Every key that may have signed a valid token (active and previous), active first, for `/.well-known/jwks.json`. */
  publicJwks(): { keys: PublicJwk[] };
  /** The verification key for a `kid`, or undefined when it is unknown or retired (as last loaded; no reload). */
  keyFor(kid: string): KeyObject | undefined;
  /**
   * `keyFor`, except that an unknown `kid` first reloads the keys (another process may have rotated them):
   * at most one such reload per `unknownKidReloadIntervalMs`, shared by every caller waiting for it, so a
   * flood of made-up kids costs one query per interval. Undefined when the kid is still unknown.
   */
  findKey(kid: string): Promise<KeyObject | undefined>;
  /** Re-reads the keys from the database (after another process rotated them); retires expired previous keys. */
  reload(): Promise<void>;
  /** Rotates the signing key (see `rotateSigningKey`), then signs with the new key at once. */
  rotate(): Promise<RotationResult>;
  /** Stops the periodic reload. */
  close(): void;
}

export interface RotationResult {
  /** The new active key. */
  kid: string;
  /** The key it replaced, now `previous`; null when there was no active key. */
  previousKid: string | null;
  /** When the previous key stops verifying and leaves the JWKS (rotation + token lifetime + skew). */
  previousVerifiesUntil: Date | null;
  /** Previous keys this rotation retired: every token they signed has expired. */
  retiredKids: string[];
}

/**
 * How long after its rotation a previous key still verifies, beyond the access-token lifetime: covers the
 * processes that keep signing with it until their next reload, and clock skew between them.
 */
export const ROTATION_SKEW_SECONDS = 300;
/** How often a running process re-reads the keys, so it starts signing with a rotated key soon. */
export const KEY_REFRESH_INTERVAL_MS = 60_000;
/** At most one reload per this interval is triggered by tokens with an unknown `kid`. */
export const UNKNOWN_KID_RELOAD_INTERVAL_MS = 5_000;

export interface SigningKeyStoreOptions {
  db: Database;
  encryptionKey: string;
  /** The access-token lifetime: a previous key verifies for this long (plus `skewSeconds`) after its rotation. */
  accessTokenTtlSeconds: number;
  /** Default ROTATION_SKEW_SECONDS. */
  skewSeconds?: number;
}

export interface KeyRingOptions extends SigningKeyStoreOptions {
  /** Re-read the keys this often (milliseconds; unref'd timer, stopped by `close()`). Default: never. */
  refreshIntervalMs?: number;
  /** Default UNKNOWN_KID_RELOAD_INTERVAL_MS. */
  unknownKidReloadIntervalMs?: number;
  /** Receives the failures of background reloads (periodic or unknown-kid); the keys already loaded stay in use. */
  onReloadError?: (error: unknown) => void;
  /** Milliseconds since the epoch, for the unknown-kid throttle; tests move it. */
  clock?: () => number;
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

/** Serialises rotations across processes (taken transaction-locally). */
const ROTATION_LOCK = 'atrium.signing-keys.rotate';

const retentionSeconds = (options: SigningKeyStoreOptions) => options.accessTokenTtlSeconds + (options.skewSeconds ?? ROTATION_SKEW_SECONDS);

/** AUTH_KEY_ENCRYPTION_KEY does not decrypt the stored active key: a configuration error, not a bug. */
export class KeyEncryptionKeyError extends Error {
  constructor(kid: string) {
    super(`AUTH_KEY_ENCRYPTION_KEY cannot decrypt the active signing key ${kid} (wrong key, or the stored value was altered)`);
    this.name = 'KeyEncryptionKeyError';
  }
}

/** Decrypts a stored private key, naming the configuration to fix when it cannot. */
function decryptPrivateKey(kek: Buffer, row: { id: string; privateKeyEncrypted: string }): KeyObject {
  let pem: string;
  try {
    pem = decryptAtRest(kek, row.id, row.privateKeyEncrypted);
  } catch {
    throw new KeyEncryptionKeyError(row.id);
  }
  return createPrivateKey(pem);
}

/** A fresh key pair as a row (private half encrypted under `kek`, bound to its kid). */
function newKeyRow(kek: Buffer): typeof signingKeys.$inferInsert & { id: string } {
  const kid = uuidv7();
  const pair = generateKeyPairSync('ed25519');
  const { kty, crv, x } = pair.publicKey.export({ format: 'jwk' });
  const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { id: kid, algorithm: SIGNING_ALGORITHM, publicJwk: { kty: kty!, crv: crv!, x: x! }, privateKeyEncrypted: encryptAtRest(kek, kid, pem), status: 'active' };
}

/**
 * Retires the previous keys rotated more than `seconds` ago (database time, the same clock `rotated_at`
 * was set with): every token they signed has expired. Returns their kids.
 */
async function retireExpiredKeys(tx: Tx, seconds: number): Promise<string[]> {
  const rows = await tx
    .update(signingKeys)
    .set({ status: 'retired', retiredAt: sql`now()` })
    .where(and(eq(signingKeys.status, 'previous'), lte(signingKeys.rotatedAt, sql`now() - make_interval(secs => ${seconds})`)))
    .returning({ id: signingKeys.id });
  return rows.map((row) => row.id);
}

/**
 * Rotates the signing key in one transaction: the active key becomes `previous` (it keeps verifying the
 * tokens it signed for one token lifetime plus skew), a new active key is created, and previous keys older
 * than that are retired. Rotations are serialised by an advisory lock, so two at once make two rotations,
 * never an error. Refuses (before changing anything) when AUTH_KEY_ENCRYPTION_KEY cannot decrypt the
 * current active key: a new key encrypted under the wrong key would stop every server at its next start.
 */
export async function rotateSigningKey(options: SigningKeyStoreOptions): Promise<RotationResult> {
  const kek = deriveKeyEncryptionKey(options.encryptionKey);
  const retention = retentionSeconds(options);
  return options.db.transaction({}, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${ROTATION_LOCK}))`);
    const [current] = await tx.select().from(signingKeys).where(eq(signingKeys.status, 'active')).for('update');
    let previous: { id: string; rotatedAt: Date | null } | undefined;
    if (current) {
      decryptPrivateKey(kek, current);
      [previous] = await tx
        .update(signingKeys)
        .set({ status: 'previous', rotatedAt: sql`now()` })
        .where(eq(signingKeys.id, current.id))
        .returning({ id: signingKeys.id, rotatedAt: signingKeys.rotatedAt });
    }
    const row = newKeyRow(kek);
    await tx.insert(signingKeys).values(row);
    const retiredKids = await retireExpiredKeys(tx, retention);
    return {
      kid: row.id,
      previousKid: previous?.id ?? null,
      previousVerifiesUntil: previous?.rotatedAt ? new Date(previous.rotatedAt.getTime() + retention * 1000) : null,
      retiredKids,
    };
  });
}

/**
 * Loads the key ring, creating the first signing key when there is no active one. Safe when several
 * processes start at once: the partial unique index on `status = 'active'` lets one insert win, and every
 * process then loads the winner.
 */
export async function createKeyRing(options: KeyRingOptions): Promise<KeyRing> {
  const { db } = options;
  const kek = deriveKeyEncryptionKey(options.encryptionKey);
  const retention = retentionSeconds(options);
  const unknownKidReloadIntervalMs = options.unknownKidReloadIntervalMs ?? UNKNOWN_KID_RELOAD_INTERVAL_MS;
  const clock = options.clock ?? Date.now;
  const reportReloadError = (error: unknown) => options.onReloadError?.(error);
  let keys = new Map<string, LoadedKey>();
  let active: ActiveSigningKey | undefined;
  // Loads may overlap (periodic, unknown kid, rotation): the one started last wins, never an older one.
  let loadsStarted = 0;
  let loadApplied = 0;

  /** Reads the keys and, when there is an active one, swaps them in; false (nothing changed) when there is none. */
  const load = async (): Promise<boolean> => {
    const sequence = ++loadsStarted;
    const rows = await db.transaction({}, async (tx) => {
      await retireExpiredKeys(tx, retention);
      return tx
        .select()
        .from(signingKeys)
        .where(ne(signingKeys.status, 'retired'))
        .orderBy(desc(sql`${signingKeys.status} = 'active'`), desc(signingKeys.id));
    });
    const activeRow = rows.find((row) => row.status === 'active');
    if (!activeRow) return false;
    if (sequence < loadApplied) return true;
    const next = new Map<string, LoadedKey>();
    for (const row of rows) {
      const known = keys.get(row.id);
      if (known) {
        next.set(row.id, known);
        continue;
      }
      const jwk = toPublicJwk(row.id, row.publicJwk);
      next.set(row.id, { kid: row.id, jwk, publicKey: createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' }) });
    }
    const nextActive = active?.kid === activeRow.id ? active : { kid: activeRow.id, privateKey: decryptPrivateKey(kek, activeRow) };
    loadApplied = sequence;
    keys = next;
    active = nextActive;
    return true;
  };

  const reload = async (): Promise<void> => {
    if (!(await load())) throw new Error('no active signing key');
  };

  if (!(await load())) {
    await db.transaction({}, (tx) =>
      tx
        .insert(signingKeys)
        .values(newKeyRow(kek))
        // Another process created the active key first: keep theirs.
        .onConflictDoNothing({ target: signingKeys.status, where: sql`${signingKeys.status} = 'active'` }),
    );
    if (!(await load())) throw new Error('no active signing key after creating one');
  }

  let closed = false;
  let lastUnknownKidReloadAt = -Infinity;
  let unknownKidReload: Promise<void> | undefined;
  let periodicReload: Promise<void> | undefined;
  const timer =
    options.refreshIntervalMs && options.refreshIntervalMs > 0
      ? setInterval(() => {
          // A slow database must not pile reloads up.
          periodicReload ??= reload()
            .catch(reportReloadError)
            .finally(() => (periodicReload = undefined));
        }, options.refreshIntervalMs)
      : undefined;
  timer?.unref();

  return {
    activeKey: () => active!,
    publicJwks: () => ({ keys: [...keys.values()].map((key) => key.jwk) }),
    keyFor: (kid) => keys.get(kid)?.publicKey,
    findKey: async (kid) => {
      const known = keys.get(kid);
      if (known || closed) return known?.publicKey;
      if (!unknownKidReload) {
        const now = clock();
        if (now - lastUnknownKidReloadAt < unknownKidReloadIntervalMs) return undefined;
        lastUnknownKidReloadAt = now;
        unknownKidReload = reload()
          .catch(reportReloadError)
          .finally(() => (unknownKidReload = undefined));
      }
      await unknownKidReload;
      return keys.get(kid)?.publicKey;
    },
    reload,
    rotate: async () => {
      const result = await rotateSigningKey(options);
      await reload();
      return result;
    },
    close: () => {
      closed = true;
      if (timer) clearInterval(timer);
    },
  };
}
