/**
 * The route-security matrix (DESIGN §5): for one route, every way a caller can be wrong — no credential,
 * a malformed or expired token, another tenant's token, a missing permission, a suspended tenant, a
 * deactivated member, a revoked API key — must get the expected status, and no row of the victim tenant
 * may change. Later issues add the credential-dependent cases through `cases`.
 */
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { SignJWT } from 'jose';
import { expect, it } from 'vitest';
import { uuidv7 } from '../src/core/db/ids.js';
import type { Tx } from '../src/core/db/database.js';
import { memberships, tenants, users, type MembershipRole } from '../src/core/tenancy/tenancy.table.js';
import { sessions } from '../src/modules/identity/identity.table.js';
import { addMembership, bearer, createPerson, createTenantFor, signedInOwner as signedInTenantOwner, signedInPlatformAdmin, signInAs } from './auth.js';
import type { AdminSql } from './harness.js';

export interface RouteUnderTest {
  method: NonNullable<InjectOptions['method']>;
  url: string;
  payload?: unknown;
}

export interface MatrixCase {
  name: string;
  /** Headers that carry this case's credential (none for "no credential"). */
  headers: () => Promise<Record<string, string>> | Record<string, string>;
  status: number;
  code?: string;
}

/** Cases every non-public route must pass before any identity exists. */
export const baseCases: MatrixCase[] = [
  { name: 'no credential', headers: () => ({}), status: 401, code: 'auth.unauthenticated' },
  { name: 'malformed bearer token', headers: () => ({ authorization: 'Bearer not-a-token' }), status: 401, code: 'auth.unauthenticated' },
  { name: 'wrong scheme', headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }), status: 401, code: 'auth.unauthenticated' },
];

/**
 * A signed-in owner of a fresh tenant whose access token has already been verified (so it sits in the
 * verified-token cache: the cases below prove the cache never outlives the session or the person).
 */
async function signedInOwner(app: FastifyInstance) {
  const person = await createPerson(app);
  const tenant = await createTenantFor(app, person);
  const login = await signInAs(app, person, tenant.id);
  const claims = await app.accessTokens.verify(login.accessToken);
  return { person, tenant, login, claims };
}

/**
 * Cases every route that needs a signed-in person must pass: a genuinely signed token of a live session
 * that has expired, a token whose session was revoked, and a token of a person since disabled. All 401.
 */
export function sessionCases(getApp: () => FastifyInstance): MatrixCase[] {
  return [
    {
      name: 'expired access token (live session)',
      headers: async () => {
        const app = getApp();
        const { claims } = await signedInOwner(app);
        const { kid, privateKey } = app.keyRing.activeKey();
        const now = Math.floor(Date.now() / 1000);
        const expired = await new SignJWT({ tid: claims.tid, sid: claims.sid, typ: 'access' })
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
          .setIssuer(claims.iss)
          .setAudience(claims.aud)
          .setSubject(claims.sub)
          .setJti(uuidv7())
          .setIssuedAt(now - 2000)
          .setExpirationTime(now - 1000)
          .sign(privateKey);
        return bearer(expired);
      },
      status: 401,
      code: 'auth.unauthenticated',
    },
    {
      name: 'revoked session',
      headers: async () => {
        const app = getApp();
        const { login, claims } = await signedInOwner(app);
        await app.platform.db.transaction({}, (tx) => tx.update(sessions).set({ revokedAt: new Date(), revokedReason: 'revoked' }).where(eq(sessions.id, claims.sid)));
        return bearer(login.accessToken);
      },
      status: 401,
      code: 'auth.unauthenticated',
    },
    {
      name: 'disabled user',
      headers: async () => {
        const app = getApp();
        const { person, login } = await signedInOwner(app);
        await app.platform.db.transaction({}, (tx) => tx.update(users).set({ status: 'disabled' }).where(eq(users.id, person.id)));
        return bearer(login.accessToken);
      },
      status: 401,
      code: 'auth.unauthenticated',
    },
  ];
}

/** A signed-in member of a fresh tenant (owned by someone else), with their membership and tenant ids. */
async function signedInMember(app: FastifyInstance, role: MembershipRole) {
  const owner = await createPerson(app);
  const tenant = await createTenantFor(app, owner);
  const person = role === 'owner' ? owner : await createPerson(app);
  if (role !== 'owner') await addMembership(app, tenant.id, person, role);
  const login = await signInAs(app, person, tenant.id);
  return { person, tenant, login };
}

/**
 * Cases every tenant-scoped route (a `permission` other than `self`) must pass: a member whose role lacks
 * the permission (403 `auth.forbidden`, when `lacking` names such a role), and a token whose membership
 * was deactivated, whose tenant was suspended, or whose tenant was closed (403
 * `auth.tenant_access_revoked`) — each changed after the token was issued, so access ends at once.
 */
export function tenantCases(getApp: () => FastifyInstance, options: { lacking?: Exclude<MembershipRole, 'owner'> } = {}): MatrixCase[] {
  const revoked = (name: string, role: MembershipRole, change: (tx: Tx, tenantId: string, userId: string) => Promise<unknown>): MatrixCase => ({
    name,
    headers: async () => {
      const app = getApp();
      const { person, tenant, login } = await signedInMember(app, role);
      await app.platform.db.withTenant(tenant.id, (tx) => change(tx, tenant.id, person.id));
      return bearer(login.accessToken);
    },
    status: 403,
    code: 'auth.tenant_access_revoked',
  });
  const cases: MatrixCase[] = [
    revoked('deactivated member', 'admin', (tx, tenantId, userId) =>
      tx.update(memberships).set({ status: 'deactivated' }).where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))),
    ),
    revoked('suspended tenant', 'owner', (tx, tenantId) => tx.update(tenants).set({ status: 'suspended', suspendedReason: 'test' }).where(eq(tenants.id, tenantId))),
    revoked('closed tenant', 'owner', (tx, tenantId) => tx.update(tenants).set({ status: 'closed', closedAt: new Date() }).where(eq(tenants.id, tenantId))),
  ];
  const { lacking } = options;
  if (lacking) {
    cases.unshift({
      name: `${lacking} without the permission`,
      headers: async () => bearer((await signedInMember(getApp(), lacking)).login.accessToken),
      status: 403,
      code: 'auth.forbidden',
    });
  }
  return cases;
}

/**
 * The case of a route whose path names a resource of the victim tenant: the owner of another tenant gets
 * the 404 `code` an unknown id gets (never 403: no existence oracle).
 */
export function otherTenantCase(getApp: () => FastifyInstance, code: string): MatrixCase {
  return {
    name: 'owner of another tenant (id of the victim tenant in the path)',
    headers: async () => bearer((await signedInMember(getApp(), 'owner')).login.accessToken),
    status: 404,
    code,
  };
}

/**
 * Cases every platform administration route must pass: a tenant owner without a platform role, and, for
 * a route that changes something, a read-only platform operator. Both 403 `auth.forbidden`.
 */
export function platformCases(getApp: () => FastifyInstance, options: { writes?: boolean } = {}): MatrixCase[] {
  const forbidden = { status: 403, code: 'auth.forbidden' };
  return [
    { name: 'tenant owner without a platform role', headers: async () => bearer((await signedInTenantOwner(getApp())).token), ...forbidden },
    ...(options.writes
      ? [{ name: 'platform operator (read-only)', headers: async () => bearer((await signedInPlatformAdmin(getApp(), 'platform_operator')).token), ...forbidden }]
      : []),
  ];
}

/**
 * A digest of every row a tenant owns, across all tables with a tenant_id (found in the catalog, so new
 * tables are covered without touching this helper). Equal digests before and after = nothing changed.
 */
export async function tenantDigest(admin: AdminSql, tenantId: string): Promise<Record<string, string>> {
  const tables = await admin.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
  );
  const digest: Record<string, string> = {};
  for (const { table_name } of tables) {
    const [row] = await admin.query<{ digest: string | null }>(
      `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM public.${table_name} t WHERE tenant_id = $1`,
      [tenantId],
    );
    digest[table_name] = row?.digest ?? 'empty';
  }
  const [tenant] = await admin.query<{ digest: string | null }>(`SELECT md5(t::text) AS digest FROM public.tenants t WHERE id = $1`, [tenantId]);
  digest.tenants = tenant?.digest ?? 'missing';
  return digest;
}

/**
 * Declares one test per case for `route`. `victimTenantId` names the tenant whose rows must not change.
 */
export function securityMatrix(
  getContext: () => { app: FastifyInstance; admin: AdminSql; victimTenantId?: string },
  route: RouteUnderTest,
  cases: MatrixCase[] = baseCases,
): void {
  for (const testCase of cases) {
    it(`${route.method} ${route.url} — ${testCase.name} → ${testCase.status}`, async () => {
      const { app, admin, victimTenantId } = getContext();
      const before = victimTenantId ? await tenantDigest(admin, victimTenantId) : undefined;
      const response = await app.inject({ method: route.method, url: route.url, payload: route.payload as InjectOptions['payload'], headers: await testCase.headers() });
      expect(response.statusCode).toBe(testCase.status);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      if (testCase.code) expect(response.json().code).toBe(testCase.code);
      if (victimTenantId) expect(await tenantDigest(admin, victimTenantId)).toEqual(before);
    });
  }
}

/** The tables a victim digest reads, found once per database in the catalog. */
interface DigestPlan {
  /** Base tables with a tenant_id column. */
  tenantTables: string[];
  /** Global tables (no tenant_id) and their single-column foreign keys to tenants(id) or users(id). */
  globalTables: Map<string, { tenantColumns: string[]; userColumns: string[] }>;
}

const digestPlans = new WeakMap<AdminSql, Promise<string>>();

async function readDigestPlan(admin: AdminSql): Promise<DigestPlan> {
  const tenantTables = await admin.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name`,
  );
  const references = await admin.query<{ table_name: string; column_name: string; referenced: 'tenants' | 'users' }>(
    `SELECT cl.relname AS table_name, a.attname AS column_name, ref.relname AS referenced
       FROM pg_constraint con
       JOIN pg_class cl ON cl.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = cl.relnamespace
       JOIN pg_class ref ON ref.oid = con.confrelid
       JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = con.conkey[1]
      WHERE con.contype = 'f' AND n.nspname = 'public' AND ref.relname IN ('tenants', 'users') AND cardinality(con.conkey) = 1
        AND NOT EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = cl.oid AND x.attname = 'tenant_id' AND NOT x.attisdropped)
      ORDER BY 1, 2`,
  );
  const globalTables: DigestPlan['globalTables'] = new Map([['users', { tenantColumns: [], userColumns: ['id'] }]]);
  for (const { table_name, column_name, referenced } of references) {
    const entry = globalTables.get(table_name) ?? { tenantColumns: [], userColumns: [] };
    (referenced === 'tenants' ? entry.tenantColumns : entry.userColumns).push(column_name);
    globalTables.set(table_name, entry);
  }
  return { tenantTables: tenantTables.map((row) => row.table_name), globalTables };
}

/** One statement digesting every table of the plan: `$1` the tenant, `$2` the people. */
async function digestStatement(admin: AdminSql): Promise<string> {
  const plan = await readDigestPlan(admin);
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const part = (label: string, table: string, where: string) =>
    `SELECT '${label}' AS part, coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') AS digest FROM public.${quote(table)} t WHERE ${where}`;
  const parts = [
    part('tenants', 'tenants', 't.id = $1::uuid'),
    ...plan.tenantTables.map((table) => part(table, table, 't.tenant_id = $1::uuid')),
    ...[...plan.globalTables].map(([table, { tenantColumns, userColumns }]) =>
      part(`global:${table}`, table, [...tenantColumns.map((c) => `t.${quote(c)} = $1::uuid`), ...userColumns.map((c) => `t.${quote(c)} = ANY($2::uuid[])`)].join(' OR ')),
    ),
  ];
  return parts.join('\nUNION ALL\n');
}

/**
 * A digest of everything a victim tenant and its people own, in one statement: every row of every base
 * table with a tenant_id (as {@link tenantDigest}), the tenant's own row, and the rows of global tables
 * (users, sessions, impersonations, …) that reference the tenant or one of `userIds` through a foreign
 * key — all found in the catalog once per database, so tables added later are covered without edits.
 * Equal digests before and after a request = the request changed nothing of the victim's.
 */
export async function victimDigest(admin: AdminSql, victim: { tenantId: string; userIds: string[] }): Promise<Record<string, string>> {
  let statement = digestPlans.get(admin);
  if (!statement) digestPlans.set(admin, (statement = digestStatement(admin)));
  const rows = await admin.query<{ part: string; digest: string }>(await statement, [victim.tenantId, victim.userIds]);
  return Object.fromEntries(rows.map((row) => [row.part, row.digest]));
}
