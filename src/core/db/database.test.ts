/**
 * The unit of work's guarantees (DESIGN §5): the tenant context is transaction-local, so it never
 * outlives its transaction on a pooled connection (commit, rollback, SQL error), survives savepoints,
 * and costs no round trip of its own.
 */
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { twoTenants } from '../../../test/factories.js';
import { memberships } from '../tenancy/tenancy.table.js';
import { createPostgresDatabase, unitOfWorkPrelude, type Database, type Tx } from './database.js';
import { pgErrorCode } from './errors.js';
import { uuidv7 } from './ids.js';
import { appConnectionString } from './open.js';

let t: TestApp;
/**
 * A database with exactly one connection, so the next unit of work provably reuses the connection the
 * previous one ran on: a pool of one on PostgreSQL, PGlite's single session otherwise.
 */
let single: Database;

beforeAll(async () => {
  t = await createTestApp();
  single =
    t.platform.db.kind === 'postgres'
      ? createPostgresDatabase({ connectionString: appConnectionString(t.config), poolMax: 1, appRole: t.config.database.appRole })
      : t.platform.db;
});
afterAll(async () => {
  if (single && single !== t?.platform.db) await single.close();
  await t?.close();
});

interface SessionState extends Record<string, unknown> {
  tenant: string | null;
  user: string | null;
  role: string;
  pid: number;
  members: number;
}

const STATE = `SELECT current_setting('app.tenant_id', true) AS tenant, current_setting('app.user_id', true) AS "user",
  current_user::text AS role, pg_backend_pid() AS pid, (SELECT count(*)::int FROM memberships) AS members`;

/** The connection's state between units of work: raw SQL on the same (only) connection, no prelude. */
async function readSession(): Promise<SessionState> {
  const { rows } = await single.executor.executeSql(STATE);
  return rows[0] as SessionState;
}

/** A new unit of work without context on the same connection. */
async function readContextFree(): Promise<SessionState> {
  return single.transaction({}, async (tx) => (await tx.execute<SessionState>(sql.raw(STATE))).rows[0]!);
}

const readInside = async (tx: Tx) => (await tx.execute<SessionState>(sql.raw(STATE))).rows[0]!;

/** After a transaction has ended, a context it set locally reads as '' (or NULL if never set). */
const isCleared = (value: string | null) => value === null || value === '';

describe('tenant context on a reused connection', () => {
  async function expectNoLeak(pidDuringTenantWork: number) {
    const session = await readSession();
    expect(session.pid).toBe(pidDuringTenantWork); // the very same connection
    expect(isCleared(session.tenant)).toBe(true);
    expect(isCleared(session.user)).toBe(true);
    expect(session.role).toBe(t.config.database.appRole);
    expect(session.members).toBe(0);

    const next = await readContextFree();
    expect(next.pid).toBe(pidDuringTenantWork);
    expect(isCleared(next.tenant)).toBe(true);
    expect(next.members).toBe(0);
  }

  it('is gone once a tenant transaction has committed', async () => {
    const { a } = await twoTenants(single);
    const inside = await single.transaction({ tenantId: a.tenant.id, userId: a.user.id }, readInside);
    expect(inside).toMatchObject({ tenant: a.tenant.id, user: a.user.id, members: 1 });
    await expectNoLeak(inside.pid);
  });

  it('is gone after the transaction threw (rollback)', async () => {
    const { a } = await twoTenants(single);
    let inside: SessionState | undefined;
    const error = await single
      .withTenant(a.tenant.id, async (tx) => {
        inside = await readInside(tx);
        await tx.delete(memberships); // rolled back below
        throw new Error('business rule failed');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('business rule failed');
    expect(inside).toMatchObject({ tenant: a.tenant.id, members: 1 });
    await expectNoLeak(inside!.pid);
    expect(await t.admin.query(`SELECT 1 FROM memberships WHERE tenant_id = $1`, [a.tenant.id])).toHaveLength(1);
  });

  it('is gone after a SQL error inside the transaction', async () => {
    const { a } = await twoTenants(single);
    let inside: SessionState | undefined;
    const error = await single
      .withTenant(a.tenant.id, async (tx) => {
        inside = await readInside(tx);
        await tx.execute(sql`SELECT 1 / 0`);
      })
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe('22012'); // division_by_zero
    await expectNoLeak(inside!.pid);
  });

  it('does not report success when the body swallowed a SQL error (the COMMIT became a ROLLBACK)', async () => {
    const { a } = await twoTenants(single);
    let inside: SessionState | undefined;
    const error = await single
      .withTenant(a.tenant.id, async (tx) => {
        inside = await readInside(tx);
        await tx.delete(memberships);
        await tx.execute(sql`SELECT 1 / 0`).catch(() => undefined); // the transaction is now aborted
        return 'done';
      })
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe('25P02'); // in_failed_sql_transaction, in both modes
    expect(await t.admin.query(`SELECT 1 FROM memberships WHERE tenant_id = $1`, [a.tenant.id])).toHaveLength(1);
    await expectNoLeak(inside!.pid);
  });

  it('keeps the context inside nested savepoints, and after one rolls back', async () => {
    const { a, b } = await twoTenants(single);
    const seen = await single.withTenant(a.tenant.id, async (tx) => {
      const nested = await tx.transaction(async (savepoint) => readInside(savepoint as unknown as Tx));
      // A savepoint that changes the context and fails must restore the outer context on rollback.
      await tx
        .transaction(async (savepoint) => {
          await savepoint.execute(sql`SELECT set_config('app.tenant_id', ${b.tenant.id}, true)`);
          throw new Error('undo');
        })
        .catch(() => undefined);
      const after = await readInside(tx);
      const rows = await tx.select({ userId: memberships.userId }).from(memberships);
      return { nested, after, rows };
    });
    expect(seen.nested).toMatchObject({ tenant: a.tenant.id, members: 1 });
    expect(seen.after).toMatchObject({ tenant: a.tenant.id, members: 1 });
    expect(seen.rows).toEqual([{ userId: a.user.id }]);
    await expectNoLeak(seen.after.pid);
  });

  it('refuses a malformed tenant id before touching the database', async () => {
    const body = vi.fn(async () => 'ran');
    const error = await single.withTenant("00000000-0000-0000-0000-000000000000'; RESET ROLE; --", body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect(body).not.toHaveBeenCalled();
    const session = await readSession();
    expect(session.role).toBe(t.config.database.appRole);
  });
});

describe.runIf(!!process.env.DATABASE_URL)('round trips on PostgreSQL', () => {
  const queryText = (args: unknown[]) => {
    const first = args[0];
    return typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text ?? String(first);
  };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Every client.query issued on the connection (by backend pid) that ran `body`. */
  async function recordQueries(body: (database: Database) => Promise<number>): Promise<string[]> {
    const spy = vi.spyOn(pg.Client.prototype, 'query');
    const pid = await body(single);
    const calls = spy.mock.calls.map((args, i) => ({ client: spy.mock.contexts[i] as { processID?: number }, text: queryText(args) }));
    spy.mockRestore();
    return calls.filter((call) => call.client.processID === pid).map((call) => call.text);
  }

  it('sends the tenant context with BEGIN: a one-statement unit of work is three messages, like a plain transaction', async () => {
    const { a } = await twoTenants(single);
    await single.ping(); // connect outside the measurement

    const withContext = await recordQueries((database) =>
      database.withTenant(a.tenant.id, async (tx) => (await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid),
    );
    expect(withContext).toHaveLength(3);
    expect(withContext[0]).toMatch(/^BEGIN;/);
    expect(withContext[0]).toContain(`set_config('app.tenant_id', '${a.tenant.id}', true)`);
    expect(withContext[0]).toContain(`SET LOCAL ROLE ${t.config.database.appRole}`);
    expect(withContext[1]).toContain('pg_backend_pid()');
    expect(withContext[2]).toBe('COMMIT');

    const withoutContext = await recordQueries((database) =>
      database.transaction({}, async (tx) => (await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid),
    );
    expect(withoutContext).toHaveLength(withContext.length);
  });

  it('rolls back with one more message and no extra context reset', async () => {
    const { a } = await twoTenants(single);
    let pid = 0;
    const calls = await recordQueries(async (database) => {
      await database
        .withTenant(a.tenant.id, async (tx) => {
          pid = (await tx.execute<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
          throw new Error('undo');
        })
        .catch(() => undefined);
      return pid;
    });
    expect(calls).toHaveLength(3);
    expect(calls[2]).toBe('ROLLBACK');
  });
});

describe.runIf(!process.env.DATABASE_URL)('the single PGlite connection', () => {
  it('refuses, instead of hanging on, a query that bypasses the open unit of work', async () => {
    const { a } = await twoTenants(t.platform.db);
    const db = t.platform.db;
    const attempts = await db.withTenant(a.tenant.id, async () => {
      const message = (e: unknown) => (e as Error).message;
      return {
        nested: await db.transaction({}, async () => 'ran').catch(message),
        session: await db.executor.executeSql('SELECT 1').catch(message),
        // pg-boss through the session rather than the transaction's executor.
        job: await t.platform.jobs.send('dead_letter', { n: 1 }).catch(message),
      };
    });
    expect(attempts).toEqual({
      nested: expect.stringContaining('would wait forever'),
      session: expect.stringContaining('would wait forever'),
      job: expect.stringContaining('would wait forever'),
    });
    expect((await db.executor.executeSql('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });

  it('lets work started inside a unit of work use the database once that unit of work has ended', async () => {
    const { a } = await twoTenants(t.platform.db);
    const db = t.platform.db;
    let resume!: () => void;
    const ended = new Promise<void>((resolve) => (resume = resolve));
    let later: Promise<unknown> | undefined;
    await db.withTenant(a.tenant.id, async () => {
      later = ended.then(() => db.transaction({}, async (tx) => (await tx.execute(sql`SELECT 1 AS n`)).rows));
    });
    resume();
    expect(await later).toEqual([{ n: 1 }]);
  });
});

describe('unitOfWorkPrelude', () => {
  const tenantId = uuidv7();
  const userId = uuidv7();

  it('sets the role and both context values transaction-locally in one batch', () => {
    const prelude = unitOfWorkPrelude('atrium_app', { tenantId, userId });
    expect(prelude).toBe(
      `SET LOCAL ROLE atrium_app; SELECT set_config('app.tenant_id', '${tenantId}', true), set_config('app.user_id', '${userId}', true)`,
    );
  });

  it('clears both values when there is no context (so nothing can be inherited)', () => {
    for (const context of [{}, { tenantId: null, userId: null }]) {
      expect(unitOfWorkPrelude('atrium_app', context)).toContain(`set_config('app.tenant_id', '', true), set_config('app.user_id', '', true)`);
    }
  });

  it('rejects tenant and user ids that are not UUIDs', () => {
    for (const bad of ["'; RESET ROLE; --", 'tenant-a', '1', `${tenantId} `, `${tenantId}'`]) {
      expect(() => unitOfWorkPrelude('atrium_app', { tenantId: bad })).toThrow(TypeError);
      expect(() => unitOfWorkPrelude('atrium_app', { tenantId, userId: bad })).toThrow(TypeError);
    }
  });

  it('rejects role names that are not plain lowercase identifiers', () => {
    for (const bad of ['', 'Atrium', 'atrium app', 'app; RESET ROLE', '"app"', '1app', 'app-role']) {
      expect(() => unitOfWorkPrelude(bad, { tenantId })).toThrow(TypeError);
    }
    expect(() => unitOfWorkPrelude('_app_2', { tenantId })).not.toThrow();
  });
});
