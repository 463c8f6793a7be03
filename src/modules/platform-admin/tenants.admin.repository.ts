/**
 * Queries behind the platform administration of tenants. `listTenants` is the one read across tenants:
 * it runs in a platform unit of work (the read-only platform role, which sees every tenant). Everything
 * else names one tenant — first argument, in every WHERE clause — and runs in that tenant's own context
 * when it writes (DESIGN §5).
 */
import { and, asc, desc, eq, ilike, or, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users, type TenantStatus } from '../../core/tenancy/tenancy.table.js';
import { stores } from '../organization/index.js';

export type TenantRow = typeof tenants.$inferSelect;

/** Where a page of tenants starts: (created_at, id) of the last row served, the time at full precision. */
export interface TenantListKey {
  createdAt: string;
  id: string;
}

export interface TenantListFilter {
  search?: string;
  status?: TenantStatus;
  newestFirst: boolean;
  after: TenantListKey | null;
  limit: number;
}

/** created_at as text with its microseconds: a JS Date would drop them and the keyset would skip rows. */
const createdAtText = sql<string>`to_char(${tenants.createdAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** `%`, `_` and `\` typed in a search mean themselves. */
const likePattern = (search: string) => `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;

/**
 * Up to `limit` tenants of every tenant (platform read role) in creation order, strictly after `after`,
 * matching the search (name or slug, case-insensitive) and status.
 */
export async function listTenants(tx: Tx, filter: TenantListFilter): Promise<Array<TenantRow & { cursorAt: string }>> {
  const where: SQL[] = [];
  if (filter.search) {
    const pattern = likePattern(filter.search);
    where.push(or(ilike(tenants.name, pattern), ilike(tenants.slug, pattern))!);
  }
  if (filter.status) where.push(eq(tenants.status, filter.status));
  if (filter.after) {
    const key = sql`(${filter.after.createdAt}::timestamptz, ${filter.after.id}::uuid)`;
    where.push(filter.newestFirst ? sql`(${tenants.createdAt}, ${tenants.id}) < ${key}` : sql`(${tenants.createdAt}, ${tenants.id}) > ${key}`);
  }
  const order = filter.newestFirst ? [desc(tenants.createdAt), desc(tenants.id)] : [asc(tenants.createdAt), asc(tenants.id)];
  const rows = await tx
    .select({ tenant: tenants, cursorAt: createdAtText })
    .from(tenants)
    .where(and(...where))
    .orderBy(...order)
    .limit(filter.limit);
  return rows.map((row) => ({ ...row.tenant, cursorAt: row.cursorAt }));
}

export interface TenantDetailRow {
  tenant: TenantRow;
  memberCount: number;
  storeCount: number;
  owner: { id: string; email: string; name: string } | null;
}

const ownerMembership = alias(memberships, 'owner_membership');

/** The tenant with its active members, live stores and owner; null when no tenant has this id. */
export async function findTenantDetail(tx: Tx, tenantId: string): Promise<TenantDetailRow | null> {
  const [row] = await tx
    .select({
      tenant: tenants,
      memberCount: sql<number>`(SELECT count(*)::int FROM ${memberships} WHERE ${memberships.tenantId} = ${tenantId} AND ${memberships.status} = 'active')`,
      storeCount: sql<number>`(SELECT count(*)::int FROM ${stores} WHERE ${stores.tenantId} = ${tenantId} AND ${stores.deletedAt} IS NULL)`,
      ownerId: users.id,
      ownerEmail: users.email,
      ownerName: users.name,
    })
    .from(tenants)
    .leftJoin(ownerMembership, and(eq(ownerMembership.tenantId, tenants.id), eq(ownerMembership.role, 'owner')))
    .leftJoin(users, eq(users.id, ownerMembership.userId))
    .where(eq(tenants.id, tenantId))
    .limit(1);
  if (!row) return null;
  const owner = row.ownerId && row.ownerEmail && row.ownerName ? { id: row.ownerId, email: row.ownerEmail, name: row.ownerName } : null;
  return { tenant: row.tenant, memberCount: Number(row.memberCount), storeCount: Number(row.storeCount), owner };
}

/** Suspends (with the reason) or reactivates (clearing it) the tenant. */
export async function setTenantSuspension(tx: Tx, tenantId: string, suspension: { status: 'suspended'; reason: string } | { status: 'active' }): Promise<void> {
  const suspendedReason = suspension.status === 'suspended' ? suspension.reason : null;
  await tx.update(tenants).set({ status: suspension.status, suspendedReason }).where(eq(tenants.id, tenantId));
}

/** A person's name (users is global: no tenant), or null. */
export async function findPersonName(tx: Tx, userId: string): Promise<string | null> {
  const [row] = await tx.select({ name: users.name }).from(users).where(eq(users.id, userId));
  return row?.name ?? null;
}
