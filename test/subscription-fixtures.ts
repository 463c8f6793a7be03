/**
 * Puts a tenant's subscription on a plan, a status or overrides for a test, through the app's own unit of
 * work (row-level security applies). The revision trigger gives the row a new revision, so the next
 * request of any signed-in member sees the change.
 */
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { plans } from '../src/modules/billing/plans.table.js';
import { subscriptions, type FeatureOverrides, type LimitOverrides, type SubscriptionStatus } from '../src/modules/billing/subscriptions.table.js';

export interface SubscriptionSetting {
  /** A plan code: `free`, `basic`, `pro`, `enterprise` (seeded). */
  plan?: string;
  status?: SubscriptionStatus;
  limitOverrides?: LimitOverrides;
  featureOverrides?: FeatureOverrides;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The columns a status needs to satisfy the table's checks (ended, grace, trial). */
function statusColumns(status: SubscriptionStatus) {
  const now = Date.now();
  return {
    status,
    endedAt: status === 'canceled' || status === 'expired' ? new Date(now - 1000) : null,
    graceEndsAt: status === 'past_due' ? new Date(now + 7 * DAY_MS) : null,
    trialEndsAt: status === 'trialing' ? new Date(now + 14 * DAY_MS) : null,
    canceledAt: status === 'canceled' ? new Date(now - 1000) : null,
    cancelAtPeriodEnd: false,
  };
}

export async function setSubscription(app: FastifyInstance, tenantId: string, setting: SubscriptionSetting): Promise<void> {
  await app.platform.db.withTenant(tenantId, async (tx) => {
    let planId: string | undefined;
    if (setting.plan !== undefined) {
      const [plan] = await tx.select({ id: plans.id }).from(plans).where(eq(plans.code, setting.plan));
      if (!plan) throw new Error(`No plan with code ${setting.plan}`);
      planId = plan.id;
    }
    await tx
      .update(subscriptions)
      .set({
        ...(planId ? { planId } : {}),
        ...(setting.status ? statusColumns(setting.status) : {}),
        ...(setting.limitOverrides ? { limitOverrides: setting.limitOverrides } : {}),
        ...(setting.featureOverrides ? { featureOverrides: setting.featureOverrides } : {}),
      })
      .where(eq(subscriptions.tenantId, tenantId));
  });
}
