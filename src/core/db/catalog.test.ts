/**
 * Catalog tests: the tenancy backstop (DESIGN §5, layer 3) read from the live schema. Every list is
 * queried from pg_catalog, so a table added later is checked without touching this file.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { createUser, twoTenants } from '../../../test/factories.js';
import { audit } from '../audit/audit.js';
import { emit } from '../events/events.js';
import { eventReceipts } from '../events/events.table.js';
import { PG, pgErrorCode } from './errors.js';
import { uuidv7 } from './ids.js';
import { JOB_SCHEMA, platformRoleName } from './roles.js';

let t: TestApp;
let appRole: string;
let ownerRole: string;
beforeAll(async () => {
  t = await createTestApp();
  ({ appRole, ownerRole } = t.config.database);
});
afterAll(() => t?.close());

interface TenantTable extends Record<string, unknown> {
  name: string;
  rls: boolean;
  forced: boolean;
  tenant_attnum: number;
}

/** Tables in schema public with a tenant_id column (partitions are covered by their parent). */
const listTenantTables = () =>
  t.admin.query<TenantTable>(`
    SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, a.attnum::int AS tenant_attnum
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY c.relname`);

interface Policy extends Record<string, unknown> {
  table: string;
  name: string;
  /** pg_policy.polcmd: '*' ALL, r SELECT, a INSERT, w UPDATE, d DELETE. */
  cmd: string;
  using: string | null;
  check: string | null;
  roles: string[];
}

const listPolicies = () =>
  t.admin.query<Policy>(`
    SELECT c.relname AS table, p.polname AS name, p.polcmd::text AS cmd,
      pg_get_expr(p.polqual, p.polrelid) AS using, pg_get_expr(p.polwithcheck, p.polrelid) AS check,
      ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END FROM unnest(p.polroles) r)::text[] AS roles
    FROM pg_policy p
    JOIN pg_class c ON c.oid = p.polrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public'
    ORDER BY c.relname, p.polname`);

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Whether a policy applies to the app role (directly or through PUBLIC). */
const appliesToApp = (policy: Policy) => policy.roles.includes('public') || policy.roles.includes(appRole);

describe('row-level security on tenant tables', () => {
  it('finds the core tenant tables (the catalog query itself works)', async () => {
    const names = (await listTenantTables()).map((table) => table.name);
    expect(names).toEqual(expect.arrayContaining(['audit_events', 'event_receipts', 'memberships', 'outbox_events']));
    // Global tables carry no tenant_id (DESIGN §5).
    expect(names).not.toContain('users');
    expect(names).not.toContain('tenants');
  });

  it('enables and forces RLS, with at least one policy, on every table with a tenant_id', async () => {
    const tables = await listTenantTables();
    const policies = await listPolicies();
    const problems = tables.flatMap((table) => [
      ...(table.rls ? [] : [`${table.name}: row-level security not enabled`]),
      ...(table.forced ? [] : [`${table.name}: row-level security not forced`]),
      ...(policies.some((p) => p.table === table.name) ? [] : [`${table.name}: no policy`]),
    ]);
    expect(problems).toEqual([]);
  });

  it('gives every ALL/INSERT/UPDATE policy a WITH CHECK (and ALL/UPDATE a USING)', async () => {
    const tables = new Set((await listTenantTables()).map((table) => table.name).concat('tenants'));
    const problems = (await listPolicies())
      .filter((policy) => tables.has(policy.table))
      .flatMap((policy) => [
        // INSERT policies cannot have USING; the others read existing rows, so they must filter them.
        ...(['*', 'a', 'w'].includes(policy.cmd) && !policy.check ? [`${policy.table}.${policy.name}: no WITH CHECK`] : []),
        ...(policy.cmd !== 'a' && !policy.using ? [`${policy.table}.${policy.name}: no USING`] : []),
      ]);
    expect(problems).toEqual([]);
  });

  it('keys every policy that lets the app role write on the tenant context', async () => {
    const tables = new Set((await listTenantTables()).map((table) => table.name).concat('tenants'));
    const writePolicies = (await listPolicies()).filter((policy) => tables.has(policy.table) && policy.cmd !== 'r' && appliesToApp(policy));
    expect(writePolicies.length).toBeGreaterThanOrEqual(tables.size);
    const problems = writePolicies.flatMap((policy) =>
      [policy.using, policy.check]
        .filter((expression): expression is string => expression !== null)
        .filter((expression) => !expression.includes('app_current_tenant_id()'))
        .map((expression) => `${policy.table}.${policy.name}: ${expression}`),
    );
    expect(problems).toEqual([]);
  });

  it('keys every policy the app role reads through on the tenant context too (no OR-ed person policies)', async () => {
    // A permissive policy keyed on anything else is OR-ed into every tenant query of the app role, and
    // both widens what it sees and keeps the planner off the tenant's indexes. Cross-tenant reads for one
    // person go through the person_memberships view instead.
    const tables = new Set((await listTenantTables()).map((table) => table.name).concat('tenants'));
    const problems = (await listPolicies())
      .filter((policy) => tables.has(policy.table) && appliesToApp(policy) && policy.using !== null && !policy.using.includes('app_current_tenant_id()'))
      .map((policy) => `${policy.table}.${policy.name}: ${policy.using}`);
    expect(problems).toEqual([]);
  });

  it('shows the app role, through person_memberships, only the acting person’s memberships, read-only', async () => {
    const [a, b] = [uuidv7(), uuidv7()];
    const [ann, bob] = [uuidv7(), uuidv7()];
    // One statement: the tenants' subscriptions (checked at commit) come with them.
    await t.admin.query(
      `WITH t AS (INSERT INTO tenants (id, name, slug) VALUES ($1, 'A', $3), ($2, 'B', $4) RETURNING id)
       INSERT INTO subscriptions (tenant_id, id, plan_id, status, current_period_start, current_period_end)
       SELECT t.id, uuidv7(), p.id, 'active', now(), now() + interval '1 month' FROM t, plans p WHERE p.code = 'free'`,
      [a, b, `pm-a-${a.slice(-8)}`, `pm-b-${b.slice(-8)}`],
    );
    await t.admin.query(`INSERT INTO users (id, email, name) VALUES ($1, $3, 'Ann'), ($2, $4, 'Bob')`, [ann, bob, `ann-${ann}@x.test`, `bob-${bob}@x.test`]);
    await t.admin.query(`INSERT INTO memberships (tenant_id, user_id) VALUES ($1, $3), ($2, $3), ($2, $4)`, [a, b, ann, bob]);
    const seen = await t.platform.db.transaction({ userId: ann }, (_tx, executor) => executor.executeSql('SELECT tenant_id, user_id FROM person_memberships ORDER BY tenant_id'));
    expect(seen.rows).toEqual([
      { tenant_id: a, user_id: ann },
      { tenant_id: b, user_id: ann },
    ]);
    // Without a person in context: nothing; and the app role cannot write through the view.
    expect((await t.platform.db.transaction({}, (_tx, executor) => executor.executeSql('SELECT 1 FROM person_memberships'))).rows).toEqual([]);
    await expect(t.platform.db.transaction({ userId: ann }, (_tx, executor) => executor.executeSql(`DELETE FROM person_memberships`))).rejects.toThrow();
    // The app role's own view of memberships stays tenant-only: the person context alone shows nothing.
    expect((await t.platform.db.transaction({ userId: ann }, (_tx, executor) => executor.executeSql('SELECT 1 FROM memberships'))).rows).toEqual([]);
  });

  it('forces RLS on the tenants table too', async () => {
    const [tenants] = await t.admin.query<{ rls: boolean; forced: boolean; policies: number }>(`
      SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = 'tenants'`);
    expect(tenants).toEqual({ rls: true, forced: true, policies: expect.any(Number) });
    expect(tenants!.policies).toBeGreaterThan(0);
  });
});

describe('roles', () => {
  it('runs the app as a role that is neither superuser nor BYPASSRLS, and can become only the read-only platform role', async () => {
    const [role] = await t.admin.query(`SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = $1`, [appRole]);
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false });
    // A member of the owner (or of any privileged role) could SET ROLE to it and step around RLS.
    const memberOf = await t.admin.query(`SELECT rolname FROM pg_roles WHERE rolname <> $1 AND pg_has_role($1, oid, 'MEMBER')`, [appRole]);
    expect(memberOf).toEqual([{ rolname: platformRoleName(appRole) }]);
    // ...which it does not inherit: the platform role's policies never apply to a tenant query.
    const [inherits] = await t.admin.query(`SELECT pg_has_role($1, $2, 'USAGE') AS usage`, [appRole, platformRoleName(appRole)]);
    expect(inherits).toEqual({ usage: false });
  });

  it('gives the platform role reads of every table and no write, and no privileged attribute', async () => {
    const platformRole = platformRoleName(appRole);
    const [role] = await t.admin.query(`SELECT rolsuper, rolbypassrls, rolcanlogin, rolcreaterole FROM pg_roles WHERE rolname = $1`, [platformRole]);
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcanlogin: false, rolcreaterole: false });
    const writable = await t.admin.query(
      `SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = $1 AND table_schema = 'public' AND privilege_type <> 'SELECT'`,
      [platformRole],
    );
    expect(writable).toEqual([]);
    const platformPolicies = await t.admin.query<{ cmd: string }>(
      `SELECT DISTINCT p.polcmd::text AS cmd FROM pg_policy p WHERE $1::regrole = ANY (p.polroles)`,
      [platformRole],
    );
    expect(platformPolicies).toEqual([{ cmd: 'r' }]);
  });

  it('lets the app role own nothing and create nothing in the database', async () => {
    const owned = await t.admin.query(
      `WITH app AS (SELECT oid FROM pg_roles WHERE rolname = $1)
       SELECT 'relation' AS kind, relname::text AS name FROM pg_class WHERE relowner = (SELECT oid FROM app)
       UNION ALL SELECT 'function', proname::text FROM pg_proc WHERE proowner = (SELECT oid FROM app)
       UNION ALL SELECT 'schema', nspname::text FROM pg_namespace WHERE nspowner = (SELECT oid FROM app)
       UNION ALL SELECT 'type', typname::text FROM pg_type WHERE typowner = (SELECT oid FROM app)
       UNION ALL SELECT 'database', datname::text FROM pg_database WHERE datdba = (SELECT oid FROM app)`,
      [appRole],
    );
    expect(owned).toEqual([]);
    const creatable = await t.admin.query(
      `SELECT nspname AS schema FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' AND has_schema_privilege($1, oid, 'CREATE')`,
      [appRole],
    );
    expect(creatable).toEqual([]);
  });

  it('makes audit_events append-only for the app role', async () => {
    const [privileges] = await t.admin.query(
      `SELECT ${['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'].map((p) => `has_table_privilege($1, 'public.audit_events', '${p}') AS "${p.toLowerCase()}"`).join(', ')}`,
      [appRole],
    );
    expect(privileges).toEqual({ select: true, insert: true, update: false, delete: false, truncate: false });
  });

  it('has the owner role own every table, sequence and function of the schema and the job schema', async () => {
    const objects = await t.admin.query<{ kind: string; name: string; owner: string }>(
      `SELECT 'relation' AS kind, n.nspname || '.' || c.relname AS name, pg_get_userbyid(c.relowner)::text AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('public', $1) AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f')
       UNION ALL
       SELECT 'function', n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner)::text
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname IN ('public', $1)`,
      [JOB_SCHEMA],
    );
    expect(objects.map((o) => o.name)).toEqual(expect.arrayContaining(['public.tenants', 'public.audit_events', 'public.claim_outbox_events', `${JOB_SCHEMA}.job`]));
    expect(objects.filter((o) => o.owner !== ownerRole)).toEqual([]);
  });

  it('fixes the search_path of every SECURITY DEFINER function and never runs one as a superuser', async () => {
    const definers = await t.admin.query<{ name: string; config: string[] | null; owner_is_superuser: boolean }>(
      `SELECT n.nspname || '.' || p.proname AS name, p.proconfig::text[] AS config, r.rolsuper AS owner_is_superuser
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_roles r ON r.oid = p.proowner
       WHERE p.prosecdef AND n.nspname IN ('public', $1)`,
      [JOB_SCHEMA],
    );
    expect(definers.map((d) => d.name)).toContain('public.claim_outbox_events');
    const problems = definers.flatMap((definer) => [
      ...((definer.config ?? []).some((setting) => setting.startsWith('search_path=')) ? [] : [`${definer.name}: no fixed search_path`]),
      ...(definer.owner_is_superuser ? [`${definer.name}: owned by a superuser`] : []),
    ]);
    expect(problems).toEqual([]);
  });
});

describe('key shapes on tenant tables', () => {
  interface Constraint extends Record<string, unknown> {
    table: string;
    name: string;
    type: 'p' | 'u' | 'f';
    cols: number[];
    ref_table: string | null;
    ref_cols: number[] | null;
    tenant_attnum: number;
    ref_tenant_attnum: number | null;
    ref_id_attnum: number | null;
  }

  const listConstraints = () =>
    t.admin.query<Constraint>(`
      SELECT c.relname AS table, con.conname AS name, con.contype::text AS type, con.conkey::int[] AS cols,
        fc.relname AS ref_table, con.confkey::int[] AS ref_cols, a.attnum::int AS tenant_attnum,
        fa.attnum::int AS ref_tenant_attnum, fid.attnum::int AS ref_id_attnum
      FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      LEFT JOIN pg_class fc ON fc.oid = con.confrelid
      LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attname = 'tenant_id' AND NOT fa.attisdropped
      LEFT JOIN pg_attribute fid ON fid.attrelid = con.confrelid AND fid.attname = 'id' AND NOT fid.attisdropped
      WHERE n.nspname = 'public' AND con.contype IN ('p', 'u', 'f') AND NOT c.relispartition
      ORDER BY c.relname, con.conname`);

  interface Index extends Record<string, unknown> {
    table: string;
    name: string;
    unique: boolean;
    /** Key columns only (INCLUDE columns do not make an index usable per tenant); 0 is an expression. */
    keys: number[];
    tenant_attnum: number;
  }

  const listIndexes = () =>
    t.admin.query<Index>(`
      SELECT c.relname AS table, i.relname AS name, ix.indisunique AS unique,
        (ix.indkey::int2[])[0:ix.indnkeyatts - 1]::int[] AS keys, a.attnum::int AS tenant_attnum
      FROM pg_index ix
      JOIN pg_class i ON i.oid = ix.indexrelid
      JOIN pg_class c ON c.oid = ix.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND NOT c.relispartition
      ORDER BY c.relname, i.relname`);

  it('leads every primary key and unique constraint with tenant_id', async () => {
    const keys = (await listConstraints()).filter((con) => con.type !== 'f');
    expect(keys.filter((con) => con.type === 'p').length).toBe((await listTenantTables()).length);
    const problems = keys.filter((con) => con.cols[0] !== con.tenant_attnum).map((con) => `${con.table}.${con.name}`);
    expect(problems).toEqual([]);
  });

  it('leads every unique index (including expression and partial ones) with tenant_id', async () => {
    const unique = (await listIndexes()).filter((index) => index.unique);
    expect(unique.length).toBeGreaterThan(0);
    expect(unique.filter((index) => index.keys[0] !== index.tenant_attnum).map((index) => `${index.table}.${index.name}`)).toEqual([]);
  });

  it('includes tenant_id in every non-unique index', async () => {
    const plain = (await listIndexes()).filter((index) => !index.unique);
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.filter((index) => !index.keys.includes(index.tenant_attnum)).map((index) => `${index.table}.${index.name}`)).toEqual([]);
  });

  it('ties tenant_id to tenants(id) on every tenant table', async () => {
    const tables = await listTenantTables();
    const foreignKeys = (await listConstraints()).filter((con) => con.type === 'f');
    const missing = tables
      .filter(
        (table) =>
          !foreignKeys.some(
            (fk) => fk.table === table.name && fk.ref_table === 'tenants' && fk.cols.length === 1 && fk.cols[0] === table.tenant_attnum && fk.ref_cols?.[0] === fk.ref_id_attnum,
          ),
      )
      .map((table) => table.name);
    expect(missing).toEqual([]);
  });

  it('makes every foreign key between tenant tables composite on tenant_id, and only tenant_id may reference tenants', async () => {
    const foreignKeys = (await listConstraints()).filter((con) => con.type === 'f');
    const problems = foreignKeys.flatMap((fk) => {
      if (fk.ref_table === 'tenants') {
        // Another column pointing at tenants would be a reference into a different tenant.
        return fk.cols.length === 1 && fk.cols[0] === fk.tenant_attnum ? [] : [`${fk.table}.${fk.name}: references tenants from a column other than tenant_id`];
      }
      if (fk.ref_tenant_attnum !== null) {
        // tenant_id must be matched against the referenced row's own tenant_id, position for position.
        const position = fk.cols.indexOf(fk.tenant_attnum);
        return position >= 0 && fk.ref_cols?.[position] === fk.ref_tenant_attnum ? [] : [`${fk.table}.${fk.name}: not composite on tenant_id`];
      }
      return []; // A global table (users): it has no tenant_id to match.
    });
    expect(problems).toEqual([]);
  });
});

describe('queries without a tenant context', () => {
  it('return zero rows from every tenant table, while each tenant sees exactly its own', async () => {
    const db = t.platform.db;
    const { a, b } = await twoTenants(db);
    // Put rows in every core tenant table, for both tenants.
    for (const side of [a, b]) {
      await db.withTenant(side.tenant.id, async (tx) => {
        await audit.record(tx, { actor: { type: 'user', id: side.user.id }, action: 'catalog.tested' });
        const eventId = await emit(tx, { type: 'catalog.tested', tenantId: side.tenant.id, payload: {} });
        await tx.insert(eventReceipts).values({ tenantId: side.tenant.id, consumer: 'catalog-test', eventId });
      });
    }
    const stranger = await createUser(db);

    const tables = [...(await listTenantTables()).map((table) => table.name), 'tenants'];
    const tenantColumn = (table: string) => (table === 'tenants' ? 'id' : 'tenant_id');
    const populated: string[] = [];
    for (const table of tables) {
      const count = `SELECT count(*)::int AS n FROM ${quoteIdent(table)}`;
      const ownRows = `SELECT count(*)::int AS n FROM ${quoteIdent(table)} WHERE ${tenantColumn(table)} = $1`;
      const [[seenByAdminA], [seenByAdminB]] = [await t.admin.query<{ n: number }>(ownRows, [a.tenant.id]), await t.admin.query<{ n: number }>(ownRows, [b.tenant.id])];
      if (seenByAdminA!.n > 0 && seenByAdminB!.n > 0) populated.push(table);

      // A unit of work with no context; one with only a user who belongs nowhere; raw SQL outside any
      // unit of work (the context was never set on that path, or was cleared by an earlier COMMIT).
      const noContext = await db.transaction({}, (tx) => tx.execute<{ n: number }>(sql.raw(count)));
      expect({ table, n: noContext.rows[0]!.n }).toEqual({ table, n: 0 });
      const userOnly = await db.transaction({ userId: stranger.id }, (tx) => tx.execute<{ n: number }>(sql.raw(count)));
      expect({ table, n: userOnly.rows[0]!.n }).toEqual({ table, n: 0 });
      const raw = await db.executor.executeSql(count);
      expect({ table, n: raw.rows[0]!.n }).toEqual({ table, n: 0 });

      for (const [side, expected] of [
        [a, seenByAdminA!.n],
        [b, seenByAdminB!.n],
      ] as const) {
        const seen = await db.withTenant(side.tenant.id, (tx) =>
          tx.execute<{ total: number; own: number }>(sql.raw(`SELECT count(*)::int AS total, count(*) FILTER (WHERE ${tenantColumn(table)} = '${side.tenant.id}')::int AS own FROM ${quoteIdent(table)}`)),
        );
        expect({ table, ...seen.rows[0] }).toEqual({ table, total: expected, own: expected });
      }
    }
    // The loop above proved something only for tables that hold rows of both tenants.
    expect(populated).toEqual(expect.arrayContaining(['audit_events', 'event_receipts', 'memberships', 'outbox_events', 'tenants']));
  });

  it('cannot insert a row for an existing tenant without a tenant context', async () => {
    const { a } = await twoTenants(t.platform.db);
    const eventId = uuidv7();
    const error = await t.platform.db
      .transaction({}, (tx) => tx.insert(eventReceipts).values({ tenantId: a.tenant.id, consumer: 'catalog-test', eventId }))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.insufficientPrivilege); // new row violates row-level security policy
    expect(await t.admin.query(`SELECT 1 FROM event_receipts WHERE event_id = $1`, [eventId])).toEqual([]);
  });
});
