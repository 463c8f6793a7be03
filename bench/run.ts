/**
 * `npm run bench`: Atrium's throughput and latency against ceilings measured in the same run (DESIGN §7:
 * this machine is noisy, so only ratios mean something).
 *
 *   hello        bare Fastify hello-world                     ceiling for `health`
 *   health       Atrium GET /health, full plugin stack         goal: >= 0.6x hello
 *   tenant-read  a tenant's memberships through withTenant    vs raw-read: what the tenant context costs
 *   raw-read     the same SELECT on a plain pool, no tx        ceiling for the reads
 *   naive-read   the same SELECT in a Drizzle transaction that sets the context with its own statement
 *   argon2       one argon2id verification per request, directly with the hasher   ceiling for `login`
 *   login        POST /api/v1/auth/login, right password, one account per connection   goal: >= 0.85x argon2
 *   users-me     GET /api/v1/users/me with a bearer token, 64 connections      goal: >= 0.07x hello, p99 <= 30 ms
 *   users-list-1t    GET /api/v1/users?limit=20 as the owner of a tenant of 1,000 members, alone in its database
 *   users-list-10kt  the same, with 10,000 more tenants of 10 members each (100k users) in the database
 *                    goal: throughput >= 0.8x users-list-1t, p99 <= 1.25x (the tenant index does its job)
 *   stores-raw   the rows a store creation writes (store, audit row, outbox event): BEGIN, three INSERTs,
 *                COMMIT on a plain pg pool          ceiling for `stores-create`
 *   stores-create  POST /api/v1/stores, a new store (unique code) per request      goal: >= 0.35x stores-raw
 *
 * Each target runs in its own child process (bench/targets.ts); this process only generates load with
 * autocannon, so load generator and target never share an event loop. Targets are measured in
 * interleaved rounds (A, B, C, …, A, B, C, …) so machine noise hits all of them alike.
 *
 * Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is an
 * administrator login; the scratch databases the selected targets need are created, migrated, seeded and
 * dropped again: `atrium_bench` (reads, sign-in, stores), `atrium_bench_1t` and `atrium_bench_10kt` (the
 * same tenant of 1,000 members, alone or beside 10,000 others; seeded set-based, a few seconds). The two
 * users-list targets differ only in their database, and run interleaved, so their ratio is what the other
 * tenants cost. Everything listens on 127.0.0.1 and the run stops by itself (about three and a half
 * minutes for every target).
 *
 * Knobs: BENCH_ROUNDS (4), BENCH_SECONDS per round (3), BENCH_CONNECTIONS (32), BENCH_USERS_ME_CONNECTIONS
 * (64, the connections the users-me goal is stated for), BENCH_LOG_LEVEL for Atrium's logger (warn:
 * request logs off), BENCH_TARGETS (comma-separated subset; `login` needs `argon2` for its ratio,
 * `users-me` needs `hello`, `users-list-10kt` needs `users-list-1t`, `stores-create` needs `stores-raw`),
 * BENCH_CPU_PROFILE_DIR (write a V8 CPU profile of each target there), BENCH_SEED_SQL (SQL run as the
 * administrator in every scratch database once seeded, e.g. an index to try before writing its migration).
 *
 * stores-create and stores-raw each create a new store per request (codes from one counter per target,
 * set by autocannon's per-request `setupRequest`), in two tenants of their own that start with their
 * headquarters; before the load, the run checks in the database that one request wrote the store, its
 * audit row and its event, for both.
 *
 * login and argon2 run with the same connections and the same hasher limits (PASSWORD_HASH_CONCURRENCY,
 * PASSWORD_HASH_QUEUE), so their ratio is what the rest of a sign-in costs on top of its argon2 work. Each
 * login connection signs in its own account: a right password resets the account's attempt counter, so
 * the brute-force limits never trip, as for real users (who do not sign in 32 times at once).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { hash as argon2Hash } from '@node-rs/argon2';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { uuidv7 } from '../src/core/db/ids.js';
import { migratePostgres } from '../src/core/db/migrate.js';
import { ARGON2_OPTIONS } from '../src/modules/identity/passwords.js';
import { BENCH_PASSWORD, TARGETS, type ChildMessage, type ParentMessage, type TargetName } from './protocol.js';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(BENCH_DIR, '..');
const RESULTS_DIR = path.join(BENCH_DIR, 'results');

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

const settings = {
  rounds: intFromEnv('BENCH_ROUNDS', 4, 1, 20),
  secondsPerRound: intFromEnv('BENCH_SECONDS', 3, 1, 30),
  warmupSeconds: 2,
  connections: intFromEnv('BENCH_CONNECTIONS', 32, 1, 512),
  usersMeConnections: intFromEnv('BENCH_USERS_ME_CONNECTIONS', 64, 1, 512),
  membersPerTenant: 10,
  /** The tenant users-list-* lists, and the size of the 10,000 others beside it in users-list-10kt. */
  listMembers: 1_000,
  membersPerOtherTenant: 10,
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
  seedSql: process.env.BENCH_SEED_SQL ?? '',
};
const selected: TargetName[] = process.env.BENCH_TARGETS
  ? process.env.BENCH_TARGETS.split(',').map((name) => {
      const target = name.trim() as TargetName;
      if (!TARGETS.includes(target)) throw new Error(`BENCH_TARGETS: unknown target "${target}"; one of ${TARGETS.join(', ')}`);
      return target;
    })
  : [...TARGETS];

/** GET /api/v1/users?limit= of the users-list targets. */
const LIST_LIMIT = 20;

/** Hard stop: whatever happens, the benchmark ends. */
const DEADLINE_MS = 10 * 60 * 1000;

const DESCRIPTIONS: Record<TargetName, string> = {
  hello: 'bare Fastify hello-world (HTTP ceiling)',
  health: 'Atrium GET /health (full plugin stack)',
  'tenant-read': 'memberships via withTenant (tx + RLS context)',
  'raw-read': 'same SELECT, plain pool, no tx (SQL ceiling)',
  'naive-read': 'same SELECT, Drizzle tx + separate set_config',
  argon2: 'argon2id verify, hasher only (login ceiling)',
  login: 'POST /auth/login, right password',
  'users-me': 'GET /users/me, bearer token',
  'users-list-1t': 'GET /users?limit=20, 1,000 members, 1 tenant in db',
  'users-list-10kt': 'same, 10,000 more tenants (100k members) in db',
  'stores-raw': 'store + audit + outbox INSERTs, plain pool tx',
  'stores-create': 'POST /stores (audit row + event)',
};

/** What a target's load looks like: one request shape, optionally varied per connection. */
interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** The body of each connection's requests (connection index → body). */
  bodyFor?: (connection: number) => string;
  /** A new body for every request (e.g. a store with a code of its own). */
  bodyPerRequest?: () => string;
  /** The status a right answer has (default 200). */
  expectedStatus?: number;
  /** Sign in as this account (in this tenant) through the target once it is up, and send its bearer token. */
  signIn?: { email: string; tenantId?: string };
  connections: number;
}

interface Round {
  round: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** CPU used during the round, in cores (1 = one core busy all the time): the target's and this process's. */
  targetCpuCores: number;
  loadGeneratorCpuCores: number;
}

interface TargetRun {
  name: TargetName;
  request: RequestSpec;
  child: ChildProcess;
  port: number;
  messages: ChildMessage[];
  waiters: Array<(message: ChildMessage) => void>;
  rounds: Round[];
  rssAfterRoundsBytes: number[];
  maxRssBytes: number;
  roundTripsPerRequest?: number;
  /** What one request wrote (store targets), as found in the database. */
  writes?: string;
}

// ---------------------------------------------------------------------------------------------------
// Scratch databases

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * main: the tenants of the read, sign-in and store targets. 1t and 10kt: the same tenant of 1,000
 * members, alone (1t) or beside 10,000 tenants of 10 members each (10kt), so users-list-1t and
 * users-list-10kt differ only in what else the database holds.
 */
type DatabaseKey = 'main' | '1t' | '10kt';
const DATABASES: Record<DatabaseKey, string> = { main: 'atrium_bench', '1t': 'atrium_bench_1t', '10kt': 'atrium_bench_10kt' };
const databaseUrl = (key: DatabaseKey) => Object.assign(new URL(adminUrl), { pathname: `/${DATABASES[key]}` }).toString();

/** The database each target works on; null: it never connects (it is handed main's URL all the same). */
const DATABASE_OF: Record<TargetName, DatabaseKey | null> = {
  hello: null,
  argon2: null,
  health: 'main',
  'tenant-read': 'main',
  'raw-read': 'main',
  'naive-read': 'main',
  login: 'main',
  'users-me': 'main',
  'stores-raw': 'main',
  'stores-create': 'main',
  'users-list-1t': '1t',
  'users-list-10kt': '10kt',
};

async function adminQuery<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'atrium-bench' });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Sign-in accounts: one per login connection, plus the one users-me reads as. */
const loginEmail = (index: number) => `login-${index}@bench.test`;
const ME_EMAIL = 'me@bench.test';
/** The owner of the two store tenants (stores-create signs in as them; stores-raw audits as them). */
const STORES_EMAIL = 'stores@bench.test';
/** The owner of the 1,000-member tenant, who lists its members (users-list-*). */
const LIST_OWNER_EMAIL = 'owner@big.bench.test';
const LIST_MEMBER_DOMAIN = '@big.bench.test';

/** What the targets need to know about the seeded data. */
interface Seeded {
  /** A tenant of `membersPerTenant` members (the -read targets). */
  readTenantId: string;
  /** Where stores-create creates stores, and where stores-raw inserts them (two tenants, same owner). */
  storesTenantId: string;
  storesRawTenantId: string;
  storesOwnerId: string;
  /** The tenant of 1,000 members; the same id in the 1t and 10kt databases. */
  listTenantId: string;
}

async function recreateDatabase(key: DatabaseKey): Promise<pg.Client> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${DATABASES[key]} WITH (FORCE)`);
  await adminQuery(adminUrl, `CREATE DATABASE ${DATABASES[key]}`);
  await migratePostgres(databaseUrl(key), loadConfig({ ...process.env, DATABASE_URL: databaseUrl(key) }).database);
  const client = new pg.Client({ connectionString: databaseUrl(key), application_name: 'atrium-bench' });
  await client.connect();
  return client;
}

/**
 * Runs BENCH_SEED_SQL (to try, say, an index before writing its migration), then VACUUM ANALYZE: the
 * planner sees the seeded sizes, as autovacuum would have shown it in a database that grew to them.
 */
async function finishSeeding(client: pg.Client): Promise<void> {
  if (settings.seedSql) await client.query(settings.seedSql);
  await client.query('VACUUM ANALYZE');
}

/**
 * Every tenant has a subscription (the database checks it at commit): the seeded ones are on Enterprise,
 * unlimited, so the measured creates pay for the limit check (the subscription lock) and never hit a limit.
 */
async function subscribeSeededTenants(client: pg.Client): Promise<void> {
  await client.query(
    `INSERT INTO subscriptions (tenant_id, id, plan_id, status, current_period_start, current_period_end)
     SELECT t.id, uuidv7(), p.id, 'active', now(), now() + interval '1 month'
       FROM tenants t CROSS JOIN plans p
      WHERE p.code = 'enterprise' AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant_id = t.id)`,
  );
}

async function seedMain(passwordHash: string): Promise<Omit<Seeded, 'listTenantId'>> {
  const client = await recreateDatabase('main');
  try {
    // Two tenants with the same number of members: the reads must pick one tenant's rows out of both.
    const tenants = [uuidv7(), uuidv7()];
    await client.query('BEGIN');
    for (const [index, tenantId] of tenants.entries()) {
      await client.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)', [tenantId, `Bench ${index}`, `bench-tenant-${index}`]);
      for (let member = 0; member < settings.membersPerTenant; member++) {
        const userId = uuidv7();
        await client.query('INSERT INTO users (id, email, name) VALUES ($1, $2, $3)', [userId, `member-${index}-${member}@bench.test`, `Member ${member}`]);
        await client.query('INSERT INTO memberships (tenant_id, user_id) VALUES ($1, $2)', [tenantId, userId]);
      }
    }
    // The sign-in accounts live in a tenant of their own, so the read targets still see 10 members.
    const signInTenant = uuidv7();
    await client.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)', [signInTenant, 'Bench sign-in', 'bench-sign-in']);
    for (const email of [ME_EMAIL, ...Array.from({ length: settings.connections }, (_, index) => loginEmail(index))]) {
      const userId = uuidv7();
      await client.query('INSERT INTO users (id, email, name, password_hash, email_verified_at) VALUES ($1, $2, $3, $4, now())', [userId, email, email, passwordHash]);
      await client.query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')", [signInTenant, userId]);
    }
    // The store targets write into tenants of their own (the stores pile up there), each already with
    // its headquarters, so every measured create is an ordinary branch.
    const storesOwnerId = uuidv7();
    await client.query('INSERT INTO users (id, email, name, password_hash, email_verified_at) VALUES ($1, $2, $3, $4, now())', [storesOwnerId, STORES_EMAIL, 'Store owner', passwordHash]);
    const storeTenants = [uuidv7(), uuidv7()] as const;
    for (const [index, tenantId] of storeTenants.entries()) {
      await client.query('INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3)', [tenantId, `Bench stores ${index}`, `bench-stores-${index}`]);
      await client.query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')", [tenantId, storesOwnerId]);
      await client.query("INSERT INTO stores (tenant_id, id, name, code, is_headquarters) VALUES ($1, $2, 'Headquarters', 'HQ', true)", [tenantId, uuidv7()]);
    }
    await subscribeSeededTenants(client);
    await client.query('COMMIT');
    await finishSeeding(client);
    return { readTenantId: tenants[0]!, storesTenantId: storeTenants[0], storesRawTenantId: storeTenants[1], storesOwnerId };
  } finally {
    await client.end();
  }
}

/**
 * The members databases, seeded set-based (INSERT … SELECT FROM generate_series) in a few seconds. Ids
 * are UUIDv7 of each row's creation time, as the application makes them; in 10kt the rows of all tenants
 * are inserted in creation order, so the big tenant's memberships are spread over the table as in a
 * database that grew over a year, not packed together.
 */
async function seedMembers(key: '1t' | '10kt', listTenantId: string, passwordHash: string): Promise<void> {
  const otherTenants = key === '10kt' ? 10_000 : 0;
  const client = await recreateDatabase(key);
  try {
    await client.query('BEGIN');
    // uuid_send of a random UUID with its first 48 bits replaced by the Unix time in ms and version 7.
    await client.query(`
      CREATE FUNCTION pg_temp.uuidv7_at(at timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
        SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
          PLACING substring(int8send((extract(epoch FROM at) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
      $$`);
    await client.query(
      `CREATE TEMP TABLE seed_tenants ON COMMIT DROP AS
         SELECT 0 AS idx, $1::uuid AS id, $2::int AS members, now() - interval '400 days' AS created_at
         UNION ALL
         SELECT n, pg_temp.uuidv7_at(at), $3::int, at
         FROM (SELECT n, now() - interval '400 days' + n * interval '30 minutes' AS at FROM generate_series(1, $4::int) AS n) AS t`,
      [listTenantId, settings.listMembers, settings.membersPerOtherTenant, otherTenants],
    );
    await client.query(
      `INSERT INTO tenants (id, name, slug, created_at, updated_at)
       SELECT id, CASE idx WHEN 0 THEN 'Bench 1,000 members' ELSE 'Tenant ' || idx END, 'bench-tenant-' || idx, created_at, created_at
       FROM seed_tenants ORDER BY created_at`,
    );
    // Member 1 of each tenant is its owner; every 50th member is deactivated. Names are pseudo-random,
    // so an order by name is not the insertion order.
    await client.query(
      `CREATE TEMP TABLE seed_members ON COMMIT DROP AS
         SELECT tenant_id, idx, m, at, pg_temp.uuidv7_at(at) AS user_id
         FROM (SELECT t.id AS tenant_id, t.idx, m, greatest(t.created_at, now() - random() * interval '365 days') AS at
               FROM seed_tenants AS t CROSS JOIN LATERAL generate_series(1, t.members) AS m) AS s`,
    );
    await client.query(
      `INSERT INTO users (id, email, name, password_hash, email_verified_at, created_at, updated_at)
       SELECT user_id,
              CASE WHEN idx = 0 AND m = 1 THEN $1 WHEN idx = 0 THEN 'member-' || m || $2 ELSE 'member-' || idx || '-' || m || '@other.bench.test' END,
              initcap(substr(md5(idx || '.' || m), 1, 7)) || ' ' || initcap(substr(md5(m || '.' || idx), 1, 9)),
              CASE WHEN idx = 0 AND m = 1 THEN $3 END, at, at, at
       FROM seed_members ORDER BY at`,
      [LIST_OWNER_EMAIL, LIST_MEMBER_DOMAIN, passwordHash],
    );
    await client.query(
      `INSERT INTO memberships (tenant_id, user_id, role, status, title, created_at, updated_at)
       SELECT tenant_id, user_id,
              CASE WHEN m = 1 THEN 'owner' WHEN m % 25 = 0 THEN 'admin' ELSE 'member' END,
              CASE WHEN m % 50 = 0 AND m > 1 THEN 'deactivated' ELSE 'active' END,
              CASE WHEN m % 3 = 0 THEN 'Cashier' END, at, at
       FROM seed_members ORDER BY at`,
    );
    await subscribeSeededTenants(client);
    await client.query('COMMIT');
    await finishSeeding(client);
  } finally {
    await client.end();
  }
}

async function createDatabases(keys: ReadonlySet<DatabaseKey>): Promise<{ seeded: Seeded; postgresVersion: string }> {
  // One hash for every account: verifying it costs the same whatever its salt.
  const passwordHash = await argon2Hash(BENCH_PASSWORD, ARGON2_OPTIONS);
  const listTenantId = uuidv7();
  const main = keys.has('main') ? await seedMain(passwordHash) : { readTenantId: '', storesTenantId: '', storesRawTenantId: '', storesOwnerId: '' };
  for (const key of ['1t', '10kt'] as const) if (keys.has(key)) await seedMembers(key, listTenantId, passwordHash);
  const [{ server_version: postgresVersion }] = (await adminQuery<{ server_version: string }>(adminUrl, 'SHOW server_version')) as [{ server_version: string }];
  return { seeded: { ...main, listTenantId }, postgresVersion };
}

async function dropDatabases(keys: Iterable<DatabaseKey>): Promise<void> {
  for (const key of keys) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${DATABASES[key]} WITH (FORCE)`);
}

// ---------------------------------------------------------------------------------------------------
// Target processes

function nextMessage(target: TargetRun, type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const queued = target.messages.findIndex((message) => message.type === type || message.type === 'error');
    if (queued >= 0) {
      const [message] = target.messages.splice(queued, 1);
      return message!.type === 'error' ? reject(new Error(`${target.name}: ${message!.message}`)) : resolve(message!);
    }
    const timer = setTimeout(() => reject(new Error(`${target.name}: no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
    target.waiters.push((message) => {
      clearTimeout(timer);
      if (message.type === 'error') reject(new Error(`${target.name}: ${message.message}`));
      else resolve(message);
    });
  });
}

/**
 * Production refuses the public dev key: every target gets the same throw-away key (they share the
 * signing keys stored in the scratch database).
 */
const keyEncryptionKey = process.env.AUTH_KEY_ENCRYPTION_KEY ?? randomBytes(32).toString('hex');

const loginBody = (email: string, tenantId?: string) => JSON.stringify({ email, password: BENCH_PASSWORD, ...(tenantId ? { tenantId } : {}) });

/**
 * A new store per request: the code is unique per tenant, so every request (load, warm-up and checks)
 * takes the next number of one counter per target.
 */
function storeBodies(): () => string {
  let next = 0;
  return () => {
    const code = `S${(next++).toString(36)}`;
    return JSON.stringify({
      name: `Branch ${code}`,
      code,
      address: { line1: '12 Moi Avenue', city: 'Nairobi', region: 'Nairobi', postalCode: '00100', country: 'KE' },
      phone: '+254700000001',
      email: 'branch@bench.test',
      timezone: 'Africa/Nairobi',
      isHeadquarters: false,
    });
  };
}

function requestSpec(name: TargetName, seeded: Seeded): RequestSpec {
  const get = (path: string): RequestSpec => ({ method: 'GET', path, connections: settings.connections });
  const post = (path: string, bodyPerRequest: () => string): RequestSpec => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    bodyPerRequest,
    expectedStatus: 201,
    connections: settings.connections,
  });
  switch (name) {
    case 'hello':
    case 'argon2':
      return get('/');
    case 'health':
      return get('/health');
    case 'tenant-read':
    case 'raw-read':
    case 'naive-read':
      return get(`/bench/${name}/${seeded.readTenantId}`);
    case 'login':
      return {
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        bodyFor: (connection) => loginBody(loginEmail(connection % settings.connections)),
        connections: settings.connections,
      };
    case 'users-me':
      // The bearer token is added once the target is up (signIn).
      return { ...get('/api/v1/users/me'), signIn: { email: ME_EMAIL }, connections: settings.usersMeConnections };
    case 'users-list-1t':
    case 'users-list-10kt':
      return { ...get(`/api/v1/users?limit=${LIST_LIMIT}`), signIn: { email: LIST_OWNER_EMAIL, tenantId: seeded.listTenantId } };
    case 'stores-create':
      return { ...post('/api/v1/stores', storeBodies()), signIn: { email: STORES_EMAIL, tenantId: seeded.storesTenantId } };
    case 'stores-raw':
      return post(`/bench/stores-raw/${seeded.storesRawTenantId}/${seeded.storesOwnerId}`, storeBodies());
  }
}

async function startTarget(name: TargetName, seeded: Seeded): Promise<TargetRun> {
  const child = fork(path.join(BENCH_DIR, 'targets.ts'), [name], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE_DIR}`] : [])],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl(DATABASE_OF[name] ?? 'main'),
      BENCH_LOG_LEVEL: settings.logLevel,
      NODE_ENV: process.env.NODE_ENV ?? 'production',
      AUTH_KEY_ENCRYPTION_KEY: keyEncryptionKey,
    },
    // stdout (request logs, if any) is dropped; warnings and errors show.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const target: TargetRun = {
    name,
    request: requestSpec(name, seeded),
    child,
    port: 0,
    messages: [],
    waiters: [],
    rounds: [],
    rssAfterRoundsBytes: [],
    maxRssBytes: 0,
  };
  child.on('message', (message: ChildMessage) => {
    const waiter = target.waiters.shift();
    if (waiter) waiter(message);
    else target.messages.push(message);
  });
  child.on('exit', (code, signal) => {
    const message = `exited (${signal ?? code}) before the benchmark finished`;
    for (const waiter of target.waiters.splice(0)) waiter({ type: 'error', message });
  });
  const ready = await nextMessage(target, 'ready', 60_000);
  target.port = (ready as Extract<ChildMessage, { type: 'ready' }>).port;
  return target;
}

async function targetStats(target: TargetRun): Promise<Extract<ChildMessage, { type: 'stats' }>> {
  target.child.send({ type: 'stats' } satisfies ParentMessage);
  return (await nextMessage(target, 'stats', 5_000)) as Extract<ChildMessage, { type: 'stats' }>;
}

async function stopTarget(target: TargetRun): Promise<void> {
  const { child } = target;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

const url = (target: TargetRun) => `http://127.0.0.1:${target.port}${target.request.path}`;

/** One request as the load sends it (from connection 0); returns the answer and the body sent. */
async function fetchOnce(target: TargetRun): Promise<{ response: Response; sent: string | undefined }> {
  const { request } = target;
  const sent = request.bodyFor?.(0) ?? request.bodyPerRequest?.();
  return { response: await fetch(url(target), { method: request.method, headers: request.headers, body: sent }), sent };
}

/** Targets that read or write as someone: sign in once through the target itself and keep the token. */
async function signIn(target: TargetRun): Promise<void> {
  const account = target.request.signIn;
  if (!account) return;
  const response = await fetch(`http://127.0.0.1:${target.port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: loginBody(account.email, account.tenantId),
  });
  const body = (await response.json()) as { accessToken?: string };
  if (response.status !== 200 || !body.accessToken) throw new Error(`${target.name}: sign-in answered ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  target.request.headers = { ...target.request.headers, authorization: `Bearer ${body.accessToken}` };
}

/** Whether a right-status answer is the one the target should give (`sent`: the request body). */
function checkAnswer(target: TargetRun, body: unknown, sent: string | undefined): string | null {
  const json = JSON.stringify(body).slice(0, 300);
  if (target.name.endsWith('-read') && (!Array.isArray(body) || body.length !== settings.membersPerTenant)) {
    return `expected the tenant's ${settings.membersPerTenant} memberships, got ${json}`;
  }
  if (target.name === 'login' && typeof (body as { accessToken?: unknown }).accessToken !== 'string') return `expected a login response, got ${json}`;
  if (target.name === 'users-me' && (body as { user?: { email?: string } }).user?.email !== ME_EMAIL) return `expected ${ME_EMAIL}, got ${json}`;
  if (target.name === 'argon2' && (body as { ok?: boolean }).ok !== true) return `expected { ok: true }, got ${json}`;
  if (target.name.startsWith('users-list-')) {
    const page = body as { data?: Array<{ email?: unknown }>; nextCursor?: unknown };
    if (!Array.isArray(page.data) || page.data.length !== LIST_LIMIT || typeof page.nextCursor !== 'string') {
      return `expected a page of ${LIST_LIMIT} members with a nextCursor, got ${json}`;
    }
    // Only the big tenant's members may show (the other tenants' members have other addresses).
    const stranger = page.data.find((member) => typeof member.email === 'string' && !member.email.endsWith(LIST_MEMBER_DOMAIN) && member.email !== LIST_OWNER_EMAIL);
    if (stranger) return `listed a member of another tenant: ${JSON.stringify(stranger)}`;
  }
  if (target.name.startsWith('stores-')) {
    const store = body as { id?: unknown; code?: unknown };
    const code = (JSON.parse(sent ?? '{}') as { code?: string }).code;
    if (typeof store.id !== 'string' || store.code !== code) return `expected the new store ${code}, got ${json}`;
  }
  return null;
}

/**
 * The store targets must write the same rows: the store, an audit row about it and an outbox event
 * naming it, committed together. Returns what was written, for the report.
 */
async function checkStoreRows(target: TargetRun, storeId: string): Promise<string> {
  const [row] = await adminQuery<{ stores: number; audit: string | null; event: string | null }>(
    databaseUrl('main'),
    `SELECT (SELECT count(*)::int FROM stores WHERE id = $1) AS stores,
            (SELECT string_agg(action, ',') FROM audit_events WHERE target_id = $2) AS audit,
            (SELECT string_agg(type, ',') FROM outbox_events WHERE payload::text LIKE '%' || $2 || '%') AS event`,
    [storeId, storeId],
  );
  if (!row || row.stores !== 1 || !row.audit || !row.event) throw new Error(`${target.name}: store ${storeId} was not written with its audit row and event: ${JSON.stringify(row)}`);
  return `audit ${row.audit}, event ${row.event}`;
}

/** Checks the answer, and counts the database round trips one request makes (minimum of 10 requests). */
async function verifyAndCountRoundTrips(target: TargetRun): Promise<void> {
  await signIn(target);
  const { response, sent } = await fetchOnce(target);
  const body = (await response.json()) as unknown;
  const { method, path: requestPath, expectedStatus = 200 } = target.request;
  if (response.status !== expectedStatus) throw new Error(`${target.name}: ${method} ${requestPath} answered ${response.status}: ${JSON.stringify(body)}`);
  const problem = checkAnswer(target, body, sent);
  if (problem) throw new Error(`${target.name}: ${problem}`);
  if (target.name.startsWith('stores-')) target.writes = await checkStoreRows(target, (body as { id: string }).id);
  let fewest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    const before = (await targetStats(target)).queries;
    await (await fetchOnce(target)).response.arrayBuffer();
    const after = (await targetStats(target)).queries;
    fewest = Math.min(fewest, after - before);
  }
  target.roundTripsPerRequest = fewest;
}

// ---------------------------------------------------------------------------------------------------
// Load

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function load(target: TargetRun, seconds: number, round: number): Promise<Round> {
  // Latency percentiles from every response, at sub-millisecond precision (autocannon's own histogram
  // rounds to whole milliseconds, too coarse for a hello-world).
  const latencies: number[] = [];
  const { request } = target;
  let connection = 0;
  const instance = autocannon({
    url: url(target),
    method: request.method,
    headers: request.headers,
    connections: request.connections,
    duration: seconds,
    timeout: 10,
    ...(request.bodyFor ? { setupClient: (client: autocannon.Client) => client.setBody(request.bodyFor!(connection++)) } : {}),
    // Rebuilt before every send, so each request carries a body of its own.
    ...(request.bodyPerRequest ? { requests: [{ setupRequest: (data: autocannon.RequestData) => ({ ...data, body: request.bodyPerRequest!() }) }] } : {}),
  });
  instance.on('response', (_client, _status, _bytes, latencyMs) => {
    latencies.push(latencyMs);
  });
  const cpuBefore = process.cpuUsage();
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = Float64Array.from(latencies).sort();
  return {
    round,
    seconds: result.duration,
    targetCpuCores: Number.NaN,
    loadGeneratorCpuCores: (cpu.user + cpu.system) / 1e6 / result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

// ---------------------------------------------------------------------------------------------------
// Report

interface Summary {
  target: TargetName;
  description: string;
  connections: number;
  requestsPerSecond: number;
  requestsPerSecondRange: [number, number];
  p50Ms: number;
  p99Ms: number;
  maxRssMiB: number;
  roundTripsPerRequest: number | null;
  targetCpuCores: number;
  loadGeneratorCpuCores: number;
  /** The target's CPU time per request: steadier than req/s when other work shares the machine. */
  targetCpuMicrosPerRequest: number;
  failures: number;
}

function summarise(target: TargetRun): Summary {
  const rps = target.rounds.map((r) => r.requestsPerSecond);
  return {
    target: target.name,
    description: DESCRIPTIONS[target.name],
    connections: target.request.connections,
    requestsPerSecond: median(rps),
    requestsPerSecondRange: [Math.min(...rps), Math.max(...rps)],
    p50Ms: median(target.rounds.map((r) => r.p50Ms)),
    p99Ms: median(target.rounds.map((r) => r.p99Ms)),
    maxRssMiB: target.maxRssBytes / 2 ** 20,
    roundTripsPerRequest: target.roundTripsPerRequest ?? null,
    targetCpuCores: median(target.rounds.map((r) => r.targetCpuCores)),
    loadGeneratorCpuCores: median(target.rounds.map((r) => r.loadGeneratorCpuCores)),
    targetCpuMicrosPerRequest: median(target.rounds.map((r) => (r.targetCpuCores * 1e6) / r.requestsPerSecond)),
    failures: target.rounds.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 || column === 1 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')).join('\n');
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const startedAt = new Date();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const estimate = selected.length * (settings.warmupSeconds + settings.rounds * settings.secondsPerRound);
  console.log(
    `Atrium benchmark: ${selected.length} targets x ${settings.rounds} rounds x ${settings.secondsPerRound}s, ` +
      `${settings.connections} connections, interleaved (about ${estimate}s of load)`,
  );
  const databaseKeys = new Set(selected.map((name) => DATABASE_OF[name]).filter((key): key is DatabaseKey => key !== null));
  const databaseNames = [...databaseKeys].map((key) => DATABASES[key]).join(', ') || 'none';
  console.log(`PostgreSQL: scratch databases ${databaseNames} on ${new URL(adminUrl).host}; load average ${loadAtStart.toFixed(2)} on ${os.cpus().length} cores`);

  const targets: TargetRun[] = [];
  const cleanup = async () => {
    await Promise.all(targets.map((target) => stopTarget(target).catch(() => undefined)));
    await dropDatabases(databaseKeys).catch((error: unknown) => console.error(`could not drop ${databaseNames}:`, error));
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    console.error('\ninterrupted: stopping targets and dropping the scratch database');
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const deadline = setTimeout(() => {
    console.error(`benchmark exceeded ${DEADLINE_MS / 1000}s; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, DEADLINE_MS);
  deadline.unref();

  try {
    const seedingStarted = Date.now();
    const { seeded, postgresVersion } = await createDatabases(databaseKeys);
    const seededWhat = [
      databaseKeys.has('main') ? `${DATABASES.main}: 2 tenants x ${settings.membersPerTenant} memberships, sign-in and store tenants` : null,
      databaseKeys.has('1t') ? `${DATABASES['1t']}: 1 tenant of ${settings.listMembers} members` : null,
      databaseKeys.has('10kt') ? `${DATABASES['10kt']}: the same tenant + 10,000 tenants x ${settings.membersPerOtherTenant} members` : null,
    ].filter((line) => line !== null);
    if (seededWhat.length > 0) console.log(`Migrated and seeded in ${((Date.now() - seedingStarted) / 1000).toFixed(1)}s (PostgreSQL ${postgresVersion}): ${seededWhat.join('; ')}.`);

    for (const name of selected) targets.push(await startTarget(name, seeded));
    for (const target of targets) await verifyAndCountRoundTrips(target);
    console.log(`Targets up: ${targets.map((t) => `${t.name} (pid ${t.child.pid})`).join(', ')}`);
    for (const target of targets) if (target.writes) console.log(`${target.name}: one request writes the store, ${target.writes}`);

    process.stdout.write('Warm-up:');
    for (const target of targets) {
      await load(target, settings.warmupSeconds, 0);
      process.stdout.write(` ${target.name}`);
    }
    process.stdout.write('\n');

    for (let round = 1; round <= settings.rounds; round++) {
      const line: string[] = [];
      for (const target of targets) {
        const before = await targetStats(target);
        const result = await load(target, settings.secondsPerRound, round);
        const stats = await targetStats(target);
        result.targetCpuCores = (stats.cpuMicros - before.cpuMicros) / 1e6 / result.seconds;
        target.rounds.push(result);
        target.rssAfterRoundsBytes.push(stats.rssBytes);
        target.maxRssBytes = Math.max(target.maxRssBytes, stats.maxRssBytes);
        line.push(`${target.name} ${Math.round(result.requestsPerSecond)}/s`);
      }
      console.log(`Round ${round}/${settings.rounds}: ${line.join(', ')}`);
    }
  } finally {
    clearTimeout(deadline);
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const summaries = targets.map(summarise);
  const hashLimits = loadConfig({ ...process.env, DATABASE_URL: databaseUrl('main') }).auth.passwordHash;
  const by = Object.fromEntries(summaries.map((s) => [s.target, s])) as Partial<Record<TargetName, Summary>>;
  const ratio = (a?: Summary, b?: Summary) => (a && b ? a.requestsPerSecond / b.requestsPerSecond : null);
  const cpuRatio = (a?: Summary, b?: Summary) => (a && b ? b.targetCpuMicrosPerRequest / a.targetCpuMicrosPerRequest : null);
  const ratios = {
    healthVsHello: ratio(by.health, by.hello),
    healthVsHelloByCpuPerRequest: cpuRatio(by.health, by.hello),
    tenantReadVsRawReadByCpuPerRequest: cpuRatio(by['tenant-read'], by['raw-read']),
    tenantReadVsRawRead: ratio(by['tenant-read'], by['raw-read']),
    naiveReadVsRawRead: ratio(by['naive-read'], by['raw-read']),
    tenantReadVsNaiveRead: ratio(by['tenant-read'], by['naive-read']),
    loginVsArgon2: ratio(by.login, by.argon2),
    usersMeVsHello: ratio(by['users-me'], by.hello),
    usersList10ktVs1t: ratio(by['users-list-10kt'], by['users-list-1t']),
    usersList10ktVs1tP99: by['users-list-10kt'] && by['users-list-1t'] ? by['users-list-10kt'].p99Ms / by['users-list-1t'].p99Ms : null,
    storesCreateVsRaw: ratio(by['stores-create'], by['stores-raw']),
  };
  const ceilingOf: Partial<Record<TargetName, TargetName>> = {
    health: 'hello',
    'tenant-read': 'raw-read',
    'naive-read': 'raw-read',
    login: 'argon2',
    'users-me': 'hello',
    'users-list-10kt': 'users-list-1t',
    'stores-create': 'stores-raw',
  };

  const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const rows = [
    ['target', 'what', 'conns', 'req/s', 'range', 'p50 ms', 'p99 ms', 'RSS MiB', 'CPU tgt/gen', 'CPU µs/req', 'DB trips', 'vs ceiling'],
    ...summaries.map((s) => {
      const ceiling = ceilingOf[s.target];
      const vs = ceiling && by[ceiling] ? `${(s.requestsPerSecond / by[ceiling]!.requestsPerSecond).toFixed(2)}x ${ceiling}` : '-';
      return [
        s.target,
        s.description,
        String(s.connections),
        fmt(s.requestsPerSecond),
        `${fmt(s.requestsPerSecondRange[0])}-${fmt(s.requestsPerSecondRange[1])}`,
        fmt(s.p50Ms, 2),
        fmt(s.p99Ms, 2),
        fmt(s.maxRssMiB),
        `${s.targetCpuCores.toFixed(2)}/${s.loadGeneratorCpuCores.toFixed(2)}`,
        fmt(s.targetCpuMicrosPerRequest),
        s.roundTripsPerRequest === null ? '-' : String(s.roundTripsPerRequest),
        vs,
      ];
    }),
  ];
  console.log(
    `\nMedians over ${settings.rounds} interleaved rounds of ${settings.secondsPerRound}s (conns: concurrent connections). ` +
      `RSS: peak of the target's process (each runs under tsx). CPU: cores busy in the target / in the load generator ` +
      `(PostgreSQL takes the rest); CPU µs/req: the target's CPU time per request. DB trips: database round trips per request.\n`,
  );
  console.log(table(rows));

  console.log('');
  if (ratios.healthVsHello !== null) {
    console.log(`Atrium /health vs hello-world: ${ratios.healthVsHello.toFixed(2)}x (goal >= 0.60x: ${ratios.healthVsHello >= 0.6 ? 'met' : 'NOT met'})`);
  }
  if (by.health && by.hello) {
    console.log(`Atrium /health CPU per request: ${fmt(by.health.targetCpuMicrosPerRequest)} µs vs hello-world ${fmt(by.hello.targetCpuMicrosPerRequest)} µs (${(by.hello.targetCpuMicrosPerRequest / by.health.targetCpuMicrosPerRequest).toFixed(2)}x)`);
  }
  if (ratios.tenantReadVsRawRead !== null) console.log(`withTenant read vs raw SQL read: ${ratios.tenantReadVsRawRead.toFixed(2)}x`);
  if (ratios.tenantReadVsNaiveRead !== null) console.log(`withTenant read vs naive transaction read: ${ratios.tenantReadVsNaiveRead.toFixed(2)}x`);
  if (ratios.loginVsArgon2 !== null) {
    console.log(
      `Login vs argon2id ceiling (${by.login!.connections} connections, both with PASSWORD_HASH_CONCURRENCY=${hashLimits.concurrency} on ${os.cpus().length} cores): ${ratios.loginVsArgon2.toFixed(2)}x ` +
        `(${fmt(by.login!.requestsPerSecond, 1)} vs ${fmt(by.argon2!.requestsPerSecond, 1)} verifications/s; goal >= 0.85x: ${ratios.loginVsArgon2 >= 0.85 ? 'met' : 'NOT met'})`,
    );
  }
  if (ratios.usersMeVsHello !== null) {
    const me = by['users-me']!;
    console.log(
      `GET /users/me vs hello-world: ${ratios.usersMeVsHello.toFixed(2)}x (goal >= 0.07x: ${ratios.usersMeVsHello >= 0.07 ? 'met' : 'NOT met'}); ` +
        `p99 ${fmt(me.p99Ms, 2)} ms at ${me.connections} connections (goal <= 30 ms: ${me.p99Ms <= 30 ? 'met' : 'NOT met'})`,
    );
  }
  if (ratios.usersList10ktVs1t !== null && ratios.usersList10ktVs1tP99 !== null) {
    const [one, many] = [by['users-list-1t']!, by['users-list-10kt']!];
    console.log(
      `GET /users?limit=${LIST_LIMIT} with 10,000 tenants vs 1 tenant in the database: ${ratios.usersList10ktVs1t.toFixed(2)}x throughput ` +
        `(${fmt(many.requestsPerSecond)} vs ${fmt(one.requestsPerSecond)} req/s; goal >= 0.80x: ${ratios.usersList10ktVs1t >= 0.8 ? 'met' : 'NOT met'}), ` +
        `${ratios.usersList10ktVs1tP99.toFixed(2)}x p99 (${fmt(many.p99Ms, 2)} vs ${fmt(one.p99Ms, 2)} ms; goal <= 1.25x: ${ratios.usersList10ktVs1tP99 <= 1.25 ? 'met' : 'NOT met'})`,
    );
  }
  if (ratios.storesCreateVsRaw !== null) {
    console.log(
      `POST /stores vs the same inserts in raw SQL: ${ratios.storesCreateVsRaw.toFixed(2)}x ` +
        `(${fmt(by['stores-create']!.requestsPerSecond)} vs ${fmt(by['stores-raw']!.requestsPerSecond)} req/s; goal >= 0.35x: ${ratios.storesCreateVsRaw >= 0.35 ? 'met' : 'NOT met'})`,
    );
  }
  const trips = (name: TargetName) => by[name]?.roundTripsPerRequest;
  if (trips('tenant-read') !== undefined) {
    console.log(
      `Round trips per tenant read: ${trips('tenant-read')} (BEGIN + role + context in one message, SELECT, COMMIT)` +
        (trips('naive-read') !== undefined ? `; naive transaction: ${trips('naive-read')}` : '') +
        (trips('raw-read') !== undefined ? `; raw SQL without transaction: ${trips('raw-read')}` : '') +
        (trips('tenant-read') === 3 ? ' -> the tenant context adds no round trip' : ' -> UNEXPECTED: expected 3'),
    );
  }

  for (const s of summaries) {
    // One event loop per process: a target that is not near one busy core was not the bottleneck.
    if (s.loadGeneratorCpuCores >= 0.9 && s.targetCpuCores < 0.85) {
      console.log(`note: ${s.target} was limited by the load generator (${s.loadGeneratorCpuCores.toFixed(2)} cores) more than by itself (${s.targetCpuCores.toFixed(2)}): its req/s is a floor`);
    }
  }

  const failures = summaries.filter((s) => s.failures > 0);
  for (const s of failures) console.error(`${s.target}: ${s.failures} failed requests (errors, timeouts or non-2xx): its figures are not valid`);

  const finishedAt = new Date();
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const cpus = os.cpus();
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    commit: gitCommit(),
    settings: { ...settings, passwordHash: hashLimits },
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      // 1-minute load average before and after: a busy machine explains wide ranges.
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] },
    },
    summaries,
    ratios,
    rounds: Object.fromEntries(targets.map((t) => [t.name, { method: t.request.method, path: t.request.path, connections: t.request.connections, rounds: t.rounds, rssAfterRoundsBytes: t.rssAfterRoundsBytes, maxRssBytes: t.maxRssBytes }])),
  };
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nResults: ${path.relative(process.cwd(), file)} (${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)}s)`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('benchmark failed:', error);
    process.exit(1);
  },
);
