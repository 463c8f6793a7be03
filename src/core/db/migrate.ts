/**
 * Applies the schema: roles, drizzle-kit migrations (run as the owner role, so the owner owns every
 * table), grants, and pg-boss's own schema. Idempotent, and safe when several processes start at once
 * (an advisory lock serialises them).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as runPgMigrations } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as runPgliteMigrations } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { pgExecutor, pgliteExecutor } from './database.js';
import { ensureRolesSql, grantAppSql, JOB_SCHEMA, type RoleNames } from './roles.js';

export const MIGRATIONS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');

const MIGRATION_LOCK = 'atrium.migrate';

interface MigrationSession {
  exec(sql: string): Promise<void>;
  executeSql(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  runDrizzleMigrations(): Promise<void>;
}

async function applySchema(session: MigrationSession, roles: RoleNames): Promise<void> {
  await session.exec(ensureRolesSql(roles));
  await session.exec(`SET ROLE ${roles.ownerRole}`);
  try {
    await session.runDrizzleMigrations();
    await installJobSchema(session);
    await session.exec(grantAppSql(roles));
  } finally {
    await session.exec('RESET ROLE');
  }
}

/** pg-boss installs or upgrades its schema on start; run it once here, as the owner. */
async function installJobSchema(session: MigrationSession): Promise<void> {
  const boss = new PgBoss({
    db: { executeSql: (text: string, values?: unknown[]) => session.executeSql(text, values) },
    schema: JOB_SCHEMA,
    supervise: false,
    schedule: false,
    migrate: true,
  });
  boss.on('error', () => undefined);
  await boss.start();
  await boss.stop({ graceful: false, close: false, wait: true, timeout: 1000 });
}

/** Migrates a PostgreSQL database through the owner/administrator URL. */
export async function migratePostgres(connectionString: string, roles: RoleNames): Promise<void> {
  const client = new pg.Client({ connectionString, application_name: 'atrium-migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    await applySchema(
      {
        exec: async (sql) => {
          await client.query(sql);
        },
        executeSql: pgExecutor(client).executeSql,
        runDrizzleMigrations: () => runPgMigrations(drizzlePg(client), { migrationsFolder: MIGRATIONS_FOLDER }),
      },
      roles,
    );
  } finally {
    await client.end();
  }
}

/**
 * Migrates an embedded PGlite database. PGlite has a single session, so afterwards that session is
 * switched to the app role: queries outside units of work (pg-boss, health) run with app privileges.
 */
export async function migratePglite(pglite: PGlite, roles: RoleNames): Promise<void> {
  await pglite.exec('RESET ROLE');
  await applySchema(
    {
      exec: async (sql) => {
        await pglite.exec(sql);
      },
      executeSql: pgliteExecutor(pglite).executeSql,
      runDrizzleMigrations: () => runPgliteMigrations(drizzlePglite(pglite), { migrationsFolder: MIGRATIONS_FOLDER }),
    },
    roles,
  );
}

/** Switches the single PGlite session to the app role (after migrations have created it). */
export async function assumeAppRole(pglite: PGlite, appRole: string): Promise<void> {
  await pglite.exec(`SET ROLE ${appRole}`);
}
