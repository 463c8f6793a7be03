/**
 * Role-specific SQL. Role names are configurable, so this is generated here rather than written into
 * the migration files; every statement is idempotent and runs on every `atrium migrate`.
 */

export interface RoleNames {
  ownerRole: string;
  appRole: string;
  appPassword?: string;
}

/** Tables the app may append to and read, but never rewrite. */
export const APPEND_ONLY_TABLES = ['audit_events', 'platform_audit_events'] as const;

export const JOB_SCHEMA = 'pgboss';

const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * The platform administration read role (DESIGN §5: platform reads take their own path): it reads every
 * tenant's rows and writes nothing. The app role may switch to it (SET LOCAL ROLE, in platform units of
 * work only) but does not inherit it, so no policy of it ever applies to a tenant query.
 */
export const platformRoleName = (appRole: string) => `${appRole}_platform`;

/**
 * Run by the migration login (an administrator, or the owner role itself) before migrations: creates the
 * two roles when missing and gives the owner what it needs to own the schema. Tolerates logins that may
 * not create roles when the roles already exist.
 */
export function ensureRolesSql({ ownerRole, appRole, appPassword }: RoleNames): string {
  const password = appPassword ? `PASSWORD ${literal(appPassword)}` : '';
  return `
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(ownerRole)}) THEN
    BEGIN
      CREATE ROLE ${ownerRole} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created concurrently
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(appRole)}) THEN
    BEGIN
      CREATE ROLE ${appRole} LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(platformRoleName(appRole))}) THEN
    BEGIN
      CREATE ROLE ${platformRoleName(appRole)} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  BEGIN
    -- Re-asserted every time: the app role must never gain these, whoever created it. NOINHERIT: it is a
    -- member of the platform role only to switch to it explicitly.
    ALTER ROLE ${appRole} LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION ${password};
    ALTER ROLE ${platformRoleName(appRole)} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    IF current_setting('server_version_num')::int >= 160000 THEN
      EXECUTE format('GRANT %I TO %I WITH INHERIT FALSE, SET TRUE', ${literal(platformRoleName(appRole))}, ${literal(appRole)});
    ELSE
      EXECUTE format('GRANT %I TO %I', ${literal(platformRoleName(appRole))}, ${literal(appRole)});
    END IF;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot alter role ${appRole} as %; make sure it is not superuser or BYPASSRLS', current_user;
  END;
  IF current_user <> ${literal(ownerRole)} AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT %I TO %I', ${literal(ownerRole)}, current_user);
  END IF;
  BEGIN
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', current_database(), ${literal(ownerRole)});
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), ${literal(appRole)});
    GRANT USAGE, CREATE ON SCHEMA public TO ${ownerRole};
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'database grants skipped: % may not grant them (assumed already in place)', current_user;
  END;
END
$roles$;`;
}

/** Run as the owner after migrations: what the app role may do, and the owner's narrow cross-tenant policies. */
export function grantAppSql({ ownerRole, appRole }: RoleNames): string {
  const platformRole = platformRoleName(appRole);
  const appendOnly = APPEND_ONLY_TABLES.join(', ');
  return `
GRANT USAGE ON SCHEMA public TO ${appRole};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${appRole};
REVOKE UPDATE, DELETE, TRUNCATE ON ${appendOnly} FROM ${appRole};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${appRole};
REVOKE ALL ON FUNCTION claim_outbox_events(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_outbox_events(integer) TO ${appRole};
DROP POLICY IF EXISTS outbox_events_relay ON outbox_events;
CREATE POLICY outbox_events_relay ON outbox_events TO ${ownerRole} USING (true) WITH CHECK (true);
-- The person_memberships view runs as the owner: these let it (and only it) see the acting person's own
-- memberships and their tenants across tenants, read-only.
REVOKE INSERT, UPDATE, DELETE ON person_memberships FROM ${appRole};
DROP POLICY IF EXISTS memberships_person_read ON memberships;
CREATE POLICY memberships_person_read ON memberships FOR SELECT TO ${ownerRole} USING (user_id = (SELECT app_current_user_id()));
DROP POLICY IF EXISTS tenants_person_read ON tenants;
CREATE POLICY tenants_person_read ON tenants FOR SELECT TO ${ownerRole}
  USING (EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = tenants.id AND m.user_id = (SELECT app_current_user_id())));

-- The platform read role: reads every table, through one read-only policy per RLS table.
GRANT USAGE ON SCHEMA public TO ${platformRole};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${platformRole};
DO $platform$
DECLARE t record;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON %I', t.relname || '_platform_read', t.relname);
    EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO %I USING (true)', t.relname || '_platform_read', t.relname, ${literal(platformRole)});
  END LOOP;
END
$platform$;

GRANT USAGE ON SCHEMA ${JOB_SCHEMA} TO ${appRole};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${JOB_SCHEMA} TO ${appRole};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${JOB_SCHEMA} TO ${appRole};
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ${JOB_SCHEMA} TO ${appRole};
ALTER DEFAULT PRIVILEGES FOR ROLE ${ownerRole} IN SCHEMA ${JOB_SCHEMA} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${appRole};
-- pg-boss creates one partition table per queue. The app role owns nothing, so queue creation runs as the
-- owner through these two functions (fixed search_path), and new partitions inherit the grants above.
ALTER FUNCTION ${JOB_SCHEMA}.create_queue(text, json) SECURITY DEFINER SET search_path = pg_catalog, ${JOB_SCHEMA};
ALTER FUNCTION ${JOB_SCHEMA}.delete_queue(text) SECURITY DEFINER SET search_path = pg_catalog, ${JOB_SCHEMA};`;
}
