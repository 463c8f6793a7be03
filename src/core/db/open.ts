import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Config } from '../../config.js';
import { lockDataDir } from './data-dir-lock.js';
import { createPgliteDatabase, createPostgresDatabase, type Database } from './database.js';
import { assumeAppRole, migratePglite, migratePostgres } from './migrate.js';

export interface OpenDatabaseOptions {
  /** Use this PGlite instance instead of the one under DATA_DIR (tests load a migrated snapshot). */
  pglite?: PGlite;
  /** Apply migrations before returning (default: config.database.migrateOnStart). */
  migrate?: boolean;
  onPoolError?: (error: Error) => void;
}

/** The URL the runtime logs in with: DATABASE_APP_URL, or DATABASE_URL re-targeted at the app role. */
export function appConnectionString(config: Config): string {
  const { url, appUrl, appRole, appPassword } = config.database;
  if (appUrl) return appUrl;
  if (!url) throw new Error('DATABASE_URL is not set');
  const target = new URL(url);
  target.username = appRole;
  target.password = appPassword ?? '';
  return target.toString();
}

/** Opens the configured database (PostgreSQL, or PGlite under DATA_DIR with its lock file). */
export async function openDatabase(config: Config, options: OpenDatabaseOptions = {}): Promise<Database> {
  const roles = config.database;
  const migrate = options.migrate ?? config.database.migrateOnStart;

  if (config.database.url) {
    if (migrate) await migratePostgres(config.database.url, roles);
    return createPostgresDatabase({
      connectionString: appConnectionString(config),
      poolMax: config.database.poolMax,
      appRole: roles.appRole,
      onError: options.onPoolError,
    });
  }

  let releaseLock: (() => void) | undefined;
  let pglite = options.pglite;
  if (!pglite) {
    releaseLock = lockDataDir(config.dataDir);
    try {
      pglite = await PGlite.create({ dataDir: path.join(config.dataDir, 'pgdata') });
    } catch (error) {
      releaseLock();
      throw error;
    }
  }
  if (migrate) await migratePglite(pglite, roles);
  await assumeAppRole(pglite, roles.appRole);
  const database = createPgliteDatabase({ pglite, appRole: roles.appRole });
  return {
    ...database,
    close: async () => {
      await database.close();
      releaseLock?.();
    },
  };
}
