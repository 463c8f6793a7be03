/**
 * Queries on `subscriptions` (one row per tenant), run in the caller's unit of work, tenant first.
 */
import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import type { PlanRow } from './plans.repository.js';
import { plans } from './plans.table.js';
import { subscriptions, type SubscriptionRow } from './subscriptions.table.js';

export type NewSubscriptionRow = typeof subscriptions.$inferInsert;
/** What a change may set (never the tenant, id, revision or timestamps). */
export type SubscriptionChanges = Partial<Omit<SubscriptionRow, 'tenantId' | 'id' | 'revision' | 'createdAt' | 'updatedAt'>>;

export interface SubscriptionWithPlan {
  subscription: SubscriptionRow;
  plan: PlanRow;
}

/**
 * The tenant's subscription and its plan. `lock` holds the subscription row until the transaction ends
 * (NO KEY UPDATE: rows that will reference it, such as invoices, still insert): every change of the
 * subscription and every limit check take it, so they run one after the other.
 */
export async function findSubscription(tx: Tx, tenantId: string, options: { lock?: boolean } = {}): Promise<SubscriptionWithPlan | null> {
  const query = tx.select({ subscription: subscriptions, plan: plans }).from(subscriptions).innerJoin(plans, eq(plans.id, subscriptions.planId)).where(eq(subscriptions.tenantId, tenantId));
  const [row] = options.lock ? await query.for('no key update', { of: subscriptions }) : await query;
  return row ?? null;
}

export async function insertSubscription(tx: Tx, row: NewSubscriptionRow): Promise<SubscriptionRow> {
  const [inserted] = await tx.insert(subscriptions).values(row).returning();
  return inserted!;
}

export async function updateSubscription(tx: Tx, tenantId: string, changes: SubscriptionChanges): Promise<SubscriptionRow> {
  const [row] = await tx.update(subscriptions).set(changes).where(eq(subscriptions.tenantId, tenantId)).returning();
  return row!;
}

/** Current usage of the limits that something in the tenant counts, in one statement. */
export async function countUsage(tx: Tx, tenantId: string): Promise<{ maxUsers: number; maxStores: number }> {
  // Seats are members (active or deactivated) plus pending invitations: an invitation holds its seat until
  // it is accepted, revoked or expires, so accepting one never exceeds the plan.
  const result = await tx.execute<{ seats: string; stores: string }>(sql`
    SELECT (SELECT count(*) FROM memberships WHERE tenant_id = ${tenantId})
         + (SELECT count(*) FROM invitations WHERE tenant_id = ${tenantId} AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()) AS seats,
           (SELECT count(*) FROM stores WHERE tenant_id = ${tenantId} AND deleted_at IS NULL) AS stores`);
  const row = result.rows[0]!;
  return { maxUsers: Number(row.seats), maxStores: Number(row.stores) };
}
