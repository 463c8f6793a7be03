/**
 * What a member may do, and the per-process cache behind it.
 *
 * A member's built-in roles arrive fresh with every request (`session_actor` reads `memberships.role`
 * and, in a store context, `store_members.role`). Their custom roles are read once and cached per
 * membership, keyed by `memberships.authz_version`, which the database changes in the same transaction
 * as any change to the member's custom roles or to the content of a role they hold (migration
 * `authorization_isolation`). Authentication reads that version on every request, so a change is seen
 * at the next request by every process: nothing to broadcast, no window, nothing lost.
 */
import { and, eq } from 'drizzle-orm';
import { createVersionedCache } from '../../core/cache/versioned-cache.js';
import type { Database } from '../../core/db/database.js';
import type { Actor } from '../../core/http/request-context.js';
import { memberships } from '../../core/tenancy/tenancy.table.js';
import { roleAssignments, roles, type BuiltinRoleKey } from './authorization.table.js';
import { BUILTIN_ROLE_PERMISSIONS } from './permissions.js';

/** The permissions a member holds through custom roles: tenant-wide, and per store. */
export interface CustomGrants {
  version: number;
  tenant: ReadonlySet<string>;
  stores: ReadonlyMap<string, ReadonlySet<string>>;
}

const NO_PERMISSIONS: ReadonlySet<string> = new Set();

export interface GrantsCache {
  /** The member's custom grants at `version` (at least): synchronous when cached. */
  get(tenantId: string, userId: string, version: number): CustomGrants | Promise<CustomGrants>;
  readonly size: number;
  clear(): void;
}

/** Reads a member's custom roles (and the membership's current version) in one statement. */
export async function loadCustomGrants(db: Database, tenantId: string, userId: string): Promise<CustomGrants> {
  const rows = await db.withTenant(tenantId, (tx) =>
    tx
      .select({ version: memberships.authzVersion, storeId: roleAssignments.storeId, permissions: roles.permissions })
      .from(memberships)
      .leftJoin(roleAssignments, and(eq(roleAssignments.tenantId, memberships.tenantId), eq(roleAssignments.userId, memberships.userId)))
      .leftJoin(roles, and(eq(roles.tenantId, roleAssignments.tenantId), eq(roles.id, roleAssignments.roleId)))
      .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId))),
  );
  const tenant = new Set<string>();
  const stores = new Map<string, Set<string>>();
  for (const row of rows) {
    if (!row.permissions) continue;
    const target = row.storeId ? (stores.get(row.storeId) ?? stores.set(row.storeId, new Set()).get(row.storeId)!) : tenant;
    for (const permission of row.permissions) target.add(permission);
  }
  return { version: rows[0]?.version ?? -1, tenant, stores };
}

/** A bounded LRU of custom grants per membership, keyed by its authz_version; concurrent misses share one read. */
export function createGrantsCache(options: { db: Database; maxEntries?: number }): GrantsCache {
  const cache = createVersionedCache<CustomGrants>({
    load: (key) => {
      const [tenantId, userId] = key.split(':') as [string, string];
      return loadCustomGrants(options.db, tenantId, userId);
    },
    versionOf: (grants) => grants.version,
    maxEntries: options.maxEntries,
  });
  return {
    get: (tenantId, userId, version) => cache.get(`${tenantId}:${userId}`, version),
    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  };
}

/** Where a member holds a permission: tenant-wide, only in the request's store, or not at all. */
export type GrantScope = 'tenant' | 'store' | null;

/** Where the actor (a member acting in a tenant) holds `permission`, given their custom grants. */
export function grantScope(actor: Actor, grants: CustomGrants, permission: string): GrantScope {
  const base = actor.role ? BUILTIN_ROLE_PERMISSIONS[actor.role] : NO_PERMISSIONS;
  if (base.has(permission) || grants.tenant.has(permission)) return 'tenant';
  if (!actor.storeId) return null;
  const storeRole = actor.storeRole ? BUILTIN_ROLE_PERMISSIONS[actor.storeRole] : NO_PERMISSIONS;
  if (storeRole.has(permission) || grants.stores.get(actor.storeId)?.has(permission)) return 'store';
  return null;
}

/** Every permission the actor holds: tenant-wide, plus those of the store context when there is one. */
export function effectivePermissions(actor: Pick<Actor, 'role' | 'storeId' | 'storeRole'>, grants: CustomGrants): Set<string> {
  const held = new Set<string>([...(actor.role ? BUILTIN_ROLE_PERMISSIONS[actor.role] : []), ...grants.tenant]);
  if (actor.storeId) {
    for (const permission of actor.storeRole ? BUILTIN_ROLE_PERMISSIONS[actor.storeRole as BuiltinRoleKey] : []) held.add(permission);
    for (const permission of grants.stores.get(actor.storeId) ?? []) held.add(permission);
  }
  return held;
}
