/**
 * The database: one interface over a `pg` pool (production) and PGlite (embedded default).
 *
 * Every unit of work is one transaction that runs as the app role with the tenant context set
 * transaction-locally (DESIGN §5). The role switch and the context travel in the same simple-protocol
 * message as BEGIN, so they cost no extra round trip.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PGlite, Transaction as PgliteClientTransaction } from '@electric-sql/pglite';
import type { PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { PgDialect } from 'drizzle-orm/pg-core';
import { NodePgSession, NodePgTransaction } from 'drizzle-orm/node-postgres';
import { PgliteSession, PgliteTransaction } from 'drizzle-orm/pglite';
import pg from 'pg';
import { executionContext } from '../context.js';
import { isUuid } from './ids.js';
import { platformRoleName } from './roles.js';

/** Query results of both drivers expose `rows` (and usually a count of affected rows). */
export interface QueryResultHKT extends PgQueryResultHKT {
  readonly type: QueryResult<this['row']>;
}

export interface QueryResult<Row> {
  rows: Row[];
  rowCount?: number | null;
  affectedRows?: number;
}

/** The transaction handle services and repositories receive. */
export type Tx = PgTransaction<QueryResultHKT>;

/**
 * The body of a unit of work. `executor` runs raw SQL on the same transaction, for libraries that take
 * SQL text (pg-boss enqueueing inside the transaction).
 */
export type TransactionBody<T> = (tx: Tx, executor: SqlExecutor) => Promise<T>;

export interface UnitOfWorkContext {
  /** The tenant whose rows this unit of work may see; absent: tenant tables return nothing. */
  tenantId?: string | null;
  /** The acting person, for the few policies keyed on the user (their own memberships). */
  userId?: string | null;
  /**
   * A read across tenants: runs as the platform role, which reads every tenant and writes nothing
   * (src/core/db/roles.ts). Only platform administration and sweeps that find work across tenants (the
   * subscription clock) ask for it.
   */
  platform?: boolean;
}

/** Minimal executor for pg-boss and other raw-SQL consumers. */
export interface SqlExecutor {
  /**
   * `options.name` makes it a named prepared statement on PostgreSQL: parsed and planned once per
   * connection, for the statements every request runs (authentication). The text must never vary under
   * one name. PGlite ignores it.
   */
  executeSql(text: string, values?: unknown[], options?: { name?: string }): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /** One transaction as the app role with `context` set transaction-locally. */
  transaction<T>(context: UnitOfWorkContext, fn: TransactionBody<T>): Promise<T>;
  /** Shorthand for a unit of work scoped to one tenant. */
  withTenant<T>(tenantId: string, fn: TransactionBody<T>): Promise<T>;
  /** Raw SQL outside a unit of work (as the runtime login; used by pg-boss and health checks). */
  readonly executor: SqlExecutor;
  ping(): Promise<void>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

const dialect = new PgDialect();

type Rows = { rows: Record<string, unknown>[] };

/** Multi-statement text answers an array of results; callers (pg-boss) read the last one. */
function lastRows(result: Rows | Rows[]): Rows {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  return { rows: last?.rows ?? [] };
}

/** Raw SQL through a `pg` client or pool (multi-statement text allowed when there are no values). */
export function pgExecutor(client: Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>): SqlExecutor {
  return {
    executeSql: async (text, values, options) =>
      lastRows((await (options?.name ? client.query({ name: options.name, text, values: values as unknown[] }) : client.query(text, values as unknown[]))) as Rows | Rows[]),
  };
}

/** PGlite runs parameterised text with `query` and multi-statement text with `exec`. */
export function pgliteExecutor(client: Pick<PGlite, 'query' | 'exec'>): SqlExecutor {
  return {
    executeSql: async (text, values) =>
      values && values.length > 0 ? { rows: (await client.query<Record<string, unknown>>(text, values)).rows } : lastRows(await client.exec(text)),
  };
}

/** Builds the statements that open a unit of work; every interpolated value is validated first. */
export function unitOfWorkPrelude(appRole: string, context: UnitOfWorkContext): string {
  const tenantId = context.tenantId ?? '';
  const userId = context.userId ?? '';
  if (tenantId !== '' && !isUuid(tenantId)) throw new TypeError('tenantId must be a UUID');
  if (userId !== '' && !isUuid(userId)) throw new TypeError('userId must be a UUID');
  if (!/^[a-z_][a-z0-9_]*$/.test(appRole)) throw new TypeError('invalid role name');
  if (context.platform) {
    if (tenantId !== '') throw new TypeError('a platform unit of work acts in no tenant');
    return `SET LOCAL ROLE ${platformRoleName(appRole)}; SELECT set_config('app.tenant_id', '', true), set_config('app.user_id', '${userId}', true)`;
  }
  return `SET LOCAL ROLE ${appRole}; SELECT set_config('app.tenant_id', '${tenantId}', true), set_config('app.user_id', '${userId}', true)`;
}

/** The error PGlite raises when COMMIT turned into ROLLBACK; PostgreSQL mode raises the same. */
function transactionRolledBack(): Error {
  return Object.assign(new Error('Transaction was rolled back instead of committed'), { code: '25P02' });
}

async function runBeforeCommit(tx: Tx): Promise<void> {
  const hook = executionContext.current()?.beforeCommit;
  if (hook) await hook(tx);
}

/** Production mode: a `pg` pool that logs in as the app role. */
export function createPostgresDatabase(options: { connectionString: string; poolMax: number; appRole: string; onError?: (error: Error) => void }): Database {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolMax, application_name: 'atrium' });
  pool.on('error', (error) => options.onError?.(error));

  const transaction = async <T>(context: UnitOfWorkContext, fn: TransactionBody<T>): Promise<T> => {
    const prelude = `BEGIN; ${unitOfWorkPrelude(options.appRole, context)}`;
    const client = await pool.connect();
    // A connection whose BEGIN or ROLLBACK failed is in an unknown state: discard it rather than pool it.
    let discard: Error | undefined;
    try {
      await client.query(prelude).catch((error: Error) => {
        discard = error;
        throw error;
      });
      const tx = new NodePgTransaction(dialect, new NodePgSession(client, dialect, undefined), undefined) as unknown as Tx;
      let result: T;
      let commit: pg.QueryResult;
      try {
        result = await fn(tx, pgExecutor(client));
        await runBeforeCommit(tx);
        commit = await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          discard = rollbackError;
        });
        throw error;
      }
      // A SQL error the body caught leaves the transaction aborted, and PostgreSQL answers the COMMIT
      // with ROLLBACK and no error: report it (as PGlite does) rather than return success for undone work.
      if (commit.command === 'ROLLBACK') throw transactionRolledBack();
      return result;
    } finally {
      client.release(discard);
    }
  };

  return {
    kind: 'postgres',
    transaction,
    withTenant: (tenantId, fn) => transaction({ tenantId }, fn),
    executor: pgExecutor(pool),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/**
 * Embedded mode: PGlite is one connection, so its own transaction mutex serialises units of work.
 * Outside units of work the session runs as the app role too (set after migrations), so pg-boss and
 * health checks have the same privileges as in production.
 */
export function createPgliteDatabase(options: { pglite: PGlite; appRole: string }): Database {
  const { pglite } = options;

  // PGlite has one connection: anything that queries it from inside a unit of work other than through
  // that unit of work (a nested unit of work, `db.executor`, pg-boss `jobs.send` without `db`) waits for
  // the very transaction it is part of, and the process hangs for good. PostgreSQL would quietly take a
  // second pooled connection instead, so fail fast with the fix in the message.
  const unitOfWork = new AsyncLocalStorage<{ open: boolean }>();
  const refuseInsideUnitOfWork = (what: string) => {
    if (unitOfWork.getStore()?.open) {
      throw new Error(
        `${what} inside a unit of work would wait forever on PGlite's single connection; use the unit of work's tx or executor (e.g. jobs.send(..., { db: executor }))`,
      );
    }
  };
  const sessionExecutor = pgliteExecutor(pglite);

  // async, so a context that fails validation rejects the promise rather than throwing synchronously
  // (callers chain .catch(), and the PostgreSQL implementation behaves the same).
  const transaction = async <T>(context: UnitOfWorkContext, fn: TransactionBody<T>): Promise<T> => {
    refuseInsideUnitOfWork('A nested unit of work');
    const prelude = unitOfWorkPrelude(options.appRole, context);
    return pglite.transaction(async (client: PgliteClientTransaction) => {
      await client.exec(prelude);
      const session = new PgliteSession(client, dialect, undefined);
      const tx = new PgliteTransaction(dialect, session, undefined) as unknown as Tx;
      // Closed when the transaction ends, so work the body left running may use the database later.
      const scope = { open: true };
      try {
        return await unitOfWork.run(scope, async () => {
          const result = await fn(tx, pgliteExecutor(client));
          await runBeforeCommit(tx);
          return result;
        });
      } finally {
        scope.open = false;
      }
    });
  };

  return {
    kind: 'pglite',
    transaction,
    withTenant: (tenantId, fn) => transaction({ tenantId }, fn),
    executor: {
      executeSql: async (text, values) => {
        refuseInsideUnitOfWork('A query on the shared session');
        return sessionExecutor.executeSql(text, values);
      },
    },
    ping: async () => {
      refuseInsideUnitOfWork('A ping');
      await pglite.query('SELECT 1');
    },
    poolStats: () => ({ total: 1, idle: pglite.isInTransaction() ? 0 : 1, waiting: 0 }),
    close: async () => {
      if (!pglite.closed) await pglite.close();
    },
  };
}
