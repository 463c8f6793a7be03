/**
 * Authentication over HTTP: forged and invalid access tokens are all a plain 401 on an authenticated
 * route; a person's standing (disabled, membership deactivated, tenant suspended) applies at once even
 * for a cached token; public routes ignore a bad token; and issued tokens verify with the published JWKS
 * over real HTTP, across a key rotation.
 */
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signInAs } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { AccessTokenClaims } from './tokens.js';

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp(
    {},
    {
      // A tenant-scoped route (any permission other than `self`), answering with the actor it saw.
      configure: (untyped) => {
        const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
        app.get('/test/tenant-scoped', { config: { permission: 'users.view' } }, async (request) => ({
          tenantId: request.actor?.tenantId ?? null,
          userId: request.actor?.userId ?? null,
          role: request.actor?.role ?? null,
        }));
      },
    },
  );
});
afterAll(() => t?.close());

const ME = '/api/v1/users/me';
const get = (url: string, token?: string) => t.app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

async function signedIn() {
  const person = await createPerson(t.app);
  const tenant = await createTenantFor(t.app, person);
  const login = await signInAs(t.app, person, tenant.id);
  const claims = await t.app.accessTokens.verify(login.accessToken);
  return { person, tenant, login, claims };
}

/** Claims of a real, live session (so a refusal can only come from the one thing each case breaks). */
const claimsOf = (base: AccessTokenClaims, overrides: JWTPayload = {}): JWTPayload => ({
  iss: base.iss,
  aud: base.aud,
  sub: base.sub,
  tid: base.tid,
  sid: base.sid,
  typ: 'access',
  jti: uuidv7(),
  iat: now(),
  exp: now() + 600,
  ...overrides,
});

const activeKey = () => t.app.keyRing.activeKey();

/** Signs with the real key (or another) and any header, as jose allows. */
const sign = (payload: JWTPayload, header: Record<string, unknown> = {}, key: KeyObject = activeKey().privateKey) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: activeKey().kid, typ: 'JWT', ...header }).sign(key);

/** Signs by hand, for headers jose refuses to produce. */
const handSign = (header: Record<string, unknown>, payload: JWTPayload, key: KeyObject = activeKey().privateKey) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), key).toString('base64url')}`;
};

/** Asserts the plain 401 every refused token gets, on a self route and on a tenant-scoped route. */
async function expectRefused(token: string) {
  for (const url of [ME, '/test/tenant-scoped']) {
    const response = await get(url, token);
    expect(response.statusCode, url).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(response.json()).toMatchObject({ status: 401, code: 'auth.unauthenticated' });
  }
}

describe('forged and invalid access tokens → 401 auth.unauthenticated', () => {
  let base: AccessTokenClaims;
  beforeAll(async () => {
    base = (await signedIn()).claims;
  });

  it('control: a token hand-signed the same way with the real key and valid claims is accepted', async () => {
    // Every forgery below differs from this one in one respect only, so each refusal is for that respect.
    expect((await get(ME, await sign(claimsOf(base)))).statusCode).toBe(200);
    expect((await get(ME, handSign({ alg: 'EdDSA', kid: activeKey().kid }, claimsOf(base)))).statusCode).toBe(200);
    expect((await get('/test/tenant-scoped', await sign(claimsOf(base)))).json()).toEqual({ tenantId: base.tid, userId: base.sub, role: 'owner' });
  });

  it('alg none (with and without a signature part)', async () => {
    await expectRefused(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsOf(base))}.`);
    await expectRefused(`${b64({ alg: 'none', kid: activeKey().kid })}.${b64(claimsOf(base))}.c2ln`);
  });

  it('HS256 signed with the public key bytes as the HMAC secret', async () => {
    const publicKey = t.app.keyRing.keyFor(activeKey().kid)!;
    for (const secret of [Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'), Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }).toString())]) {
      await expectRefused(await new SignJWT(claimsOf(base)).setProtectedHeader({ alg: 'HS256', kid: activeKey().kid, typ: 'JWT' }).sign(secret));
    }
  });

  it('an unknown kid, and a token signed by another key under our kid', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    await expectRefused(await sign(claimsOf(base), { kid: uuidv7() }, other));
    await expectRefused(await sign(claimsOf(base), {}, other));
  });

  it('an embedded jwk (the attacker’s own key), and jku', async () => {
    const attacker = generateKeyPairSync('ed25519');
    await expectRefused(await sign(claimsOf(base), { jwk: attacker.publicKey.export({ format: 'jwk' }) }, attacker.privateKey));
    await expectRefused(await sign(claimsOf(base), { kid: undefined, jwk: attacker.publicKey.export({ format: 'jwk' }) }, attacker.privateKey));
    await expectRefused(await sign(claimsOf(base), { jku: 'https://evil.test/jwks.json' }));
  });

  it('expired; not valid yet (nbf in the future); issued in the future (iat)', async () => {
    const expired = await sign(claimsOf(base, { iat: now() - 2000, exp: now() - 10 }));
    await expectRefused(expired);
    expect((await get(ME, expired)).json().detail).toBe('The access token has expired.');
    await expectRefused(await sign(claimsOf(base, { nbf: now() + 300 })));
    await expectRefused(await sign(claimsOf(base, { iat: now() + 3600 })));
  });

  it('the wrong issuer or audience', async () => {
    await expectRefused(await sign(claimsOf(base, { iss: 'https://evil.test' })));
    await expectRefused(await sign(claimsOf(base, { aud: 'another-service' })));
  });

  it('a refresh token used as an access token (the opaque one, and a JWT typed refresh)', async () => {
    const { login } = await signedIn();
    await expectRefused(login.refreshToken);
    await expectRefused(await sign(claimsOf(base, { typ: 'refresh' })));
    // The refresh token still works for what it is.
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: login.refreshToken } })).statusCode).toBe(200);
  });

  it('a tampered payload (another person, another tenant) or header', async () => {
    const { login, claims } = await signedIn();
    const stranger = await signedIn();
    const [header, payload, signature] = login.accessToken.split('.');
    for (const change of [{ sub: stranger.person.id, sid: stranger.claims.sid }, { tid: stranger.tenant.id }, { exp: now() + 86400 }]) {
      await expectRefused(`${header}.${b64({ ...claims, ...change })}.${signature}`);
    }
    await expectRefused(`${b64({ alg: 'EdDSA', kid: activeKey().kid })}.${payload}.${signature}`);
    // The genuine token is untouched by all this.
    expect((await get(ME, login.accessToken)).statusCode).toBe(200);
  });

  it('claims of a session that is not the token subject’s', async () => {
    const stranger = await signedIn();
    // Correctly signed, but naming someone else's session: the session lookup refuses it.
    await expectRefused(await sign(claimsOf(base, { sid: stranger.claims.sid })));
    await expectRefused(await sign(claimsOf(base, { sid: uuidv7() })));
  });

  it('garbage and odd schemes', async () => {
    await expectRefused('not-a-token');
    await expectRefused(`${(await signedIn()).login.accessToken}.extra`);
    const basic = await t.app.inject({ method: 'GET', url: ME, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.statusCode).toBe(401);
    expect(basic.json().code).toBe('auth.unauthenticated');
  });
});

describe('a public route ignores a bad token', () => {
  it('serves the JWKS to a caller with a forged bearer token', async () => {
    const response = await get('/.well-known/jwks.json', 'forged.token.here');
    expect(response.statusCode).toBe(200);
  });
});

describe('standing is checked per request, even for cached tokens', () => {
  it('a disabled person is cut off at once', async () => {
    const { person, login } = await signedIn();
    expect((await get(ME, login.accessToken)).statusCode).toBe(200);
    const verifications = t.app.accessTokens.stats().verifications;
    expect((await get(ME, login.accessToken)).statusCode).toBe(200);
    expect(t.app.accessTokens.stats().verifications).toBe(verifications); // cached

    await t.admin.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [person.id]);
    await expectRefused(login.accessToken);
  });

  it('a deactivated membership: 403 on tenant-scoped routes, own-account routes still work', async () => {
    const { person, tenant, login } = await signedIn();
    expect((await get('/test/tenant-scoped', login.accessToken)).json()).toEqual({ tenantId: tenant.id, userId: person.id, role: 'owner' });

    await t.admin.query(`UPDATE memberships SET status = 'deactivated' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, person.id]);
    const refused = await get('/test/tenant-scoped', login.accessToken);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.tenant_access_revoked');
    // The person is still signed in: their own account (and switching tenant) remains reachable.
    const me = await get(ME, login.accessToken);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ user: { id: person.id }, tenant: null, membership: null });

    await t.admin.query(`UPDATE memberships SET status = 'active' WHERE tenant_id = $1 AND user_id = $2`, [tenant.id, person.id]);
    expect((await get('/test/tenant-scoped', login.accessToken)).statusCode).toBe(200);
  });

  it('a suspended tenant: 403 on tenant-scoped routes', async () => {
    const { tenant, login } = await signedIn();
    await t.admin.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [tenant.id]);
    expect((await get('/test/tenant-scoped', login.accessToken)).json()).toMatchObject({ status: 403, code: 'auth.tenant_access_revoked' });
  });

  it('a person acting in no tenant: 403 on tenant-scoped routes, 200 on their own account', async () => {
    const person = await createPerson(t.app);
    const login = await signInAs(t.app, person);
    expect(login.tenant).toBeNull();
    expect((await get('/test/tenant-scoped', login.accessToken)).json()).toMatchObject({ status: 403, code: 'auth.tenant_access_revoked' });
    expect((await get(ME, login.accessToken)).statusCode).toBe(200);
  });
});

describe('JWKS', () => {
  it('publishes each key with a kid; an issued token names one of them', async () => {
    const response = await get('/.well-known/jwks.json');
    const { keys } = response.json<{ keys: Array<{ kid?: string; alg: string; use: string; kty: string; crv: string }> }>();
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key.kid).toMatch(/\S/);
      expect(key).toMatchObject({ alg: 'EdDSA', use: 'sig', kty: 'OKP', crv: 'Ed25519' });
    }
    expect(new Set(keys.map((key) => key.kid)).size).toBe(keys.length);
    const { login } = await signedIn();
    expect(keys.map((key) => key.kid)).toContain(decodeProtectedHeader(login.accessToken).kid);
  });

  it('verifies an issued token with jose.createRemoteJWKSet over real HTTP, before and after a key rotation', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const verifyRemotely = (token: string) =>
      jwtVerify(token, createRemoteJWKSet(new URL('/.well-known/jwks.json', address)), { issuer: t.config.auth.issuer, audience: t.config.auth.audience, algorithms: ['EdDSA'] });

    const { person, tenant, login, claims } = await signedIn();
    const { payload, protectedHeader } = await verifyRemotely(login.accessToken);
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: activeKey().kid, typ: 'JWT' });
    expect(payload).toMatchObject({ sub: person.id, tid: tenant.id, sid: claims.sid, typ: 'access', jti: claims.jti });

    // Rotation: new tokens are signed by a new key, and the token signed before keeps verifying — here
    // and for a remote verifier fetching the key set afresh.
    const rotation = await t.app.keyRing.rotate();
    expect(rotation.previousKid).toBe(protectedHeader.kid);
    const after = await signInAs(t.app, person, tenant.id);
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(rotation.kid);
    expect((await verifyRemotely(after.accessToken)).protectedHeader.kid).toBe(rotation.kid);
    expect((await verifyRemotely(login.accessToken)).payload.jti).toBe(claims.jti);
    t.app.accessTokens.clear(); // no help from the verified-token cache
    expect((await get(ME, login.accessToken)).statusCode).toBe(200);
    expect((await get(ME, after.accessToken)).statusCode).toBe(200);
  });
});
