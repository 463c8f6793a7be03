import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../../core/db/ids.js';
import { createAccessTokens, InvalidTokenError, MAX_ACCESS_TOKEN_SECONDS, type AccessTokens } from './tokens.js';

let t: TestApp;
let tokens: AccessTokens;
const issuer = 'https://issuer.test';
const audience = 'atrium-test';

beforeAll(async () => {
  t = await createTestApp();
  tokens = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 900 });
});
afterAll(() => t?.close());

const ids = () => ({ userId: uuidv7(), tenantId: uuidv7(), sessionId: uuidv7() });
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Valid claims for a token signed by hand. */
const claims = (overrides: JWTPayload = {}): JWTPayload => ({
  iss: issuer,
  aud: audience,
  sub: uuidv7(),
  tid: uuidv7(),
  sid: uuidv7(),
  typ: 'access',
  jti: uuidv7(),
  iat: now(),
  exp: now() + 600,
  ...overrides,
});

/** Signs with the real active key (or another key) and any header. */
const sign = (payload: JWTPayload, header: Record<string, unknown> = {}, key: KeyObject = t.app.keyRing.activeKey().privateKey) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: t.app.keyRing.activeKey().kid, typ: 'JWT', ...header }).sign(key);

/** Signs by hand, for headers jose itself refuses to produce. */
const handSign = (header: Record<string, unknown>, payload: JWTPayload, key: KeyObject = t.app.keyRing.activeKey().privateKey) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), key).toString('base64url')}`;
};

/** The reason a token is refused (fails the test when it is accepted). */
async function refusal(token: string, service: AccessTokens = tokens): Promise<string> {
  const error = await service.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InvalidTokenError);
  const refused = error as InvalidTokenError;
  expect(refused).toMatchObject({ status: 401, code: 'auth.unauthenticated' });
  expect(refused.extras.headers).toEqual({ 'www-authenticate': 'Bearer error="invalid_token"' });
  return refused.reason;
}

describe('issue and verify', () => {
  it('round-trips every claim', async () => {
    const input = ids();
    const issued = await tokens.issue({ ...input, extra: { amr: ['pwd'] } });
    expect(issued.expiresIn).toBe(900);
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'EdDSA', kid: t.app.keyRing.activeKey().kid, typ: 'JWT' });
    const verified = await tokens.verify(issued.token);
    expect(verified).toEqual({
      iss: issuer,
      aud: audience,
      sub: input.userId,
      tid: input.tenantId,
      sid: input.sessionId,
      typ: 'access',
      jti: issued.jti,
      iat: expect.any(Number),
      exp: expect.any(Number),
      amr: ['pwd'],
    });
    expect(verified.exp - verified.iat).toBe(900);
    expect(Math.abs(verified.iat - now())).toBeLessThanOrEqual(5);
  });

  it('gives every token its own jti', async () => {
    const input = ids();
    const [a, b] = await Promise.all([tokens.issue(input), tokens.issue(input)]);
    expect(a.jti).not.toBe(b.jti);
  });

  it('refuses extra claims that would override registered ones', async () => {
    await expect(tokens.issue({ ...ids(), extra: { sub: 'someone-else' } })).rejects.toThrow(/may not set sub/);
    await expect(tokens.issue({ ...ids(), extra: { typ: 'refresh', exp: 1 } })).rejects.toThrow(/may not set typ, exp/);
  });

  it('ends an explicit-lifetime token at expiresAt, never past the longest lifetime a retired key still verifies', async () => {
    const expiresAt = new Date(Date.now() + 30 * 60_000);
    const { token, expiresIn } = await tokens.issue({ ...ids(), actorId: uuidv7(), expiresAt });
    expect((await tokens.verify(token)).exp).toBe(Math.floor(expiresAt.getTime() / 1000));
    expect(expiresIn).toBeGreaterThan(29 * 60);
    const tooLate = new Date(Date.now() + (MAX_ACCESS_TOKEN_SECONDS + 60) * 1000);
    await expect(tokens.issue({ ...ids(), expiresAt: tooLate })).rejects.toThrow(/longest token lifetime/);
    await expect(tokens.issue({ ...ids(), expiresAt: new Date(Date.now() - 1000) })).rejects.toThrow(/future/);
  });

  it('uses the configured issuer, audience and lifetime in the app', async () => {
    const issued = await t.app.accessTokens.issue(ids());
    expect(issued.expiresIn).toBe(t.config.auth.accessTokenTtlSeconds);
    expect(await t.app.accessTokens.verify(issued.token)).toMatchObject({ iss: t.config.auth.issuer, aud: t.config.auth.audience });
    // Tokens of one issuer/audience are not accepted by a service configured for another.
    expect(await refusal(issued.token)).toMatch(/^claim (iss|aud) check_failed$/);
  });
});

describe('JWKS', () => {
  it('serves the public keys, without any private part', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('public, max-age=300');
    const body = response.json<{ keys: Array<Record<string, unknown>> }>();
    expect(body.keys.map((key) => key.kid)).toContain(t.app.keyRing.activeKey().kid);
    for (const key of body.keys) expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
  });

  it('verifies an issued token with jose.createRemoteJWKSet over real HTTP', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const jwks = createRemoteJWKSet(new URL(`${address}/.well-known/jwks.json`));
    const issued = await t.app.accessTokens.issue(ids());
    const { payload, protectedHeader } = await jwtVerify(issued.token, jwks, {
      issuer: t.config.auth.issuer,
      audience: t.config.auth.audience,
      algorithms: ['EdDSA'],
    });
    expect(payload.jti).toBe(issued.jti);
    expect(protectedHeader.kid).toBe(t.app.keyRing.activeKey().kid);
    // And a token signed by a key not in the set is refused by the remote set too.
    const other = generateKeyPairSync('ed25519').privateKey;
    await expect(jwtVerify(await sign(claims(), {}, other), jwks, { algorithms: ['EdDSA'] })).rejects.toThrow();
  });
});

describe('forged and invalid tokens are refused', () => {
  it('alg none, with and without a signature part', async () => {
    const kid = t.app.keyRing.activeKey().kid;
    expect(await refusal(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`)).toBe('malformed');
    expect(await refusal(`${b64({ alg: 'none', kid })}.${b64(claims())}.c2ln`)).toBe('algorithm not accepted');
  });

  it('HS256 signed with the public key as the HMAC secret', async () => {
    const publicKey = t.app.keyRing.keyFor(t.app.keyRing.activeKey().kid)!;
    const secrets = [
      Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'),
      Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }).toString()),
    ];
    for (const secret of secrets) {
      const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: t.app.keyRing.activeKey().kid, typ: 'JWT' }).sign(secret);
      expect(await refusal(forged)).toBe('algorithm not accepted');
    }
  });

  it('an unknown kid (signed by another key)', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(await refusal(await sign(claims(), { kid: uuidv7() }, other))).toBe('unknown kid');
    expect(await refusal(await sign(claims(), { kid: undefined }, other))).toBe('missing kid');
  });

  it('an embedded jwk, jku, x5u, x5c or crit header', async () => {
    const other = generateKeyPairSync('ed25519');
    const jwk = other.publicKey.export({ format: 'jwk' });
    expect(await refusal(await sign(claims(), { jwk }, other.privateKey))).toBe('header parameter not accepted: jwk');
    expect(await refusal(await sign(claims(), { kid: undefined, jwk }, other.privateKey))).toBe('header parameter not accepted: jwk');
    expect(await refusal(await sign(claims(), { jku: 'https://evil.test/jwks.json' }))).toBe('header parameter not accepted: jku');
    expect(await refusal(await sign(claims(), { x5u: 'https://evil.test/cert.pem' }))).toBe('header parameter not accepted: x5u');
    expect(await refusal(await sign(claims(), { x5c: ['MIIB'] }))).toBe('header parameter not accepted: x5c');
    const kid = t.app.keyRing.activeKey().kid;
    expect(await refusal(handSign({ alg: 'EdDSA', kid, crit: ['urn:x'], 'urn:x': 1 }, claims()))).toBe('header parameter not accepted: crit, urn:x');
    // The hand signer itself produces acceptable tokens: the refusals above are for the headers alone.
    expect((await tokens.verify(handSign({ alg: 'EdDSA', kid }, claims({ sub: 'hand' })))).sub).toBe('hand');
    expect(await refusal(await sign(claims(), { typ: 'at+jwt' }))).toBe('header typ not accepted');
  });

  it('an expired token, and one not valid yet', async () => {
    const expired = await sign(claims({ iat: now() - 1000, exp: now() - 10 }));
    expect(await refusal(expired)).toBe('expired');
    await expect(tokens.verify(expired)).rejects.toMatchObject({ detail: 'The access token has expired.' });
    expect(await refusal(await sign(claims({ nbf: now() + 300 })))).toBe('claim nbf check_failed');
    expect(await refusal(await sign(claims({ iat: now() + 3600 })))).toBe('invalid iat');
  });

  it('the wrong audience or issuer', async () => {
    expect(await refusal(await sign(claims({ aud: 'another-service' })))).toBe('claim aud check_failed');
    expect(await refusal(await sign(claims({ iss: 'https://evil.test' })))).toBe('claim iss check_failed');
  });

  it('a token that is not an access token, or lacks a required claim', async () => {
    expect(await refusal(await sign(claims({ typ: 'refresh' })))).toBe('not an access token');
    expect(await refusal(await sign(claims({ sid: undefined })))).toBe('claim sid missing');
    expect(await refusal(await sign(claims({ jti: undefined })))).toBe('claim jti missing');
    expect(await refusal(await sign(claims({ sub: undefined })))).toBe('claim sub missing');
    const { exp: _exp, ...noExp } = claims();
    expect(await refusal(await sign(noExp))).toBe('claim exp missing');
  });

  it('a tampered payload, a tampered header and garbage', async () => {
    const { token } = await tokens.issue(ids());
    const [header, payload, signature] = token.split('.');
    const altered = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: uuidv7() };
    expect(await refusal(`${header}.${b64(altered)}.${signature}`)).toBe('bad signature');
    expect(await refusal(`${b64({ alg: 'EdDSA', kid: t.app.keyRing.activeKey().kid })}.${payload}.${signature}`)).toBe('bad signature');
    expect(await refusal('not-a-token')).toBe('malformed');
    expect(await refusal(`${token}.extra.parts`)).toBe('malformed');
    expect(await refusal(`${b64([1])}.${payload}.${signature}`)).toBe('malformed header');
    // The genuine token is still fine.
    expect((await tokens.verify(token)).sub).toBeDefined();
  });
});

describe('verified-token cache', () => {
  it('checks the signature once, then answers from the cache', async () => {
    const service = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 900 });
    const { token } = await service.issue(ids());
    const first = await service.verify(token);
    expect(service.stats()).toEqual({ verifications: 1, cacheHits: 0, cacheSize: 1 });
    expect(await service.verify(token)).toEqual(first);
    expect(service.stats()).toEqual({ verifications: 1, cacheHits: 1, cacheSize: 1 });
  });

  it('re-verifies a forgotten jti, and everything after clear()', async () => {
    const service = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 900 });
    const a = await service.issue(ids());
    const b = await service.issue(ids());
    await service.verify(a.token);
    await service.verify(b.token);
    service.forget(a.jti);
    await service.verify(a.token);
    await service.verify(b.token);
    expect(service.stats()).toMatchObject({ verifications: 3, cacheHits: 1 });
    service.clear();
    expect(service.stats().cacheSize).toBe(0);
    await service.verify(b.token);
    expect(service.stats().verifications).toBe(4);
  });

  it('does not serve an entry past the token expiry', async () => {
    let clock = Date.now();
    const service = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 60, clock: () => clock });
    const { token } = await service.issue(ids());
    await service.verify(token);
    clock += 59_000;
    await service.verify(token);
    expect(service.stats()).toMatchObject({ verifications: 1, cacheHits: 1 });
    clock += 2_000;
    expect(await refusal(token, service)).toBe('expired');
    expect(service.stats()).toMatchObject({ verifications: 2, cacheSize: 0 });
  });

  it('is bounded, evicting the least recently used token', async () => {
    const service = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 900, cacheSize: 2 });
    const [a, b, c] = await Promise.all([service.issue(ids()), service.issue(ids()), service.issue(ids())]);
    await service.verify(a!.token);
    await service.verify(b!.token);
    await service.verify(a!.token); // a is now the most recent
    await service.verify(c!.token); // evicts b
    expect(service.stats()).toEqual({ verifications: 3, cacheHits: 1, cacheSize: 2 });
    await service.verify(a!.token);
    expect(service.stats().verifications).toBe(3);
    await service.verify(b!.token);
    expect(service.stats()).toMatchObject({ verifications: 4, cacheSize: 2 });
  });

  it('never caches a refused token', async () => {
    const service = createAccessTokens({ keyRing: t.app.keyRing, issuer, audience, ttlSeconds: 900 });
    const forged = await sign(claims({ typ: 'refresh' }));
    await refusal(forged, service);
    await refusal(forged, service);
    expect(service.stats()).toEqual({ verifications: 2, cacheHits: 0, cacheSize: 0 });
  });
});
