/**
 * Role fixtures for the organization tests: the ids of a tenant's built-in roles and custom roles written
 * directly (not through POST /roles), and who holds which custom role.
 */
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from '../src/core/db/ids.js';
import { roleAssignments, roles, type BuiltinRoleKey, type RoleScope } from '../src/modules/authorization/index.js';

/** The id of the tenant's built-in role `key` (created with every tenant). */
export async function builtinRoleId(app: FastifyInstance, tenantId: string, key: BuiltinRoleKey): Promise<string> {
  const [row] = await app.platform.db.withTenant(tenantId, (tx) =>
    tx
      .select({ id: roles.id })
      .from(roles)
      .where(and(eq(roles.tenantId, tenantId), eq(roles.key, key))),
  );
  return row!.id;
}

/** A custom role of the tenant with these permissions; answers its id. */
export async function createCustomRole(app: FastifyInstance, tenantId: string, options: { scope?: RoleScope; permissions: string[]; name?: string }): Promise<string> {
  const id = uuidv7();
  await app.platform.db.withTenant(tenantId, (tx) =>
    tx.insert(roles).values({ tenantId, id, name: options.name ?? `Role ${randomBytes(4).toString('hex')}`, scope: options.scope ?? 'tenant', permissions: options.permissions }),
  );
  return id;
}

/** Gives a member a custom role (tenant-wide, or in a store they are assigned to). */
export async function giveCustomRole(app: FastifyInstance, tenantId: string, userId: string, roleId: string, storeId: string | null = null): Promise<void> {
  await app.platform.db.withTenant(tenantId, (tx) => tx.insert(roleAssignments).values({ tenantId, userId, roleId, storeId }));
}

/** The custom roles a member holds, as `roleId@storeId` (`@-` tenant-wide), sorted. */
export async function heldCustomRoles(app: FastifyInstance, tenantId: string, userId: string): Promise<string[]> {
  const rows = await app.platform.db.withTenant(tenantId, (tx) =>
    tx
      .select({ roleId: roleAssignments.roleId, storeId: roleAssignments.storeId })
      .from(roleAssignments)
      .where(and(eq(roleAssignments.tenantId, tenantId), eq(roleAssignments.userId, userId))),
  );
  return rows.map((row) => `${row.roleId}@${row.storeId ?? '-'}`).sort();
}
