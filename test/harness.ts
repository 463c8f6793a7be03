/**
 * Builds a real Atrium app for a test file: on a private copy of the migrated database (PGlite by
 * default, PostgreSQL when DATABASE_URL is set), with real jobs and, when REDIS_URL is set, real Redis.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { inject } from 'vitest';
import { buildApp, type BuildAppOptions } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import type { Platform } from '../src/core/platform.js';
import { adminQuery } from './global-setup.js';

export interface TestApp {
  app: FastifyInstance;
  platform: Platform;
  config: Config;
  /** Superuser access to the same database, for assertions that must see past RLS. */
  admin: AdminSql;
  close(): Promise<void>;
}

export interface AdminSql {
  query<T extends Record<string, unknown> = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
}

let appCounter = 0;

/**
 * Environment for a test app: the machine's env (DATABASE_URL, REDIS_URL) plus quiet defaults. Each app
 * counts in Redis under its own key prefix, so rate limits and attempt counters never carry over from
 * another test file or an earlier run (every injected request comes from the same address).
 */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RUN_WORKER: 'false',
    // Tenants start on Enterprise, active (no limit, every feature): tests about plans choose theirs.
    BILLING_SIGNUP_PLAN: 'enterprise',
    BILLING_SIGNUP_TRIAL_DAYS: '0',
    REDIS_KEY_PREFIX: `atrium-test:${process.pid}-${++appCounter}-${randomBytes(3).toString('hex')}:`,
    ...overrides,
  });
}

let databaseCounter = 0;

/** A fresh database for this file: a PGlite loaded from the snapshot, or a clone of the template. */
export async function createTestDatabase(config: Config): Promise<{ pglite?: PGlite; url?: string; admin: AdminSql; drop(): Promise<void> }> {
  const template = inject('postgresTemplate');
  if (!template) {
    const snapshot = fs.readFileSync(inject('pgliteSnapshot'));
    const pglite = await PGlite.create({ loadDataDir: new Blob([snapshot]) });
    const admin: AdminSql = {
      // PGlite has one session, switched to the app role after migrations; assertions run as the
      // bootstrap superuser inside their own transaction and switch back.
      query: async (text, values) =>
        pglite.transaction(async (tx) => {
          await tx.exec('SET LOCAL ROLE postgres');
          return (await tx.query<never>(text, values)).rows;
        }),
    };
    return { pglite, admin, drop: async () => undefined };
  }

  const name = `atrium_test_${inject('testRunId')}_${process.pid}_${++databaseCounter}_${randomBytes(3).toString('hex')}`;
  const server = new URL(config.database.url!);
  await adminQuery(server.toString(), `CREATE DATABASE ${name} TEMPLATE ${template}`);
  const url = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // DROP DATABASE … WITH (FORCE) terminates connections still closing (57P01); that is the point of it.
  pool.on('error', (error: Error & { code?: string }) => {
    if (error.code !== '57P01') throw error;
  });
  return {
    url,
    admin: { query: async (text, values) => (await pool.query(text, values)).rows },
    drop: async () => {
      await pool.end();
      await adminQuery(server.toString(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Builds the app on a fresh database. Call `close()` in afterAll. */
export async function createTestApp(
  overrides: Record<string, string | undefined> = {},
  options: Pick<BuildAppOptions, 'configure' | 'logger' | 'onRoute'> = {},
): Promise<TestApp> {
  const baseConfig = testConfig(overrides);
  const database = await createTestDatabase(baseConfig);
  const config: Config = database.url ? { ...baseConfig, database: { ...baseConfig.database, url: database.url, appUrl: undefined } } : baseConfig;
  const app = await buildApp(config, { ...options, pglite: database.pglite, migrate: false });
  await app.ready();
  return {
    app,
    platform: app.platform,
    config,
    admin: database.admin,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

/**
 * A second app on `t`'s database, as another process would be: on PostgreSQL its own pool and caches; on
 * PGlite (one process owns it) the same database handle, with caches of its own. For proofs that a change
 * made through one app is seen by the other at its next request. Call `close()` on it.
 */
export async function createSecondApp(t: TestApp, options: Pick<BuildAppOptions, 'configure'> = {}): Promise<FastifyInstance> {
  const other = t.config.database.url ? await buildApp(t.config, { ...options, migrate: false }) : await buildApp(t.config, { ...options, platform: t.platform });
  await other.ready();
  return other;
}
