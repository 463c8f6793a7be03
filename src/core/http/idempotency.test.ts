import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Validator } from '@seriousme/openapi-schema-validator';
import { count, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { uuidv7 } from '../db/ids.js';
import { tenants } from '../tenancy/tenancy.table.js';
import { AppError } from './errors.js';
import {
  canonicalJson,
  fingerprintRequest,
  IDEMPOTENCY_PURGE_CRON,
  IDEMPOTENCY_PURGE_QUEUE,
  purgeExpiredIdempotencyKeys,
  startIdempotencyPurge,
} from './idempotency.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function defer(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A handler parked on a gate: `entered` resolves once it runs, it continues when `release` resolves. */
interface Gate {
  entered: Deferred;
  release: Deferred;
}

const unique = () => randomBytes(5).toString('hex');
const newKey = () => `key-${unique()}`;

const Body = Type.Object({ name: Type.String({ minLength: 1 }), gate: Type.Optional(Type.String()), extra: Type.Optional(Type.Unknown()) });

describe('Idempotency-Key', () => {
  let t: TestApp;
  const gates = new Map<string, Gate>();
  const calls = new Map<string, number>();
  const called = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);

  /** The test routes' one effect: a tenant row named after the request, written in a tenant unit of work. */
  const createTenantRow = async (app: FastifyInstance, name: string) => {
    const id = uuidv7();
    await app.platform.db.withTenant(id, async (tx) => {
      await tx.insert(tenants).values({ id, name, slug: `t-${unique()}` });
      await app.platform.entitlements.startSubscription(tx, id);
    });
    return id;
  };

  const countTenantRows = async (name: string) => {
    const rows = await t.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM tenants WHERE name = $1', [name]);
    return rows[0]!.n;
  };

  const keyRow = async (key: string) =>
    (
      await t.admin.query<{ scope: string; status: string; effect_committed_at: Date | null; response_status: number | null }>(
        'SELECT scope, status, effect_committed_at, response_status FROM idempotency_keys WHERE key = $1',
        [key],
      )
    )[0];

  const post = (url: string, key: string | undefined, payload: object, options: { remoteAddress?: string; headers?: Record<string, string> } = {}) =>
    t.app.inject({
      method: 'POST',
      url,
      payload,
      remoteAddress: options.remoteAddress,
      headers: { ...(key === undefined ? {} : { 'idempotency-key': key }), ...options.headers },
    });

  beforeAll(async () => {
    t = await createTestApp(
      {},
      {
        configure: async (untyped) => {
          const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
          // Stand-in for authentication (not built yet): these routes take the actor from test headers.
          app.addHook('onRequest', async (request) => {
            const userId = request.headers['x-test-user'];
            if (typeof userId === 'string') request.actor = { kind: 'user', userId, tenantId: String(request.headers['x-test-tenant']) };
          });

          app.post('/test/idem/create', { config: { public: true }, schema: { body: Body } }, async (request, reply) => {
            const { name, gate: gateId } = request.body;
            const gate = gateId ? gates.get(gateId) : undefined;
            if (gateId) gates.delete(gateId); // only the first attempt is parked
            if (gate) {
              gate.entered.resolve();
              await gate.release.promise;
            }
            const id = await createTenantRow(app, name);
            const rows = await app.platform.db.withTenant(id, (tx) => tx.select({ n: count() }).from(tenants).where(eq(tenants.id, id)));
            return reply
              .code(201)
              .header('location', `/test/tenants/${id}`)
              .send({ id, name, seen: rows[0]!.n });
          });

          app.post('/test/idem/conflict', { config: { public: true }, schema: { body: Body } }, async (request) => {
            called(request.body.name);
            throw new AppError('resource.conflict', `"${request.body.name}" conflicts with something.`);
          });

          app.post('/test/idem/rollback', { config: { public: true }, schema: { body: Body } }, async (request) => {
            const id = uuidv7();
            await app.platform.db.withTenant(id, async (tx) => {
              await tx.insert(tenants).values({ id, name: request.body.name, slug: `t-${unique()}` });
              await app.platform.entitlements.startSubscription(tx, id);
              throw new AppError('resource.conflict', 'Changed my mind: the insert is rolled back.');
            });
          });

          app.post('/test/idem/limited', { config: { public: true }, schema: { body: Body } }, async (request, reply) => {
            called(request.body.name);
            if (calls.get(request.body.name) === 1) throw new AppError('rate_limit.exceeded', 'Slow down.', { headers: { 'retry-after': '1' } });
            return reply.code(201).send({ id: await createTenantRow(app, request.body.name) });
          });

          app.post('/test/idem/opted-out', { config: { public: true, idempotency: false }, schema: { body: Body } }, async (request) => {
            called(request.body.name);
            return { calls: calls.get(request.body.name) };
          });
        },
      },
    );
  });
  afterAll(() => t?.close());

  it('replays the first outcome of a key: one effect, same status, headers and body', async () => {
    const name = `once-${unique()}`;
    const key = newKey();
    const first = await post('/test/idem/create', key, { name });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const replay = await post('/test/idem/create', key, { name });
    expect(replay.statusCode).toBe(201);
    expect(replay.body).toBe(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.headers['content-type']).toBe(first.headers['content-type']);
    expect(replay.headers['x-request-id']).not.toBe(first.headers['x-request-id']);

    expect(await countTenantRows(name)).toBe(1);
    const row = await keyRow(key);
    expect(row).toMatchObject({ scope: 'anon:127.0.0.1', status: 'completed', response_status: 201 });
    expect(row!.effect_committed_at).not.toBeNull();
  });

  it('treats a body with reordered keys as the same request', async () => {
    const name = `reorder-${unique()}`;
    const key = newKey();
    const first = await post('/test/idem/create', key, { name, extra: { a: 1, b: [1, { y: 2, x: 1 }] } });
    const second = await post('/test/idem/create', key, { extra: { b: [1, { x: 1, y: 2 }], a: 1 }, name });
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toBe(first.body);
    expect(await countTenantRows(name)).toBe(1);
  });

  it('answers 422 idempotency.key_reused for the same key with another body or URL', async () => {
    const name = `reuse-${unique()}`;
    const key = newKey();
    expect((await post('/test/idem/create', key, { name })).statusCode).toBe(201);

    const otherBody = await post('/test/idem/create', key, { name: `${name}-other` });
    expect(otherBody.statusCode).toBe(422);
    expect(otherBody.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(otherBody.json()).toMatchObject({ status: 422, code: 'idempotency.key_reused' });

    const otherUrl = await post('/test/idem/conflict', key, { name });
    expect(otherUrl.statusCode).toBe(422);
    expect(calls.get(name)).toBeUndefined();

    // The refusals were not stored: the key still replays the first outcome.
    const replay = await post('/test/idem/create', key, { name });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(await countTenantRows(name)).toBe(1);
    expect(await countTenantRows(`${name}-other`)).toBe(0);
  });

  it('answers 409 idempotency.in_progress while the first request is running, then replays it', async () => {
    const name = `inflight-${unique()}`;
    const key = newKey();
    const gate: Gate = { entered: defer(), release: defer() };
    gates.set(name, gate);

    const first = post('/test/idem/create', key, { name, gate: name });
    await gate.entered.promise;

    const concurrent = await post('/test/idem/create', key, { name, gate: name });
    expect(concurrent.statusCode).toBe(409);
    expect(concurrent.json()).toMatchObject({ code: 'idempotency.in_progress' });
    expect(Number(concurrent.headers['retry-after'])).toBeGreaterThan(0);
    expect(await countTenantRows(name)).toBe(0);

    gate.release.resolve();
    const firstResponse = await first;
    expect(firstResponse.statusCode).toBe(201);

    const after = await post('/test/idem/create', key, { name, gate: name });
    expect(after.statusCode).toBe(201);
    expect(after.body).toBe(firstResponse.body);
    expect(after.headers['idempotent-replayed']).toBe('true');
    expect(await countTenantRows(name)).toBe(1);
  });

  it('runs the effect once under a burst of concurrent duplicates', async () => {
    const name = `burst-${unique()}`;
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 8 }, () => post('/test/idem/create', key, { name })));
    const created = responses.filter((response) => response.statusCode === 201);
    const busy = responses.filter((response) => response.statusCode === 409);
    expect(created.length + busy.length).toBe(responses.length);
    expect(created.filter((response) => response.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
    expect(new Set(created.map((response) => response.body)).size).toBe(1);
    for (const response of busy) expect(response.json().code).toBe('idempotency.in_progress');
    expect(await countTenantRows(name)).toBe(1);
  });

  it('replays an error outcome as the same error without running the handler again', async () => {
    const name = `conflict-${unique()}`;
    const key = newKey();
    const first = await post('/test/idem/conflict', key, { name });
    expect(first.statusCode).toBe(409);
    expect(first.json()).toMatchObject({ code: 'resource.conflict' });

    const second = await post('/test/idem/conflict', key, { name });
    expect(second.statusCode).toBe(409);
    expect(second.body).toBe(first.body);
    expect(second.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(calls.get(name)).toBe(1);
  });

  it('scopes keys to the client: another address or another user with the same key is independent', async () => {
    const name = `scoped-${unique()}`;
    const key = newKey();
    const fromA = await post('/test/idem/create', key, { name }, { remoteAddress: '10.1.2.3' });
    const fromB = await post('/test/idem/create', key, { name }, { remoteAddress: '10.9.8.7' });
    expect(fromA.statusCode).toBe(201);
    expect(fromB.statusCode).toBe(201);
    expect(fromB.headers['idempotent-replayed']).toBeUndefined();
    expect(fromB.json().id).not.toBe(fromA.json().id);

    const tenantId = uuidv7();
    const asUser = (userId: string) => ({ remoteAddress: '10.1.2.3', headers: { 'x-test-user': userId, 'x-test-tenant': tenantId } });
    const [alice, bob] = [uuidv7(), uuidv7()];
    const fromAlice = await post('/test/idem/create', key, { name }, asUser(alice));
    const fromBob = await post('/test/idem/create', key, { name }, asUser(bob));
    const aliceAgain = await post('/test/idem/create', key, { name }, asUser(alice));
    expect(fromAlice.headers['idempotent-replayed']).toBeUndefined();
    expect(fromBob.headers['idempotent-replayed']).toBeUndefined();
    expect(aliceAgain.headers['idempotent-replayed']).toBe('true');
    expect(aliceAgain.body).toBe(fromAlice.body);

    expect(await countTenantRows(name)).toBe(4);
    const scopes = await t.admin.query<{ scope: string }>('SELECT scope FROM idempotency_keys WHERE key = $1 ORDER BY scope', [key]);
    expect(scopes.map((row) => row.scope)).toEqual(
      [`anon:10.1.2.3`, `anon:10.9.8.7`, `tenant:${tenantId}:user:${alice}`, `tenant:${tenantId}:user:${bob}`].sort(),
    );
  });

  it('records the effect only when it commits: a rolled-back unit of work leaves effect_committed_at null', async () => {
    const name = `rollback-${unique()}`;
    const key = newKey();
    const response = await post('/test/idem/rollback', key, { name });
    expect(response.statusCode).toBe(409);
    expect(await countTenantRows(name)).toBe(0);
    const row = await keyRow(key);
    expect(row).toMatchObject({ status: 'completed', response_status: 409, effect_committed_at: null });
  });

  it('lets a retry take over a key whose lock expired before its effect committed; the stale attempt cannot commit', async () => {
    const name = `takeover-${unique()}`;
    const key = newKey();
    const gate: Gate = { entered: defer(), release: defer() };
    gates.set(name, gate);

    const stale = post('/test/idem/create', key, { name, gate: name });
    await gate.entered.promise;
    // The first attempt stalls past its lock with nothing committed (as if its process had died).
    await t.admin.query(`UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = $1`, [key]);

    const retry = await post('/test/idem/create', key, { name, gate: name });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();

    gate.release.resolve();
    const staleResponse = await stale;
    expect(staleResponse.statusCode).toBe(409);
    expect(staleResponse.json()).toMatchObject({ code: 'idempotency.in_progress' });

    expect(await countTenantRows(name)).toBe(1);
    const replay = await post('/test/idem/create', key, { name, gate: name });
    expect(replay.body).toBe(retry.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('refuses to take over an expired lock once the effect has committed', async () => {
    const name = `committed-${unique()}`;
    const key = newKey();
    expect((await post('/test/idem/create', key, { name })).statusCode).toBe(201);
    // As if the process died after COMMIT but before storing the response.
    await t.admin.query(`UPDATE idempotency_keys SET status = 'running', locked_until = now() - interval '1 second' WHERE key = $1`, [key]);

    const retry = await post('/test/idem/create', key, { name });
    expect(retry.statusCode).toBe(409);
    expect(retry.json()).toMatchObject({ code: 'idempotency.in_progress' });
    expect(await countTenantRows(name)).toBe(1);
  });

  it('answers 400 request.invalid_header for a malformed key', async () => {
    const name = `badkey-${unique()}`;
    for (const key of ['', 'x'.repeat(256), 'caf\u00e9']) {
      const response = await post('/test/idem/create', key, { name });
      expect(response.statusCode, JSON.stringify(key)).toBe(400);
      expect(response.json()).toMatchObject({ code: 'request.invalid_header' });
    }
    expect((await post('/test/idem/create', 'x'.repeat(255), { name })).statusCode).toBe(201);
    expect(await countTenantRows(name)).toBe(1);
  });

  it('stores nothing for a request refused by validation', async () => {
    const name = `invalid-${unique()}`;
    const key = newKey();
    const invalid = await post('/test/idem/create', key, { name: '' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'request.validation_failed' });
    expect(await keyRow(key)).toBeUndefined();

    const valid = await post('/test/idem/create', key, { name });
    expect(valid.statusCode).toBe(201);
    expect(valid.headers['idempotent-replayed']).toBeUndefined();
  });

  it('does not store a 429: the retry runs', async () => {
    const name = `limited-${unique()}`;
    const key = newKey();
    const limited = await post('/test/idem/limited', key, { name });
    expect(limited.statusCode).toBe(429);
    expect(await keyRow(key)).toBeUndefined();

    const retry = await post('/test/idem/limited', key, { name });
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(calls.get(name)).toBe(2);
  });

  it('ignores the key without it and on routes that opt out', async () => {
    const name = `plain-${unique()}`;
    await post('/test/idem/create', undefined, { name });
    await post('/test/idem/create', undefined, { name });
    expect(await countTenantRows(name)).toBe(2);

    const optedOut = `optout-${unique()}`;
    const key = newKey();
    expect((await post('/test/idem/opted-out', key, { name: optedOut })).json()).toEqual({ calls: 1 });
    expect((await post('/test/idem/opted-out', key, { name: optedOut })).json()).toEqual({ calls: 2 });
    expect(await keyRow(key)).toBeUndefined();
  });

  it('frees a key past its TTL even before the purge deletes it', async () => {
    const name = `expired-${unique()}`;
    const key = newKey();
    expect((await post('/test/idem/create', key, { name })).statusCode).toBe(201);
    await t.admin.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);

    const reused = await post('/test/idem/create', key, { name: `${name}-new` });
    expect(reused.statusCode).toBe(201);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
    expect(await countTenantRows(`${name}-new`)).toBe(1);
  });

  it('works over a real socket: the effect is marked in the handler transaction', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const name = `socket-${unique()}`;
    const key = newKey();
    const send = () =>
      fetch(`${address}/test/idem/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ name }),
      });
    const first = await send();
    const firstBody = await first.text();
    const second = await send();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(firstBody);
    expect(await countTenantRows(name)).toBe(1);
    expect((await keyRow(key))!.effect_committed_at).not.toBeNull();
  });

  it('documents the header as a shared OpenAPI parameter on every POST that honours it', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(document.components.parameters.IdempotencyKey).toMatchObject({ name: 'Idempotency-Key', in: 'header', required: false });
    const create = document.paths['/test/idem/create'].post;
    expect(create.parameters).toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['409', '422']));
    expect(document.paths['/test/idem/opted-out'].post.parameters ?? []).not.toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
    expect(JSON.stringify(document)).not.toContain('x-atrium-idempotent');

    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('purges expired outcomes and keeps live ones', async () => {
    const scope = `anon:purge-${unique()}`;
    await t.admin.query(
      `INSERT INTO idempotency_keys (scope, key, fingerprint, status, locked_until, expires_at)
       VALUES ($1, 'old-1', 'f', 'completed', now(), now() - interval '1 hour'),
              ($1, 'old-2', 'f', 'running', now(), now() - interval '1 second'),
              ($1, 'live', 'f', 'completed', now(), now() + interval '1 hour')`,
      [scope],
    );
    expect(await purgeExpiredIdempotencyKeys(t.platform.db, 1)).toBeGreaterThanOrEqual(2);
    const left = await t.admin.query<{ key: string }>('SELECT key FROM idempotency_keys WHERE scope = $1', [scope]);
    expect(left.map((row) => row.key)).toEqual(['live']);
  });

  it('runs the purge as an hourly pg-boss job', async () => {
    const scope = `anon:purge-job-${unique()}`;
    await t.admin.query(
      `INSERT INTO idempotency_keys (scope, key, fingerprint, status, locked_until, expires_at)
       VALUES ($1, 'old', 'f', 'completed', now(), now() - interval '1 hour')`,
      [scope],
    );
    await startIdempotencyPurge(t.platform.jobs, t.platform.db);
    const schedules = await t.admin.query<{ cron: string }>('SELECT cron FROM pgboss.schedule WHERE name = $1', [IDEMPOTENCY_PURGE_QUEUE]);
    expect(schedules).toEqual([{ cron: IDEMPOTENCY_PURGE_CRON }]);

    const jobId = (await t.platform.jobs.send(IDEMPOTENCY_PURGE_QUEUE, {}))!;
    let state: string | undefined;
    // Waits for the worker (it polls every 2 s); not a timing assertion.
    for (let i = 0; i < 200 && state !== 'completed' && state !== 'failed'; i++) {
      state = (await t.platform.jobs.getJob(IDEMPOTENCY_PURGE_QUEUE, jobId))?.state;
      if (state !== 'completed') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(state).toBe('completed');
    expect(await t.admin.query('SELECT 1 FROM idempotency_keys WHERE scope = $1', [scope])).toEqual([]);
  });
});

describe('request fingerprint', () => {
  it('is stable under key order and distinguishes method, URL and body', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], u: undefined })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
    const base = fingerprintRequest('POST', '/a', { x: 1, y: 2 });
    expect(fingerprintRequest('post', '/a', { y: 2, x: 1 })).toBe(base);
    expect(fingerprintRequest('POST', '/b', { x: 1, y: 2 })).not.toBe(base);
    expect(fingerprintRequest('POST', '/a?x=1', { x: 1, y: 2 })).not.toBe(base);
    expect(fingerprintRequest('POST', '/a', { x: 1, y: 3 })).not.toBe(base);
    expect(fingerprintRequest('PUT', '/a', { x: 1, y: 2 })).not.toBe(base);
  });
});
