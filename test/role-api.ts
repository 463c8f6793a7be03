/**
 * Helpers for the /api/v1/roles tests: calls as a signed-in person, custom roles created through the
 * route, assignments written directly (the assignment routes are tested on their own), and the rows
 * (roles, assignments, audit, outbox) the assertions read past row-level security.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { uuidv7 } from '../src/core/db/ids.js';
import { roleAssignments } from '../src/modules/authorization/authorization.table.js';
import { bearer } from './auth.js';
import type { TestApp } from './harness.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export function roleApi(getTestApp: () => TestApp) {
  const t = () => getTestApp();

  /** A request to `/api/v1${url}` as the holder of `token`. */
  const call = (token: string, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t().app.inject({ method, url: `/api/v1${url}`, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  /** A unique role name. */
  const roleName = (prefix = 'Role') => `${prefix} ${randomBytes(3).toString('hex')}`;

  /** Creates a custom role through the route (201 expected) and answers it. */
  async function createRole(token: string, body: { name?: string; description?: string; scope?: 'tenant' | 'store'; permissions?: string[] } = {}) {
    const response = await call(token, 'POST', '/roles', { name: roleName(), scope: 'tenant', permissions: [], ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json<{ id: string; name: string; scope: string; permissions: string[]; holders: number }>();
  }

  /** Gives `userId` the custom role, tenant-wide or in one store (they must be assigned to that store). */
  const holdRole = (tenantId: string, userId: string, roleId: string, storeId: string | null = null) =>
    t().platform.db.withTenant(tenantId, (tx) => tx.insert(roleAssignments).values({ tenantId, id: uuidv7(), userId, roleId, storeId }));

  /** The tenant's assignments of `roleId`, as `userId@storeId|-`, sorted. */
  const assignmentsOf = async (tenantId: string, roleId: string) =>
    (
      await t().admin.query<{ user_id: string; store_id: string | null }>('SELECT user_id, store_id FROM role_assignments WHERE tenant_id = $1 AND role_id = $2', [tenantId, roleId])
    )
      .map((row) => `${row.user_id}@${row.store_id ?? '-'}`)
      .sort();

  const roleExists = async (tenantId: string, roleId: string) =>
    (await t().admin.query('SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2', [tenantId, roleId])).length === 1;

  const auditRows = (tenantId: string, action: string) =>
    t().admin.query<{ actor_id: string; target_id: string; before: unknown; after: unknown; request_id: string | null }>(
      'SELECT actor_id, target_id, before, after, request_id FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY occurred_at, id',
      [tenantId, action],
    );

  const events = (tenantId: string, type: string) =>
    t().admin.query<{ payload: Record<string, unknown> }>('SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = $2 ORDER BY id', [tenantId, type]);

  return { call, roleName, createRole, holdRole, assignmentsOf, roleExists, auditRows, events };
}
