/**
 * Helpers for the /api/v1/stores tests: calls as a signed-in person, a fresh tenant's owner, and the
 * rows (stores, audit, outbox) the assertions read past row-level security.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { bearer, createPerson, createTenantFor, signInAs } from './auth.js';
import type { TestApp } from './harness.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export function storeApi(getTestApp: () => TestApp) {
  const t = () => getTestApp();
  const call = (token: string, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    t().app.inject({ method, url: `/api/v1/stores${url}`, headers: { ...bearer(token), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });

  /** The owner of a fresh tenant, signed in there. */
  async function ownerOfNewTenant() {
    const person = await createPerson(t().app);
    const tenant = await createTenantFor(t().app, person);
    const { accessToken: token } = await signInAs(t().app, person, tenant.id);
    return { person, tenant, token };
  }

  /** A unique store code. */
  const code = () => `C-${randomBytes(3).toString('hex')}`;

  /** Creates a store through the route (201 expected) and answers it. */
  async function create(token: string, body: Record<string, unknown> = {}) {
    const response = await call(token, 'POST', '/', { name: 'Main street', code: code(), ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  const headquartersOf = async (tenantId: string) =>
    (await t().admin.query<{ id: string }>('SELECT id FROM stores WHERE tenant_id = $1 AND is_headquarters AND deleted_at IS NULL', [tenantId])).map((row) => row.id);

  const auditRows = (tenantId: string, action: string) =>
    t().admin.query<{ actor_id: string; target_id: string; before: unknown; after: unknown; request_id: string | null }>(
      'SELECT actor_id, target_id, before, after, request_id FROM audit_events WHERE tenant_id = $1 AND action = $2 ORDER BY occurred_at, id',
      [tenantId, action],
    );

  const events = (tenantId: string, type: string) =>
    t().admin.query<{ payload: { store: { id: string; isHeadquarters: boolean } } }>('SELECT payload FROM outbox_events WHERE tenant_id = $1 AND type = $2 ORDER BY id', [tenantId, type]);

  const storeCount = async (tenantId: string) => (await t().admin.query<{ n: number }>('SELECT count(*)::int AS n FROM stores WHERE tenant_id = $1', [tenantId]))[0]!.n;

  return { call, ownerOfNewTenant, code, create, headquartersOf, auditRows, events, storeCount };
}
