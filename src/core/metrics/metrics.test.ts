import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { PROBLEM_CONTENT_TYPE } from '../http/errors.js';

async function registerTestRoutes(app: FastifyInstance): Promise<void> {
  app.get('/test/items/:id', { config: { public: true }, schema: { params: Type.Object({ id: Type.String() }) } }, async (request) => ({
    id: (request.params as { id: string }).id,
  }));
}

/** The value of one sample line, e.g. `name{a="b"} 3`, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2]!.split(',');
    if (wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics without a token configured', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ METRICS_TOKEN: undefined }, { configure: registerTestRoutes });
  });
  afterAll(() => t?.close());

  it('labels request durations with the route pattern, never the raw URL', async () => {
    for (const id of ['123', '456', '789']) expect((await t.app.inject({ url: `/test/items/${id}` })).statusCode).toBe(200);
    await t.app.inject({ url: '/no/such/route-xyz' });

    const response = await t.app.inject({ url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/test/items/:id', status_code: '200' })).toBe(3);
    expect(text).not.toMatch(/route="\/test\/items\/\d+"/);
    // Unknown URLs share one label: a scanner cannot blow up the series count.
    expect(text).not.toContain('route-xyz');
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
    // Scrapes are not counted as traffic.
    expect(text).not.toContain('route="/metrics"');
  });

  it('exposes process metrics, database pool and job queue gauges', async () => {
    await t.platform.jobs.define({ name: 'metrics_probe' });
    await t.platform.jobs.send('metrics_probe', { n: 1 });
    await t.platform.jobs.send('metrics_probe', { n: 2 });

    const text = (await t.app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    for (const state of ['total', 'idle', 'waiting']) expect(sample(text, 'db_pool_connections', { state })).toEqual(expect.any(Number));
    expect(sample(text, 'db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'job_queue_size', { queue: 'metrics_probe' })).toBe(2);
    expect(sample(text, 'job_queue_size', { queue: 'dead_letter' })).toBe(0);
  });
});

describe('GET /metrics with METRICS_TOKEN set', () => {
  let t: TestApp;
  const token = 'metrics-token-for-tests';
  beforeAll(async () => {
    t = await createTestApp({ METRICS_TOKEN: token });
  });
  afterAll(() => t?.close());

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['the token with a different length', { authorization: `Bearer ${token}x` }],
    ['the token without the Bearer scheme', { authorization: token }],
  ])('refuses %s with 401 problem+json', async (_case, headers) => {
    const response = await t.app.inject({ url: '/metrics', headers });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toBe(PROBLEM_CONTENT_TYPE);
    expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(response.json()).toMatchObject({ status: 401, code: 'auth.unauthenticated', requestId: response.headers['x-request-id'] });
    expect(response.body).not.toContain('http_request_duration_seconds');
  });

  it('serves the metrics for the right token', async () => {
    const response = await t.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('# TYPE http_request_duration_seconds histogram');
  });
});
