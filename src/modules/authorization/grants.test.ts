/**
 * The grants cache: one shared load for concurrent misses, an LRU bound, entries keyed by the
 * membership's authz_version; and invalidation that every process sees at its next request — proven with
 * a second app on the same database (with PostgreSQL its own pool and caches; PGlite belongs to one
 * process, so there the second app shares the database handle but has caches of its own).
 */
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createSecondApp, createTestApp, type TestApp } from '../../../test/harness.js';
import type { Database } from '../../core/db/database.js';
import { uuidv7 } from '../../core/db/ids.js';
import { roleAssignments, roles, type BuiltinRoleKey } from './authorization.table.js';
import { createGrantsCache, type CustomGrants } from './grants.js';

/** A route guarded by a permission no member holds by default: it answers 200 exactly when held. */
const registerProbe = (app: FastifyInstance) => {
  app.get('/test/audit-probe', { config: { permission: 'audit.view' } }, async () => ({ ok: true }));
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({}, { configure: registerProbe });
});
afterAll(() => t?.close());

async function customRole(tenantId: string, scope: 'tenant' | 'store', permissions: string[]): Promise<string> {
  const id = uuidv7();
  await t.platform.db.withTenant(tenantId, (tx) => tx.insert(roles).values({ tenantId, id, name: `Role ${id}`, scope, permissions }));
  return id;
}
const holdRole = (tenantId: string, userId: string, roleId: string) =>
  t.platform.db.withTenant(tenantId, (tx) => tx.insert(roleAssignments).values({ tenantId, userId, roleId }));
const versionOf = async (tenantId: string, userId: string) =>
  Number((await t.admin.query<{ v: string }>('SELECT authz_version AS v FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]))[0]!.v);

/** The application database, counting the loads of the cache (each is one unit of work). */
function countingDb(db: Database) {
  const counter = { loads: 0, failNext: false };
  const wrapped: Database = {
    kind: db.kind,
    executor: db.executor,
    transaction: (context, fn) => db.transaction(context, fn),
    withTenant: (tenantId, fn) => {
      counter.loads++;
      if (counter.failNext) {
        counter.failNext = false;
        return Promise.reject(new Error('database unavailable'));
      }
      return db.withTenant(tenantId, fn);
    },
    ping: () => db.ping(),
    poolStats: () => db.poolStats(),
    close: async () => undefined,
  };
  return { db: wrapped, counter };
}

async function memberWithVersion() {
  const { tenant } = await signedInOwner(t.app);
  const { person } = await signedInMember(t.app, tenant.id);
  return { tenantId: tenant.id, userId: person.id, version: await versionOf(tenant.id, person.id) };
}

describe('createGrantsCache', () => {
  it('concurrent misses of one membership share one load; later requests are answered synchronously', async () => {
    const { db, counter } = countingDb(t.platform.db);
    const cache = createGrantsCache({ db });
    const { tenantId, userId, version } = await memberWithVersion();
    await holdRole(tenantId, userId, await customRole(tenantId, 'tenant', ['audit.view']));
    const current = await versionOf(tenantId, userId);
    expect(current).toBeGreaterThan(version);

    const pending = Array.from({ length: 5 }, () => cache.get(tenantId, userId, current));
    for (const result of pending) expect(result).toBeInstanceOf(Promise);
    const loaded = await Promise.all(pending);
    expect(counter.loads).toBe(1);
    for (const grants of loaded) expect(grants).toBe(loaded[0]);
    expect([...loaded[0]!.tenant]).toEqual(['audit.view']);
    expect(loaded[0]!.version).toBe(current);

    const hit = cache.get(tenantId, userId, current);
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toBe(loaded[0]);
    // A request that read an older version (before the change) is served the newer entry.
    expect(cache.get(tenantId, userId, version)).toBe(loaded[0]);
    expect(counter.loads).toBe(1);
  });

  it('reloads when the membership’s version moves past the entry, and shows the change', async () => {
    const { db, counter } = countingDb(t.platform.db);
    const cache = createGrantsCache({ db });
    const { tenantId, userId, version } = await memberWithVersion();
    const before = (await cache.get(tenantId, userId, version)) as CustomGrants;
    expect(before.tenant.size).toBe(0);

    await holdRole(tenantId, userId, await customRole(tenantId, 'tenant', ['billing.view']));
    const next = await versionOf(tenantId, userId);
    const after = cache.get(tenantId, userId, next);
    expect(after).toBeInstanceOf(Promise);
    expect([...(await after).tenant]).toEqual(['billing.view']);
    expect(counter.loads).toBe(2);
    expect(cache.get(tenantId, userId, next)).not.toBeInstanceOf(Promise);
  });

  it('keeps at most maxEntries memberships, evicting the least recently used', async () => {
    const { db, counter } = countingDb(t.platform.db);
    const cache = createGrantsCache({ db, maxEntries: 2 });
    const [a, b, c] = [await memberWithVersion(), await memberWithVersion(), await memberWithVersion()];
    await cache.get(a.tenantId, a.userId, a.version);
    await cache.get(b.tenantId, b.userId, b.version);
    // A is used again: B is now the least recently used.
    expect(cache.get(a.tenantId, a.userId, a.version)).not.toBeInstanceOf(Promise);
    await cache.get(c.tenantId, c.userId, c.version);
    expect(cache.size).toBe(2);
    expect(counter.loads).toBe(3);

    expect(cache.get(a.tenantId, a.userId, a.version)).not.toBeInstanceOf(Promise);
    expect(cache.get(c.tenantId, c.userId, c.version)).not.toBeInstanceOf(Promise);
    const evicted = cache.get(b.tenantId, b.userId, b.version);
    expect(evicted).toBeInstanceOf(Promise);
    await evicted;
    expect(counter.loads).toBe(4);
    expect(cache.size).toBe(2);
  });

  it('a failed load is not cached: the next request loads again', async () => {
    const { db, counter } = countingDb(t.platform.db);
    const cache = createGrantsCache({ db });
    const { tenantId, userId, version } = await memberWithVersion();
    counter.failNext = true;
    await expect(cache.get(tenantId, userId, version)).rejects.toThrow('database unavailable');
    expect(cache.size).toBe(0);
    expect((await cache.get(tenantId, userId, version)).version).toBe(version);
    expect(counter.loads).toBe(2);
  });
});

describe('invalidation across processes', () => {
  let other: FastifyInstance;
  beforeAll(async () => {
    other = await createSecondApp(t, { configure: registerProbe });
  });
  afterAll(() => other?.close());

  const probe = (app: FastifyInstance, token: string) => app.inject({ method: 'GET', url: '/test/audit-probe', headers: bearer(token) });
  const permissionsOn = async (app: FastifyInstance, token: string) =>
    (await app.inject({ method: 'GET', url: '/api/v1/users/me/permissions', headers: bearer(token) })).json<{ permissions: string[] }>().permissions;
  const builtin = async (tenantId: string, key: BuiltinRoleKey) =>
    (await t.admin.query<{ id: string }>('SELECT id FROM roles WHERE tenant_id = $1 AND key = $2', [tenantId, key]))[0]!.id;

  async function warmBoth() {
    const owner = await signedInOwner(t.app);
    const member = await signedInMember(t.app, owner.tenant.id);
    for (const app of [t.app, other]) expect((await probe(app, member.token)).statusCode).toBe(403);
    // Both caches hold the member's grants now (at the version they read).
    const version = await versionOf(owner.tenant.id, member.person.id);
    for (const app of [t.app, other]) expect(app.authorization.grants.get(owner.tenant.id, member.person.id, version)).not.toBeInstanceOf(Promise);
    return { owner, member };
  }

  it('is a separate process’s cache', () => {
    expect(other.authorization.grants).not.toBe(t.app.authorization.grants);
  });

  it('a custom role given and taken through app 1 is seen by app 2 at its very next request, and by its /users/me/permissions', async () => {
    const { owner, member } = await warmBoth();
    const roleId = await customRole(owner.tenant.id, 'tenant', ['audit.view']);
    expect(await permissionsOn(other, member.token)).not.toContain('audit.view');

    const given = await t.app.inject({ method: 'POST', url: `/api/v1/users/${member.person.id}/roles`, headers: bearer(owner.token), payload: { roleId } });
    expect(given.statusCode).toBe(201);
    expect((await probe(other, member.token)).statusCode).toBe(200);
    expect(await permissionsOn(other, member.token)).toContain('audit.view');

    const taken = await t.app.inject({ method: 'DELETE', url: `/api/v1/users/${member.person.id}/roles/${roleId}`, headers: bearer(owner.token) });
    expect(taken.statusCode).toBe(204);
    const refused = await probe(other, member.token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('auth.forbidden');
    expect(await permissionsOn(other, member.token)).not.toContain('audit.view');
  });

  it('a change of a held role’s content, and of the built-in tenant role, are seen by app 2 at once, both ways', async () => {
    const { owner, member } = await warmBoth();
    const roleId = await customRole(owner.tenant.id, 'tenant', ['billing.view']);
    await t.app.inject({ method: 'POST', url: `/api/v1/users/${member.person.id}/roles`, headers: bearer(owner.token), payload: { roleId } });
    expect((await probe(other, member.token)).statusCode).toBe(403);

    // The role's content changes (as PATCH /roles/:id does it) in app 1's database session.
    const setPermissions = (permissions: string[]) =>
      t.platform.db.withTenant(owner.tenant.id, (tx) => tx.update(roles).set({ permissions }).where(and(eq(roles.tenantId, owner.tenant.id), eq(roles.id, roleId))));
    await setPermissions(['billing.view', 'audit.view']);
    expect((await probe(other, member.token)).statusCode).toBe(200);
    await setPermissions(['billing.view']);
    expect((await probe(other, member.token)).statusCode).toBe(403);

    // Built-in tenant role: admin holds audit.view, member does not.
    const make = (key: BuiltinRoleKey) =>
      builtin(owner.tenant.id, key).then((id) =>
        t.app.inject({ method: 'POST', url: `/api/v1/users/${member.person.id}/roles`, headers: bearer(owner.token), payload: { roleId: id } }),
      );
    expect((await make('admin')).statusCode).toBe(201);
    expect((await probe(other, member.token)).statusCode).toBe(200);
    expect(await permissionsOn(other, member.token)).toContain('users.manage');
    expect((await make('member')).statusCode).toBe(201);
    expect((await probe(other, member.token)).statusCode).toBe(403);
    expect(await permissionsOn(other, member.token)).not.toContain('users.manage');
  });
});
