/**
 * Migrates once per test run, then every test file starts from a copy:
 * - PGlite (default): a migrated data directory is dumped to a tarball that each file loads (~0.5 s
 *   instead of booting and migrating, ~5 s).
 * - PostgreSQL (DATABASE_URL set): a migrated template database that each file clones with
 *   CREATE DATABASE … TEMPLATE; everything created is dropped at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../src/config.js';
import { migratePglite, migratePostgres } from '../src/core/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
    postgresTemplate: string;
    testRunId: string;
  }
}

export async function adminQuery(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  const config = loadConfig(process.env);
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  project.provide('testRunId', runId);

  if (!config.database.url) {
    const pglite = await PGlite.create();
    await migratePglite(pglite, config.database);
    const dump = await pglite.dumpDataDir('none');
    await pglite.close();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-test-'));
    const snapshot = path.join(dir, 'migrated.tar');
    fs.writeFileSync(snapshot, Buffer.from(await dump.arrayBuffer()));
    project.provide('pgliteSnapshot', snapshot);
    project.provide('postgresTemplate', '');
    return () => fs.rmSync(dir, { recursive: true, force: true });
  }

  const template = `atrium_test_${runId}_tpl`;
  const server = new URL(config.database.url);
  const templateUrl = Object.assign(new URL(server), { pathname: `/${template}` }).toString();
  await adminQuery(server.toString(), `CREATE DATABASE ${template}`);
  await migratePostgres(templateUrl, config.database);
  project.provide('pgliteSnapshot', '');
  project.provide('postgresTemplate', template);

  return async () => {
    const client = new pg.Client({ connectionString: server.toString() });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`atrium_test_${runId}_%`]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
}
