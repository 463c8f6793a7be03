/**
 * Queries on `plans`, a global table (no tenant: DESIGN §5), run in the caller's unit of work.
 */
import { and, asc, eq, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../core/db/database.js';
import { plans } from './plans.table.js';

export type PlanRow = typeof plans.$inferSelect;

/** The plan's price for a billing cycle in minor units; null when the plan does not offer that cycle. */
export const planPrice = (plan: Pick<PlanRow, 'monthlyPrice' | 'yearlyPrice'>, cycle: 'monthly' | 'yearly') => (cycle === 'monthly' ? plan.monthlyPrice : plan.yearlyPrice);
export type NewPlanRow = typeof plans.$inferInsert;
/** The columns a change may set (never the id, code or timestamps). */
export type PlanChanges = Partial<Pick<PlanRow, 'name' | 'description' | 'currency' | 'monthlyPrice' | 'yearlyPrice' | 'trialDays' | 'limits' | 'features' | 'isPublic' | 'sortOrder'>>;

export interface PlanFilter {
  /** Only public plans (the public catalog). */
  publicOnly?: boolean;
  /** true: archived only; false: not archived; undefined: both. */
  archived?: boolean;
}

/** The plans matching `filter`, in catalog order: sort order, then code. */
export async function listPlans(tx: Tx, filter: PlanFilter): Promise<PlanRow[]> {
  const where: SQL[] = [];
  if (filter.publicOnly) where.push(eq(plans.isPublic, true));
  if (filter.archived === true) where.push(isNotNull(plans.archivedAt));
  if (filter.archived === false) where.push(isNull(plans.archivedAt));
  return tx
    .select()
    .from(plans)
    .where(and(...where))
    .orderBy(asc(plans.sortOrder), asc(plans.code));
}

/** The plan with this id (locked for the rest of the transaction with `forUpdate`), or null. */
export async function findPlan(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<PlanRow | null> {
  const query = tx.select().from(plans).where(eq(plans.id, id)).limit(1);
  const [row] = options.forUpdate ? await query.for('update') : await query;
  return row ?? null;
}

/** The plan with this code, or null. */
export async function findPlanByCode(tx: Tx, code: string): Promise<PlanRow | null> {
  const [row] = await tx.select().from(plans).where(eq(plans.code, code)).limit(1);
  return row ?? null;
}

/** Inserts a plan; a taken code raises the unique violation of `plans_code_key`. */
export async function insertPlan(tx: Tx, values: NewPlanRow): Promise<PlanRow> {
  const [row] = await tx.insert(plans).values(values).returning();
  return row!;
}

/** Changes the plan's columns given (updated_at moves). */
export async function updatePlan(tx: Tx, id: string, changes: PlanChanges): Promise<PlanRow> {
  const [row] = await tx.update(plans).set(changes).where(eq(plans.id, id)).returning();
  return row!;
}

/** Archives the plan (now) or unarchives it. */
export async function setPlanArchived(tx: Tx, id: string, archived: boolean): Promise<PlanRow> {
  const [row] = await tx.update(plans).set({ archivedAt: archived ? sql`now()` : null }).where(eq(plans.id, id)).returning();
  return row!;
}
