import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { createRedisRateCounter } from '../cache/rate-counter.js';
import { errorHandlerPlugin } from './error-handler.js';
import { limitPerActor, rateLimitPlugin } from './rate-limit.js';

/** A fresh client address per test, so runs sharing one Redis never share a counter. */
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const randomId = () => randomBytes(8).toString('hex');

/** Test routes: a limited one, a second limited one, an unlimited one, a group and a per-actor limit. */
async function addTestRoutes(app: FastifyInstance): Promise<void> {
  const ok = async () => ({ ok: true });
  app.get('/test/limited', { config: { public: true, rateLimit: { max: 3, timeWindow: '1 minute' } } }, ok);
  app.get('/test/limited-too', { config: { public: true, rateLimit: { max: 3, timeWindow: '1 minute' } } }, ok);
  app.get('/test/unlimited', { config: { public: true } }, ok);
  app.get('/test/group-a', { config: { public: true, rateLimit: { max: 3, timeWindow: '1 minute', groupId: 'test-group' } } }, ok);
  app.get('/test/group-b', { config: { public: true, rateLimit: { max: 3, timeWindow: '1 minute', groupId: 'test-group' } } }, ok);
  // Stands in for authentication: the actor comes from test headers, in this scope only.
  app.addHook('onRequest', async (request) => {
    const userId = request.headers['x-test-user'];
    const apiKeyId = request.headers['x-test-api-key'];
    if (typeof userId === 'string') request.actor = { kind: 'user', userId, tenantId: 'tenant-1' };
    if (typeof apiKeyId === 'string') request.actor = { kind: 'api_key', apiKeyId, tenantId: 'tenant-1' };
  });
  app.get('/test/per-actor', { config: { public: true, rateLimit: limitPerActor({ max: 2, timeWindow: '1 minute' }) } }, ok);
}

const get = (app: FastifyInstance, url: string, remoteAddress: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url, remoteAddress, headers });

describe('per-route rate limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({}, { configure: addTestRoutes });
  });
  afterAll(() => t?.close());

  it('lets the first requests through with RateLimit-* headers counting down', async () => {
    const ip = randomIp();
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await get(t.app, '/test/limited', ip);
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBe('3');
      const reset = Number(response.headers['ratelimit-reset']);
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
      remaining.push(String(response.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['2', '1', '0']);
  });

  it('answers the request past the limit with a 429 problem+json and Retry-After', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i++) expect((await get(t.app, '/test/limited', ip)).statusCode).toBe(200);

    const response = await get(t.app, '/test/limited', ip);
    expect(response.statusCode).toBe(429);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(response.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(response.headers['ratelimit-limit']).toBe('3');
    expect(response.headers['ratelimit-remaining']).toBe('0');
    const body = response.json();
    expect(body).toMatchObject({ status: 429, code: 'rate_limit.exceeded', title: 'Too many requests' });
    expect(body.type).toMatch(/rate_limit\/exceeded$/);
    expect(body.detail).toContain(`retry in ${retryAfter} s`);
    expect(body.requestId).toBe(response.headers['x-request-id']);
  });

  it('counts each client address separately', async () => {
    const [first, second] = [randomIp(), randomIp()];
    for (let i = 0; i < 3; i++) await get(t.app, '/test/limited', first);
    expect((await get(t.app, '/test/limited', first)).statusCode).toBe(429);
    const other = await get(t.app, '/test/limited', second);
    expect(other.statusCode).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe('2');
  });

  it('counts IPv6 clients by /64, since one host usually holds the whole prefix', async () => {
    const prefix = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
    for (let i = 1; i <= 3; i++) expect((await get(t.app, '/test/limited', `${prefix}::${i}`)).statusCode).toBe(200);
    expect((await get(t.app, '/test/limited', `${prefix}::ffff`)).statusCode).toBe(429);
  });

  it('ignores X-Forwarded-For when no proxy is trusted, so a client cannot pick its own address', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i++) await get(t.app, '/test/limited', ip, { 'x-forwarded-for': randomIp() });
    expect((await get(t.app, '/test/limited', ip, { 'x-forwarded-for': randomIp() })).statusCode).toBe(429);
  });

  it('keeps a budget per route, and one shared budget per groupId', async () => {
    const ip = randomIp();
    for (let i = 0; i < 3; i++) await get(t.app, '/test/limited', ip);
    expect((await get(t.app, '/test/limited-too', ip)).statusCode).toBe(200);

    await get(t.app, '/test/group-a', ip);
    await get(t.app, '/test/group-b', ip);
    await get(t.app, '/test/group-a', ip);
    expect((await get(t.app, '/test/group-b', ip)).statusCode).toBe(429);
  });

  it('leaves routes that do not opt in unlimited and without RateLimit headers', async () => {
    const ip = randomIp();
    for (let i = 0; i < 5; i++) {
      const response = await get(t.app, '/test/unlimited', ip);
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-limit']).toBeUndefined();
    }
  });

  it('limits per actor: each user and API key has its own budget, whatever the address', async () => {
    const ip = randomIp();
    const [alice, bob, key] = [randomId(), randomId(), randomId()];
    for (let i = 0; i < 2; i++) expect((await get(t.app, '/test/per-actor', ip, { 'x-test-user': alice })).statusCode).toBe(200);
    expect((await get(t.app, '/test/per-actor', randomIp(), { 'x-test-user': alice })).statusCode).toBe(429);
    expect((await get(t.app, '/test/per-actor', ip, { 'x-test-user': bob })).statusCode).toBe(200);
    expect((await get(t.app, '/test/per-actor', ip, { 'x-test-api-key': key })).statusCode).toBe(200);
    // Anonymous callers fall back to their address, which is not the users' budget.
    expect((await get(t.app, '/test/per-actor', ip)).statusCode).toBe(200);
  });

  describe.runIf(!!process.env.REDIS_URL)('with Redis', () => {
    let other: TestApp;
    beforeAll(async () => {
      // The same key prefix, as two processes of one deployment have.
      other = await createTestApp({ REDIS_KEY_PREFIX: t.config.redisKeyPrefix }, { configure: addTestRoutes });
    });
    afterAll(() => other?.close());

    it('shares one counter between app instances (as between processes)', async () => {
      expect(t.platform.redis).toBeDefined();
      expect(other.platform.redis).not.toBe(t.platform.redis);
      const ip = randomIp();
      for (let i = 0; i < 3; i++) expect((await get(t.app, '/test/limited', ip)).statusCode).toBe(200);
      const response = await get(other.app, '/test/limited', ip);
      expect(response.statusCode).toBe(429);
      expect(response.json()).toMatchObject({ code: 'rate_limit.exceeded' });
    });

    it('keeps deployments with another REDIS_KEY_PREFIX apart', async () => {
      const elsewhere = await createTestApp({}, { configure: addTestRoutes });
      try {
        expect(elsewhere.config.redisKeyPrefix).not.toBe(t.config.redisKeyPrefix);
        const ip = randomIp();
        for (let i = 0; i < 3; i++) expect((await get(t.app, '/test/limited', ip)).statusCode).toBe(200);
        expect((await get(t.app, '/test/limited', ip)).statusCode).toBe(429);
        expect((await get(elsewhere.app, '/test/limited', ip)).statusCode).toBe(200);
      } finally {
        await elsewhere.close();
      }
    });
  });
});

describe('rate limits while the counter is unavailable', () => {
  const lines: Array<{ level: number; msg: string; failuresSinceLastLog?: number }> = [];
  // Nothing listens on port 1, and the client is never connected: every count fails at once.
  const offline = new Redis('redis://127.0.0.1:1', { lazyConnect: true });
  let app: FastifyInstance;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    app = Fastify({ loggerInstance: pino({ level: 'warn' }, sink) as FastifyBaseLogger });
    await app.register(errorHandlerPlugin);
    await app.register(rateLimitPlugin, { counter: createRedisRateCounter(offline) });
    app.get('/limited', { config: { rateLimit: { max: 1, timeWindow: '1 minute' } } }, async () => ({ ok: true }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    offline.disconnect();
  });

  it('fails open — requests pass — and logs the outage once, not once per request', async () => {
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/limited' })).statusCode).toBe(200);
    const warnings = lines.filter((line) => line.msg.includes('rate limit counter unavailable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe(40);
  });
});
