import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { buildApp } from '../../app.js';
import type { Database } from '../../core/db/database.js';
import { pgErrorCode } from '../../core/db/errors.js';
import { uuidv7 } from '../../core/db/ids.js';
import { MIGRATIONS_FOLDER } from '../../core/db/migrate.js';
import { bearer, createPerson, signInAs } from '../../../test/auth.js';
import { adminQuery } from '../../../test/global-setup.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { SELF } from './authenticate.js';
import {
  createKeyRing,
  decryptAtRest,
  deriveKeyEncryptionKey,
  encryptAtRest,
  KeyEncryptionKeyError,
  rotateSigningKey,
  ROTATION_SKEW_SECONDS,
  type KeyRing,
} from './signing-keys.js';
import { createAccessTokens, longestTokenLifetimeSeconds, type AccessTokens } from './tokens.js';

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
const ring = (encryptionKey = t.config.auth.keyEncryptionKey) =>
  createKeyRing({ db: t.platform.db, encryptionKey, accessTokenTtlSeconds: t.config.auth.accessTokenTtlSeconds });

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

/**
 * Rotation, on a database of its own (the tests above retire keys by hand). Every test reads the state it
 * starts from, so they do not depend on their order.
 */
describe('key rotation', () => {
  let r: TestApp;

  interface KeyRow extends Record<string, unknown> {
    id: string;
    status: string;
    rotated_at: Date | null;
    retired_at: Date | null;
  }

  const keyRows = () => r.admin.query<KeyRow>('SELECT id, status, rotated_at, retired_at FROM signing_keys ORDER BY id');
  const statusOf = async (kid: string) => (await keyRows()).find((row) => row.id === kid)?.status;
  const activeKid = async () => (await keyRows()).find((row) => row.status === 'active')!.id;
  // As the app sets it up: a previous key verifies as long as any token it signed may live (impersonation: an hour).
  const storeOptions = () => ({ db: r.platform.db, encryptionKey: r.config.auth.keyEncryptionKey, accessTokenTtlSeconds: longestTokenLifetimeSeconds(r.config.auth.accessTokenTtlSeconds) });
  /** How long a previous key verifies after its rotation. */
  const retention = () => longestTokenLifetimeSeconds(r.config.auth.accessTokenTtlSeconds) + ROTATION_SKEW_SECONDS;
  /** Moves a key's rotation `seconds` into the past. */
  const backdateRotation = (kid: string, seconds: number) =>
    r.admin.query(`UPDATE signing_keys SET rotated_at = now() - make_interval(secs => $2) WHERE id = $1`, [kid, seconds]);

  /** An authenticated route: the bearer token goes through the real authentication hook and session check. */
  const registerWhoami = (app: FastifyInstance) => {
    app.get('/test/whoami', { config: { permission: SELF } }, async (request) => ({ userId: request.actor?.userId }));
  };
  const whoami = (token: string, app = r.app) => app.inject({ method: 'GET', url: '/test/whoami', headers: bearer(token) });
  const jwks = async () => (await r.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<JSONWebKeySet>();
  const signedIn = async () => {
    const person = await createPerson(r.app);
    return { person, token: (await signInAs(r.app, person)).accessToken };
  };
  const kidOf = (token: string) => decodeProtectedHeader(token).kid!;

  beforeAll(async () => {
    r = await createTestApp({}, { configure: registerWhoami });
  });
  afterAll(() => r?.close());

  it('makes the active key previous and signs with a new one, in one step', async () => {
    await r.app.keyRing.reload();
    const before = r.app.keyRing.activeKey().kid;
    const result = await r.app.keyRing.rotate();
    expect(result).toMatchObject({ previousKid: before, retiredKids: [] });
    expect(result.kid).not.toBe(before);
    expect(r.app.keyRing.activeKey().kid).toBe(result.kid);

    const rows = await keyRows();
    const previous = rows.find((row) => row.id === before)!;
    expect(previous).toMatchObject({ status: 'previous', rotated_at: expect.any(Date), retired_at: null });
    expect(rows.find((row) => row.id === result.kid)).toMatchObject({ status: 'active', rotated_at: null, retired_at: null });
    expect(rows.filter((row) => row.status === 'active')).toHaveLength(1);
    expect(result.previousVerifiesUntil!.getTime()).toBe(previous.rotated_at!.getTime() + retention() * 1000);

    // Both verify; the JWKS lists the active key first.
    expect(r.app.keyRing.keyFor(before)?.type).toBe('public');
    const published = r.app.keyRing.publicJwks().keys.map((key) => key.kid);
    expect(published[0]).toBe(result.kid);
    expect(published).toContain(before);
  });

  it('keeps tokens issued before a rotation valid, publishes both keys, and signs new tokens with the new key', async () => {
    await r.app.keyRing.reload();
    const { person, token: oldToken } = await signedIn();
    const oldKid = kidOf(oldToken);
    expect(oldKid).toBe(r.app.keyRing.activeKey().kid);
    expect((await whoami(oldToken)).json()).toEqual({ userId: person.id });

    const { kid: newKid } = await r.app.keyRing.rotate();
    // A real signature check after the rotation, not the verdict cached before it.
    r.app.accessTokens.clear();
    const checks = r.app.accessTokens.stats().verifications;
    const after = await whoami(oldToken);
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual({ userId: person.id });
    expect(r.app.accessTokens.stats().verifications).toBe(checks + 1);

    const newToken = (await signInAs(r.app, person)).accessToken;
    expect(kidOf(newToken)).toBe(newKid);
    expect((await whoami(newToken)).json()).toEqual({ userId: person.id });

    const published = await jwks();
    expect(published.keys[0]!.kid).toBe(newKid);
    expect(published.keys.map((key) => key.kid)).toContain(oldKid);
    // A verifier outside Atrium, holding only the JWKS, accepts both tokens.
    const keySet = createLocalJWKSet(published);
    for (const token of [oldToken, newToken]) {
      const { payload } = await jwtVerify(token, keySet, { issuer: r.config.auth.issuer, audience: r.config.auth.audience });
      expect(payload.sub).toBe(person.id);
    }
  });

  it('retires a previous key once every token it signed has expired: its tokens are refused and it leaves the JWKS', async () => {
    await r.app.keyRing.reload();
    const { token } = await signedIn();
    const kid = kidOf(token);
    // Verified (and cached) before the rotation.
    expect((await whoami(token)).statusCode).toBe(200);
    const { kid: next } = await r.app.keyRing.rotate();
    expect((await whoami(token)).statusCode).toBe(200);

    // Rotated a little less than a token lifetime plus skew ago: it still verifies.
    await backdateRotation(kid, retention() - 60);
    const early = await r.app.keyRing.rotate();
    expect(early.retiredKids).not.toContain(kid);
    expect(await statusOf(kid)).toBe('previous');
    r.app.accessTokens.clear();
    expect((await whoami(token)).statusCode).toBe(200);

    // Longer ago than that: the next rotation retires it.
    await backdateRotation(kid, retention() + 1);
    const late = await r.app.keyRing.rotate();
    expect(late.retiredKids).toContain(kid);
    expect(late.previousKid).not.toBe(next);
    expect((await keyRows()).find((row) => row.id === kid)).toMatchObject({ status: 'retired', retired_at: expect.any(Date) });
    expect(r.app.keyRing.keyFor(kid)).toBeUndefined();
    // Refused, although the token itself has not expired and its verdict was cached.
    const refused = await whoami(token);
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'auth.unauthenticated' });
    await expect(r.app.accessTokens.verify(token)).rejects.toMatchObject({ reason: 'unknown kid' });
    expect((await jwks()).keys.map((key) => key.kid)).not.toContain(kid);
  });

  it('retires expired previous keys on reload too, without waiting for the next rotation', async () => {
    const kid = await activeKid();
    await rotateSigningKey(storeOptions());
    await backdateRotation(kid, retention() + 1);
    const other = await createKeyRing(storeOptions());
    expect(other.keyFor(kid)).toBeUndefined();
    expect(await statusOf(kid)).toBe('retired');
    await r.app.keyRing.reload();
    expect(r.app.keyRing.keyFor(kid)).toBeUndefined();
  });

  /**
   * Another process on the same database: with PostgreSQL a second app (its own pool, key ring and token
   * cache); PGlite belongs to one process, so there a second key ring and verifier stand in for it.
   */
  async function openOtherProcess(): Promise<{ keyRing: KeyRing; accessTokens: AccessTokens; app?: FastifyInstance; close(): Promise<void> }> {
    if (r.config.database.url) {
      const app = await buildApp(r.config, { migrate: false, configure: registerWhoami });
      await app.ready();
      return { keyRing: app.keyRing, accessTokens: app.accessTokens, app, close: () => app.close() };
    }
    const keyRing = await createKeyRing(storeOptions());
    const { issuer, audience, accessTokenTtlSeconds } = r.config.auth;
    return { keyRing, accessTokens: createAccessTokens({ keyRing, issuer, audience, ttlSeconds: accessTokenTtlSeconds }), close: async () => keyRing.close() };
  }

  it('another process verifies tokens of a key rotated elsewhere at once (unknown kid → reload), then signs with it', async () => {
    await r.app.keyRing.reload();
    const other = await openOtherProcess();
    try {
      const oldKid = r.app.keyRing.activeKey().kid;
      expect(other.keyRing.activeKey().kid).toBe(oldKid);
      // Signed by the other process before it learns of the rotation.
      const fromOther = await other.accessTokens.issue({ userId: uuidv7(), sessionId: uuidv7() });

      const { kid: newKid } = await r.app.keyRing.rotate();
      expect(other.keyRing.activeKey().kid).toBe(oldKid);
      expect(other.keyRing.keyFor(newKid)).toBeUndefined();
      // Until it reloads, the other process signs with the previous key: still accepted here.
      const stale = await other.accessTokens.issue({ userId: uuidv7(), sessionId: uuidv7() });
      expect(kidOf(stale.token)).toBe(oldKid);
      for (const issued of [fromOther, stale]) expect((await r.app.accessTokens.verify(issued.token)).jti).toBe(issued.jti);

      // A token of the new key reaches the other process: it reloads and accepts it.
      const { person, token } = await signedIn();
      expect(kidOf(token)).toBe(newKid);
      expect((await other.accessTokens.verify(token)).sub).toBe(person.id);
      if (other.app) expect((await whoami(token, other.app)).json()).toEqual({ userId: person.id });
      // And from now on it signs with the new key.
      expect(other.keyRing.activeKey().kid).toBe(newKid);
      expect(kidOf((await other.accessTokens.issue({ userId: uuidv7(), sessionId: uuidv7() })).token)).toBe(newKid);
    } finally {
      await other.close();
    }
  });

  it('a running process picks a rotation up on its periodic reload', async () => {
    const ring = await createKeyRing({ ...storeOptions(), refreshIntervalMs: 25 });
    try {
      const { kid } = await rotateSigningKey(storeOptions());
      expect(ring.activeKey().kid).not.toBe(kid);
      await vi.waitFor(() => expect(ring.activeKey().kid).toBe(kid), { timeout: 10_000, interval: 20 });
      expect(ring.publicJwks().keys[0]!.kid).toBe(kid);
    } finally {
      ring.close();
    }
  });

  it('reloads for unknown kids at most once per interval, one reload shared by concurrent misses', async () => {
    let now = 1_000_000;
    let loads = 0;
    const db: Database = {
      ...r.platform.db,
      transaction: (context, fn) => {
        loads++;
        return r.platform.db.transaction(context, fn);
      },
    };
    const ring = await createKeyRing({ ...storeOptions(), db, clock: () => now, unknownKidReloadIntervalMs: 5_000 });
    try {
      loads = 0;
      const misses = await Promise.all(Array.from({ length: 20 }, () => ring.findKey(uuidv7())));
      expect(misses).toEqual(Array.from({ length: 20 }, () => undefined));
      expect(loads).toBe(1);

      // Within the interval: no reload, even for a kid that exists by now.
      const { kid } = await rotateSigningKey(storeOptions());
      now += 4_999;
      expect(await ring.findKey(kid)).toBeUndefined();
      expect(loads).toBe(1);

      now += 1;
      expect((await ring.findKey(kid))?.type).toBe('public');
      expect(loads).toBe(2);
      expect(ring.activeKey().kid).toBe(kid);
      // A known kid never reloads.
      now += 60_000;
      await ring.findKey(kid);
      expect(loads).toBe(2);
    } finally {
      ring.close();
    }
  });

  it('serialises concurrent rotations: each makes its own key, and one active key remains', async () => {
    const before = await activeKid();
    const results = await Promise.all([rotateSigningKey(storeOptions()), rotateSigningKey(storeOptions())]);
    const first = results.find((result) => result.previousKid === before)!;
    const second = results.find((result) => result !== first)!;
    expect(first).toBeDefined();
    expect(second.previousKid).toBe(first.kid);
    const rows = await keyRows();
    expect(rows.filter((row) => row.status === 'active').map((row) => row.id)).toEqual([second.kid]);
    expect(rows.find((row) => row.id === first.kid)?.status).toBe('previous');
  });

  it('refuses to rotate with the wrong key encryption key, and changes nothing', async () => {
    const before = await keyRows();
    const wrong = { ...storeOptions(), encryptionKey: 'another-secret-that-is-long-enough-to-be-accepted' };
    await expect(rotateSigningKey(wrong)).rejects.toBeInstanceOf(KeyEncryptionKeyError);
    expect(await keyRows()).toEqual(before);
  });

  it('the table refuses a previous key without its rotation time, and an active key with one', async () => {
    const kid = await activeKid();
    const refusal = (text: string) => r.admin.query(text, [kid]).then(() => 'accepted', pgErrorCode);
    expect(await refusal(`UPDATE signing_keys SET status = 'previous' WHERE id = $1`)).toBe('23514');
    expect(await refusal(`UPDATE signing_keys SET rotated_at = now() WHERE id = $1`)).toBe('23514');
    expect(await refusal(`UPDATE signing_keys SET status = 'expired' WHERE id = $1`)).toBe('23514');
    expect(await statusOf(kid)).toBe('active');
  });
});

/**
 * The migration that adds rotation must apply to a database that already has keys (an active one and one
 * retired by hand), in the mode under test: a fresh PGlite, or a fresh database on the PostgreSQL server.
 */
describe('the signing key rotation migration', () => {
  const ROTATION_MIGRATION = '0005_signing_key_rotation';

  /** A migrations folder holding only the migrations before the rotation one. */
  function migrationsBeforeRotation(): string {
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: Array<{ idx: number; tag: string }> };
    const rotation = journal.entries.find((entry) => entry.tag === ROTATION_MIGRATION)!;
    const entries = journal.entries.filter((entry) => entry.idx < rotation.idx);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-migrations-'));
    fs.mkdirSync(path.join(dir, 'meta'));
    fs.writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }));
    for (const { tag } of entries) fs.copyFileSync(path.join(MIGRATIONS_FOLDER, `${tag}.sql`), path.join(dir, `${tag}.sql`));
    return dir;
  }

  async function openEmptyDatabase(): Promise<{ query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>; migrate(folder: string): Promise<void>; close(): Promise<void> }> {
    if (!inject('postgresTemplate')) {
      const pglite = await PGlite.create();
      return {
        query: async (text, values) => (await pglite.query<Record<string, unknown>>(text, values)).rows,
        migrate: (folder) => migratePglite(drizzlePglite(pglite), { migrationsFolder: folder }),
        close: () => pglite.close(),
      };
    }
    const server = new URL(process.env.DATABASE_URL!);
    const name = `atrium_test_${inject('testRunId')}_keys_${process.pid}`;
    await adminQuery(server.toString(), `CREATE DATABASE ${name}`);
    const client = new pg.Client({ connectionString: Object.assign(new URL(server), { pathname: `/${name}` }).toString() });
    await client.connect();
    return {
      query: async (text, values) => (await client.query(text, values)).rows,
      migrate: (folder) => migratePg(drizzlePg(client), { migrationsFolder: folder }),
      close: async () => {
        await client.end();
        await adminQuery(server.toString(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }

  it('applies over existing keys, leaves them as they were, and enforces the new states', { timeout: 120_000 }, async () => {
    const folder = migrationsBeforeRotation();
    const db = await openEmptyDatabase();
    try {
      await db.migrate(folder);
      const [active, retired] = [uuidv7(), uuidv7()];
      const jwk = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'x' });
      await db.query(`INSERT INTO signing_keys (id, public_jwk, private_key_encrypted, status) VALUES ($1, $2, 'c', 'active')`, [active, jwk]);
      await db.query(`INSERT INTO signing_keys (id, public_jwk, private_key_encrypted, status, retired_at) VALUES ($1, $2, 'c', 'retired', now())`, [retired, jwk]);

      await db.migrate(MIGRATIONS_FOLDER);
      const rows = await db.query('SELECT id, status, rotated_at FROM signing_keys ORDER BY id');
      expect(rows).toEqual([
        { id: active, status: 'active', rotated_at: null },
        { id: retired, status: 'retired', rotated_at: null },
      ]);
      const outcome = (text: string) => db.query(text, [active]).then(() => 'accepted', pgErrorCode);
      expect(await outcome(`UPDATE signing_keys SET status = 'previous' WHERE id = $1`)).toBe('23514');
      expect(await outcome(`UPDATE signing_keys SET status = 'previous', rotated_at = now() WHERE id = $1`)).toBe('accepted');
      // Still one active key at most.
      await db.query(`INSERT INTO signing_keys (id, public_jwk, private_key_encrypted, status) VALUES ($1, $2, 'c', 'active')`, [uuidv7(), jwk]);
      expect(await db.query(`INSERT INTO signing_keys (id, public_jwk, private_key_encrypted, status) VALUES ($1, $2, 'c', 'active')`, [uuidv7(), jwk]).then(() => 'accepted', pgErrorCode)).toBe('23505');
    } finally {
      await db.close();
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
