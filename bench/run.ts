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
 *
 * Each target runs in its own child process (bench/targets.ts); this process only generates load with
 * autocannon, so load generator and target never share an event loop. Targets are measured in
 * interleaved rounds (A, B, C, …, A, B, C, …) so machine noise hits all of them alike.
 *
 * Needs PostgreSQL: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is an
 * administrator login; the scratch database `atrium_bench` is created, migrated and dropped again.
 * Everything listens on 127.0.0.1 and the run stops by itself (about a minute and a half).
 *
 * Knobs: BENCH_ROUNDS (4), BENCH_SECONDS per round (3), BENCH_CONNECTIONS (32), BENCH_USERS_ME_CONNECTIONS
 * (64, the connections the users-me goal is stated for), BENCH_LOG_LEVEL for Atrium's logger (warn:
 * request logs off), BENCH_TARGETS (comma-separated subset; `login` needs `argon2` for its ratio,
 * `users-me` needs `hello`), BENCH_CPU_PROFILE_DIR (write a V8 CPU profile of each target there).
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
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
};
const selected: TargetName[] = process.env.BENCH_TARGETS
  ? process.env.BENCH_TARGETS.split(',').map((name) => {
      const target = name.trim() as TargetName;
      if (!TARGETS.includes(target)) throw new Error(`BENCH_TARGETS: unknown target "${target}"; one of ${TARGETS.join(', ')}`);
      return target;
    })
  : [...TARGETS];

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
};

/** What a target's load looks like: one request shape, optionally varied per connection. */
interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  /** The body of each connection's requests (connection index → body). */
  bodyFor?: (connection: number) => string;
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
}

// ---------------------------------------------------------------------------------------------------
// Scratch database

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BENCH_DATABASE = 'atrium_bench';
const benchUrl = Object.assign(new URL(adminUrl), { pathname: `/${BENCH_DATABASE}` }).toString();

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

async function createDatabase(): Promise<{ tenantId: string; postgresVersion: string }> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
  await adminQuery(adminUrl, `CREATE DATABASE ${BENCH_DATABASE}`);
  await migratePostgres(benchUrl, loadConfig({ ...process.env, DATABASE_URL: benchUrl }).database);

  // Two tenants with the same number of members: the reads must pick one tenant's rows out of both.
  const tenants = [uuidv7(), uuidv7()];
  const client = new pg.Client({ connectionString: benchUrl, application_name: 'atrium-bench' });
  await client.connect();
  try {
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
    // One hash for every account: verifying it costs the same whatever its salt.
    const passwordHash = await argon2Hash(BENCH_PASSWORD, ARGON2_OPTIONS);
    for (const email of [ME_EMAIL, ...Array.from({ length: settings.connections }, (_, index) => loginEmail(index))]) {
      const userId = uuidv7();
      await client.query('INSERT INTO users (id, email, name, password_hash, email_verified_at) VALUES ($1, $2, $3, $4, now())', [userId, email, email, passwordHash]);
      await client.query("INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')", [signInTenant, userId]);
    }
    await client.query('COMMIT');
    await client.query('ANALYZE');
    const [{ server_version: postgresVersion }] = (await client.query<{ server_version: string }>('SHOW server_version')).rows as [{ server_version: string }];
    return { tenantId: tenants[0]!, postgresVersion };
  } finally {
    await client.end();
  }
}

async function dropDatabase(): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
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

const loginBody = (email: string) => JSON.stringify({ email, password: BENCH_PASSWORD });

function requestSpec(name: TargetName, tenantId: string): RequestSpec {
  const get = (path: string): RequestSpec => ({ method: 'GET', path, connections: settings.connections });
  switch (name) {
    case 'hello':
    case 'argon2':
      return get('/');
    case 'health':
      return get('/health');
    case 'tenant-read':
    case 'raw-read':
    case 'naive-read':
      return get(`/bench/${name}/${tenantId}`);
    case 'login':
      return {
        method: 'POST',
        path: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        bodyFor: (connection) => loginBody(loginEmail(connection % settings.connections)),
        connections: settings.connections,
      };
    case 'users-me':
      // The bearer token is added once the target is up (signInForUsersMe).
      return { ...get('/api/v1/users/me'), connections: settings.usersMeConnections };
  }
}

async function startTarget(name: TargetName, tenantId: string): Promise<TargetRun> {
  const child = fork(path.join(BENCH_DIR, 'targets.ts'), [name], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE_DIR}`] : [])],
    env: {
      ...process.env,
      DATABASE_URL: benchUrl,
      BENCH_LOG_LEVEL: settings.logLevel,
      NODE_ENV: process.env.NODE_ENV ?? 'production',
      AUTH_KEY_ENCRYPTION_KEY: keyEncryptionKey,
    },
    // stdout (request logs, if any) is dropped; warnings and errors show.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const target: TargetRun = {
    name,
    request: requestSpec(name, tenantId),
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

/** One request as the load sends it (from connection 0). */
const fetchOnce = (target: TargetRun) =>
  fetch(url(target), { method: target.request.method, headers: target.request.headers, body: target.request.bodyFor?.(0) });

/** users-me reads as a signed-in person: sign in once through the target itself and keep the token. */
async function signInForUsersMe(target: TargetRun): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${target.port}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: loginBody(ME_EMAIL),
  });
  const body = (await response.json()) as { accessToken?: string };
  if (response.status !== 200 || !body.accessToken) throw new Error(`${target.name}: sign-in answered ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  target.request.headers = { authorization: `Bearer ${body.accessToken}` };
}

/** Whether a 200 answer is the one the target should give. */
function checkAnswer(target: TargetRun, body: unknown): string | null {
  const json = JSON.stringify(body).slice(0, 300);
  if (target.name.endsWith('-read') && (!Array.isArray(body) || body.length !== settings.membersPerTenant)) {
    return `expected the tenant's ${settings.membersPerTenant} memberships, got ${json}`;
  }
  if (target.name === 'login' && typeof (body as { accessToken?: unknown }).accessToken !== 'string') return `expected a login response, got ${json}`;
  if (target.name === 'users-me' && (body as { user?: { email?: string } }).user?.email !== ME_EMAIL) return `expected ${ME_EMAIL}, got ${json}`;
  if (target.name === 'argon2' && (body as { ok?: boolean }).ok !== true) return `expected { ok: true }, got ${json}`;
  return null;
}

/** Checks the answer, and counts the database round trips one request makes (minimum of 10 requests). */
async function verifyAndCountRoundTrips(target: TargetRun): Promise<void> {
  if (target.name === 'users-me') await signInForUsersMe(target);
  const response = await fetchOnce(target);
  const body = (await response.json()) as unknown;
  const { method, path: requestPath } = target.request;
  if (response.status !== 200) throw new Error(`${target.name}: ${method} ${requestPath} answered ${response.status}: ${JSON.stringify(body)}`);
  const problem = checkAnswer(target, body);
  if (problem) throw new Error(`${target.name}: ${problem}`);
  let fewest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    const before = (await targetStats(target)).queries;
    await (await fetchOnce(target)).arrayBuffer();
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
  console.log(`PostgreSQL: scratch database ${BENCH_DATABASE} on ${new URL(adminUrl).host}; load average ${loadAtStart.toFixed(2)} on ${os.cpus().length} cores`);

  const targets: TargetRun[] = [];
  let databaseCreated = false;
  const cleanup = async () => {
    await Promise.all(targets.map((target) => stopTarget(target).catch(() => undefined)));
    if (databaseCreated) await dropDatabase().catch((error: unknown) => console.error(`could not drop ${BENCH_DATABASE}:`, error));
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
    const { tenantId, postgresVersion } = await createDatabase();
    databaseCreated = true;
    console.log(`Migrated and seeded 2 tenants x ${settings.membersPerTenant} memberships (PostgreSQL ${postgresVersion}).`);

    for (const name of selected) targets.push(await startTarget(name, tenantId));
    for (const target of targets) await verifyAndCountRoundTrips(target);
    console.log(`Targets up: ${targets.map((t) => `${t.name} (pid ${t.child.pid})`).join(', ')}`);

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
  const hashLimits = loadConfig({ ...process.env, DATABASE_URL: benchUrl }).auth.passwordHash;
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
  };
  const ceilingOf: Partial<Record<TargetName, TargetName>> = {
    health: 'hello',
    'tenant-read': 'raw-read',
    'naive-read': 'raw-read',
    login: 'argon2',
    'users-me': 'hello',
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
