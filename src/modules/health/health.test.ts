import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';

/** A local port nothing listens on: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('health probes with every dependency up', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('GET /health answers 200 and touches no dependency', async () => {
    const response = await t.app.inject({ url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', uptimeSeconds: expect.any(Number) });
  });

  it('GET /health/db reports the database up', async () => {
    const response = await t.app.inject({ url: '/health/db' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', components: { database: { status: 'up', latencyMs: expect.any(Number) } } });
  });

  it('GET /health/ready reports every configured component up (Redis only when REDIS_URL is set)', async () => {
    const response = await t.app.inject({ url: '/health/ready' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.status).toBe('ok');
    expect(Object.keys(body.components).sort()).toEqual(t.config.redisUrl ? ['database', 'redis'] : ['database']);
    for (const component of Object.values(body.components)) expect(component).toMatchObject({ status: 'up' });
    expect(body).not.toHaveProperty('failing');
  });
});

describe('health probes with the database down', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // The database goes away under a running app (a crash, a failover): the app's own connection closes.
    await t.platform.db.close();
  });
  afterAll(() => t?.close());

  it('GET /health still answers 200: liveness must not restart a process because a dependency is down', async () => {
    expect((await t.app.inject({ url: '/health' })).statusCode).toBe(200);
  });

  it.each(['/health/db', '/health/ready'])('GET %s answers 503 naming the database', async (url) => {
    const response = await t.app.inject({ url });
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body).toMatchObject({ status: 'unavailable', failing: ['database'], components: { database: { status: 'down' } } });
    expect(body.components.database.error).toEqual(expect.any(String));
    // The reason names the failure, never the connection string or its password.
    expect(JSON.stringify(body)).not.toMatch(/postgres(ql)?:\/\//);
  });
});

describe('health probes with Redis configured but unreachable', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The app boots anyway: Redis holds counters and caches, and ioredis keeps reconnecting.
    t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
  });
  afterAll(() => t?.close());

  it('GET /health/ready answers 503 naming redis, with the database up', async () => {
    const response = await t.app.inject({ url: '/health/ready' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: 'unavailable',
      failing: ['redis'],
      components: { database: { status: 'up' }, redis: { status: 'down', error: expect.any(String) } },
    });
  });

  it('GET /health and /health/db answer 200 (they do not depend on Redis)', async () => {
    expect((await t.app.inject({ url: '/health' })).statusCode).toBe(200);
    expect((await t.app.inject({ url: '/health/db' })).statusCode).toBe(200);
  });
});
