/**
 * One benchmark target, run as its own child process by bench/run.ts (so the load generator never
 * shares the target's event loop): `node --import tsx bench/targets.ts <target>`.
 *
 * Targets:
 *   hello        bare Fastify hello-world: the HTTP ceiling.
 *   health       Atrium (buildApp, every core plugin) serving GET /health.
 *   tenant-read  Atrium: GET /bench/tenant-read/:tenantId — the tenant's memberships through
 *                db.withTenant (BEGIN + role + context in one message, SELECT, COMMIT).
 *   raw-read     Atrium: the same Drizzle SELECT on a plain pg pool, no transaction, no context
 *                (a superuser login, which RLS does not filter): the ceiling for tenant-read.
 *   naive-read   Atrium: the same SELECT in a Drizzle db.transaction() that sets the context with its own
 *                statement (BEGIN, set_config, SELECT, COMMIT): what batching the context saves.
 *   argon2       bare Fastify whose GET / does one argon2id verification of a right password, directly
 *                with the password hasher, under the same concurrency limit as Atrium
 *                (PASSWORD_HASH_CONCURRENCY): the ceiling for login.
 *   login        Atrium serving POST /api/v1/auth/login (a right password; one account per connection).
 *   users-me     Atrium serving GET /api/v1/users/me with a bearer token (an authenticated read).
 *   users-list-1t, users-list-10kt
 *                Atrium serving GET /api/v1/users?limit=20 as the owner of a tenant of 1,000 members; the
 *                parent points each at its own database (1 tenant, or 10,000 more tenants beside it).
 *   stores-create  Atrium serving POST /api/v1/stores (store row + audit row + outbox event).
 *   stores-raw   Atrium: POST /bench/stores-raw/:tenantId/:userId — the same three inserts in one
 *                transaction on a plain pg pool (superuser login: no role, no context, no RLS checks), no
 *                validation, no authentication: the ceiling for stores-create.
 *
 * Every Atrium target registers all bench routes, so the processes are identical but for the route
 * under load. Protocol with the parent (IPC): the child sends { type: 'ready', port } once listening;
 * it answers { type: 'stats' } with its query count and memory.
 */
import process from 'node:process';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { uuidv7 } from '../src/core/db/ids.js';
import { appConnectionString } from '../src/core/db/open.js';
import { memberships } from '../src/core/tenancy/tenancy.table.js';
import { createPasswordHasher } from '../src/modules/identity/passwords.js';
import { BENCH_PASSWORD, TARGETS, type ChildMessage, type ParentMessage, type TargetName } from './protocol.js';

// Every database round trip of this process goes through pg's Client#query (pool.query and Drizzle
// included): counting its calls counts round trips. A multi-statement simple query (BEGIN; SET LOCAL
// ROLE …; SELECT set_config(…)) is one call and one round trip.
let queries = 0;
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  queries += 1;
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Selects a tenant's memberships; the same query text for every read target. */
function selectMemberships(db: Pick<ReturnType<typeof drizzle>, 'select'>, tenantId: string) {
  return db
    .select({ userId: memberships.userId, status: memberships.status, createdAt: memberships.createdAt })
    .from(memberships)
    .where(eq(memberships.tenantId, tenantId));
}

/** The body POST /api/v1/stores takes; stores-raw stores the same fields. */
interface StoreBody {
  name: string;
  code: string;
  address?: Record<string, string>;
  phone?: string;
  email?: string;
  timezone?: string;
  isHeadquarters?: boolean;
}

const INSERT_STORE = `
  INSERT INTO stores (tenant_id, id, name, code, address, phone, email, timezone, is_headquarters)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  RETURNING id, name, code, address, phone, email, timezone, is_headquarters AS "isHeadquarters",
            created_at AS "createdAt", updated_at AS "updatedAt", deleted_at AS "deletedAt"`;
const INSERT_AUDIT = `
  INSERT INTO audit_events (tenant_id, id, actor_type, actor_id, action, target_type, target_id, after, ip, user_agent, request_id)
  VALUES ($1, $2, 'user', $3, 'store.created', 'store', $4, $5, $6, $7, $8)`;
const INSERT_EVENT = `INSERT INTO outbox_events (tenant_id, id, type, payload) VALUES ($1, $2, 'store.created', $3)`;

/**
 * The ceiling for POST /api/v1/stores: the rows the stores service writes (the store, its audit row with
 * the new store as `after`, the `store.created` outbox event), as a hand-written transaction would:
 * BEGIN, three parameterised INSERTs, COMMIT on one pooled connection.
 */
async function insertStoreRaw(pool: pg.Pool, tenantId: string, userId: string, body: StoreBody, origin: { ip: string; userAgent: string | null; requestId: string }) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(INSERT_STORE, [
      tenantId,
      uuidv7(),
      body.name,
      body.code,
      JSON.stringify(body.address ?? {}),
      body.phone ?? null,
      body.email ?? null,
      body.timezone ?? null,
      body.isHeadquarters ?? false,
    ]);
    const store = rows[0]!;
    await client.query(INSERT_AUDIT, [tenantId, uuidv7(), userId, store.id, JSON.stringify(store), origin.ip, origin.userAgent, origin.requestId]);
    await client.query(INSERT_EVENT, [tenantId, uuidv7(), JSON.stringify({ store })]);
    await client.query('COMMIT');
    return store;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function helloWorld(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  return app;
}

/**
 * The login ceiling: the argon2id verification a login makes, nothing else, through the same hasher
 * (same parameters, same concurrency limit and queue) behind the thinnest HTTP server.
 */
async function argon2Ceiling(): Promise<FastifyInstance> {
  const { passwordHash } = loadConfig({ ...process.env, LOG_LEVEL: 'silent' }).auth;
  const hasher = createPasswordHasher({ maxConcurrent: passwordHash.concurrency, maxQueued: passwordHash.queue });
  const stored = await hasher.hash(BENCH_PASSWORD);
  const app = Fastify({ logger: false });
  app.get('/', async (_request, reply) => {
    if (!(await hasher.verify(stored, BENCH_PASSWORD))) return reply.code(500).send({ ok: false });
    return { ok: true };
  });
  return app;
}

async function atrium(): Promise<{ app: FastifyInstance; pools: pg.Pool[] }> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL must name the benchmark database');
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    RUN_WORKER: 'false',
    MIGRATE_ON_START: 'false',
  });
  const app = await buildApp(config);
  const poolMax = config.database.poolMax;
  // raw-read: the ceiling. A superuser login bypasses RLS, so no context is needed to see the rows.
  const rawPool = new pg.Pool({ connectionString: databaseUrl, max: poolMax, application_name: 'atrium-bench-raw' });
  // naive-read: the app role, context set by a separate statement inside Drizzle's transaction.
  const appPool = new pg.Pool({ connectionString: appConnectionString(config), max: poolMax, application_name: 'atrium-bench-naive' });
  const raw = drizzle(rawPool);
  const naive = drizzle(appPool);

  const params = { type: 'object', properties: { tenantId: { type: 'string', format: 'uuid' } }, required: ['tenantId'] } as const;
  const storeParams = {
    type: 'object',
    properties: { tenantId: { type: 'string', format: 'uuid' }, userId: { type: 'string', format: 'uuid' } },
    required: ['tenantId', 'userId'],
  } as const;
  await app.register(async (scope) => {
    const options = { config: { public: true }, schema: { hide: true, params } };
    scope.post<{ Params: { tenantId: string; userId: string }; Body: StoreBody }>(
      '/bench/stores-raw/:tenantId/:userId',
      { config: { public: true, idempotency: false }, schema: { hide: true, params: storeParams } },
      async (request, reply) => {
        const userAgent = request.headers['user-agent'];
        const origin = { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null, requestId: request.id };
        return reply.code(201).send(await insertStoreRaw(rawPool, request.params.tenantId, request.params.userId, request.body, origin));
      },
    );
    scope.get<{ Params: { tenantId: string } }>('/bench/tenant-read/:tenantId', options, async (request) =>
      app.platform.db.withTenant(request.params.tenantId, (tx) => selectMemberships(tx, request.params.tenantId)),
    );
    scope.get<{ Params: { tenantId: string } }>('/bench/raw-read/:tenantId', options, async (request) =>
      selectMemberships(raw, request.params.tenantId),
    );
    scope.get<{ Params: { tenantId: string } }>('/bench/naive-read/:tenantId', options, async (request) =>
      naive.transaction(async (tx) => {
        await tx.execute(sql`SELECT set_config('app.tenant_id', ${request.params.tenantId}, true)`);
        return selectMemberships(tx, request.params.tenantId);
      }),
    );
  });
  return { app, pools: [rawPool, appPool] };
}

async function main(): Promise<void> {
  const target = process.argv[2] as TargetName;
  if (!TARGETS.includes(target)) throw new Error(`unknown target "${target}"; one of ${TARGETS.join(', ')}`);

  const { app, pools } =
    target === 'hello'
      ? { app: await helloWorld(), pools: [] as pg.Pool[] }
      : target === 'argon2'
        ? { app: await argon2Ceiling(), pools: [] as pg.Pool[] }
        : await atrium();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.close().catch(() => undefined);
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
    process.exit(0);
  };
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'stats') {
      const cpu = process.cpuUsage();
      send({ type: 'stats', queries, rssBytes: process.memoryUsage.rss(), maxRssBytes: process.resourceUsage().maxRSS * 1024, cpuMicros: cpu.user + cpu.system });
    } else if (message.type === 'stop') {
      void stop();
    }
  });
  // The parent went away (crashed or was killed): never outlive it.
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  send({ type: 'ready', port: address.port });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  console.error(error);
  process.exit(1);
});
