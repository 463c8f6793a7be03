/**
 * Queries on stores and their people. `tenantId` is always the first argument and always in the WHERE
 * clause (DESIGN §5, layer 2); row-level security is the backstop behind it.
 */
import { and, asc, eq, getTableColumns, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { memberships, tenants, users } from '../../core/tenancy/tenancy.table.js';
import { roleAssignments, roles } from '../authorization/index.js';
import { storeMembers, stores, type StoreRole } from './organization.table.js';

export type StoreRow = typeof stores.$inferSelect;
/** A store to insert; `isHeadquarters` may be SQL computed in the INSERT itself. */
export type NewStoreRow = Omit<typeof stores.$inferInsert, 'tenantId' | 'isHeadquarters'> & { isHeadquarters?: boolean | SQL<boolean> };
export type StoreChanges = Partial<Pick<StoreRow, 'name' | 'code' | 'address' | 'phone' | 'email' | 'timezone' | 'isHeadquarters' | 'settings'>>;

/**
 * Serialises every change to the tenant's stores behind one row lock on the tenant, held until the
 * transaction ends: "the first store is the headquarters", "the flag moves" and "the code is free" are
 * decided by reads that no concurrent writer can invalidate. FOR NO KEY UPDATE rather than FOR UPDATE:
 * it conflicts with itself (so store writers queue) but not with the FOR KEY SHARE locks that foreign-key
 * checks take, so the tenant's other inserts (audit rows, events, members) never wait for it.
 */
export async function lockTenantStores(tx: Tx, tenantId: string): Promise<void> {
  await tx.execute(sql`SELECT 1 FROM ${tenants} WHERE ${tenants.id} = ${tenantId} FOR NO KEY UPDATE`);
}

const liveIn = (tenantId: string) => and(eq(stores.tenantId, tenantId), isNull(stores.deletedAt));

/** The store with this id in the tenant (a deleted one only when asked), or null. */
export async function findStore(tx: Tx, tenantId: string, storeId: string, options: { includeDeleted?: boolean } = {}): Promise<StoreRow | null> {
  const [row] = await tx
    .select()
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), eq(stores.id, storeId), options.includeDeleted ? undefined : isNull(stores.deletedAt)));
  return row ?? null;
}

/**
 * In one read: the tenant's live headquarters and whether a live store other than `exceptStoreId`
 * already uses `code` (case-insensitively, as the `stores_code_key` index compares).
 */
export async function findHeadquartersAndCodeHolder(
  tx: Tx,
  tenantId: string,
  code: string | null,
  exceptStoreId?: string,
): Promise<{ headquarters: StoreRow | null; codeTaken: boolean }> {
  const codeMatch = code === null ? sql`false` : sql`lower(${stores.code}) = lower(${code})`;
  const rows = await tx
    .select()
    .from(stores)
    .where(and(liveIn(tenantId), sql`(${stores.isHeadquarters} OR ${codeMatch})`));
  return {
    headquarters: rows.find((row) => row.isHeadquarters) ?? null,
    codeTaken: code !== null && rows.some((row) => row.id !== exceptStoreId && row.code.toLowerCase() === code.toLowerCase()),
  };
}

/** Which of `storeIds` are live stores of the tenant (another tenant's id is simply not one). */
export async function findLiveStoreIds(tx: Tx, tenantId: string, storeIds: string[]): Promise<Set<string>> {
  if (storeIds.length === 0) return new Set();
  const rows = await tx
    .select({ id: stores.id })
    .from(stores)
    .where(and(eq(stores.tenantId, tenantId), inArray(stores.id, storeIds), isNull(stores.deletedAt)));
  return new Set(rows.map((row) => row.id));
}

/** SQL for "the tenant has no live headquarters", evaluated inside the INSERT that may create the first. */
export function noHeadquartersYet(tenantId: string) {
  return sql<boolean>`not exists (select 1 from ${stores} where ${stores.tenantId} = ${tenantId} and ${stores.isHeadquarters} and ${stores.deletedAt} is null)`;
}

export async function insertStore(tx: Tx, tenantId: string, store: NewStoreRow): Promise<StoreRow> {
  const [row] = await tx
    .insert(stores)
    .values({ ...store, tenantId })
    .returning();
  return row!;
}

/** Applies `changes` to a store (live or deleted as `where` says); the row after, or null if none matched. */
export async function updateStore(tx: Tx, tenantId: string, storeId: string, changes: StoreChanges & { deletedAt?: Date | null }): Promise<StoreRow | null> {
  const [row] = await tx
    .update(stores)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(stores.tenantId, tenantId), eq(stores.id, storeId)))
    .returning();
  return row ?? null;
}

export interface StoreListKey {
  /** lower(name) of the last row served. */
  n: string;
  id: string;
}

/**
 * One page of the tenant's stores ordered by name (case-insensitively, then id: a stable keyset that the
 * `stores_tenant_name_idx` index serves), `limit + 1` rows so the caller can tell whether more follow.
 */
export async function listStores(
  tx: Tx,
  tenantId: string,
  options: { search?: string; includeDeleted: boolean; after: StoreListKey | null; limit: number },
): Promise<Array<StoreRow & { sortName: string }>> {
  const filters: Array<SQL | undefined> = [eq(stores.tenantId, tenantId)];
  if (!options.includeDeleted) filters.push(isNull(stores.deletedAt));
  if (options.search) {
    const pattern = `%${escapeLike(options.search.toLowerCase())}%`;
    filters.push(sql`(lower(${stores.name}) LIKE ${pattern} OR lower(${stores.code}) LIKE ${pattern})`);
  }
  if (options.after) filters.push(sql`(lower(${stores.name}), ${stores.id}) > (${options.after.n}, ${options.after.id}::uuid)`);
  // The cursor carries the database's own lower(name), so the keyset compares exactly as it sorts.
  return tx
    .select({ ...getTableColumns(stores), sortName: sql<string>`lower(${stores.name})` })
    .from(stores)
    .where(and(...filters))
    .orderBy(sql`lower(${stores.name})`, asc(stores.id))
    .limit(options.limit + 1);
}

/** `%`, `_` and the escape character itself match literally (LIKE's default escape is `\`). */
function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (match) => `\\${match}`);
}

// ---- People of a store ----

export interface StoreMemberRow {
  userId: string;
  name: string;
  email: string;
  role: StoreRole;
}

const storeMemberColumns = { userId: storeMembers.userId, name: users.name, email: users.email, role: storeMembers.role };

/** One page of the people assigned to a store, by user id, `limit + 1` rows. */
export async function listStoreMembers(tx: Tx, tenantId: string, storeId: string, options: { after: string | null; limit: number }): Promise<StoreMemberRow[]> {
  return tx
    .select(storeMemberColumns)
    .from(storeMembers)
    .innerJoin(users, eq(users.id, storeMembers.userId))
    .where(and(eq(storeMembers.tenantId, tenantId), eq(storeMembers.storeId, storeId), options.after ? sql`${storeMembers.userId} > ${options.after}::uuid` : undefined))
    .orderBy(asc(storeMembers.userId))
    .limit(options.limit + 1);
}

/** The assignments of these people to the store, as they stand. */
export async function findStoreMembers(tx: Tx, tenantId: string, storeId: string, userIds: string[]): Promise<StoreMemberRow[]> {
  return tx
    .select(storeMemberColumns)
    .from(storeMembers)
    .innerJoin(users, eq(users.id, storeMembers.userId))
    .where(and(eq(storeMembers.tenantId, tenantId), eq(storeMembers.storeId, storeId), inArray(storeMembers.userId, userIds)))
    .orderBy(asc(storeMembers.userId));
}

/** The permissions these people hold in the store through custom roles (what unassigning them takes away). */
export async function findCustomStorePermissions(tx: Tx, tenantId: string, storeId: string, userIds: string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await tx
    .select({ permissions: roles.permissions })
    .from(roleAssignments)
    .innerJoin(roles, and(eq(roles.tenantId, roleAssignments.tenantId), eq(roles.id, roleAssignments.roleId)))
    .where(and(eq(roleAssignments.tenantId, tenantId), eq(roleAssignments.storeId, storeId), inArray(roleAssignments.userId, userIds)));
  return rows.flatMap((row) => row.permissions);
}

/** Which of these people are active members of the tenant (another tenant's people are simply not found). */
export async function findActiveMemberIds(tx: Tx, tenantId: string, userIds: string[]): Promise<Set<string>> {
  const rows = await tx
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), inArray(memberships.userId, userIds), eq(memberships.status, 'active')));
  return new Set(rows.map((row) => row.userId));
}

/** Assigns people to a store; existing assignments keep their role unless `role` says otherwise. */
export async function upsertStoreMembers(tx: Tx, tenantId: string, storeId: string, assignments: Array<{ userId: string; role: StoreRole }>, overwriteRole: boolean): Promise<void> {
  if (assignments.length === 0) return;
  const insert = tx.insert(storeMembers).values(assignments.map((assignment) => ({ tenantId, storeId, ...assignment })));
  await (overwriteRole
    ? insert.onConflictDoUpdate({ target: [storeMembers.tenantId, storeMembers.storeId, storeMembers.userId], set: { role: sql`excluded.role` } })
    : insert.onConflictDoNothing());
}

/** Removes assignments; the user ids actually removed. */
export async function deleteStoreMembers(tx: Tx, tenantId: string, storeId: string, userIds: string[]): Promise<string[]> {
  const rows = await tx
    .delete(storeMembers)
    .where(and(eq(storeMembers.tenantId, tenantId), eq(storeMembers.storeId, storeId), inArray(storeMembers.userId, userIds)))
    .returning({ userId: storeMembers.userId });
  return rows.map((row) => row.userId);
}

/** The tenant's settings document (validated by the tenant settings; read here for store defaults). */
export async function findTenantSettings(tx: Tx, tenantId: string): Promise<Record<string, unknown>> {
  const [row] = await tx.select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, tenantId));
  return row?.settings ?? {};
}
