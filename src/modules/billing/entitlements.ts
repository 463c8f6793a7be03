/**
 * The entitlements service: what a tenant may use, from its plan and the platform's overrides.
 *
 * - `hasFeature` and `get` answer from a bounded per-process LRU keyed by the tenant's entitlements
 *   revision, which authentication reads with every request (`session_actor`): any change of the
 *   subscription, its overrides or its plan takes a new revision in its own transaction, so every process
 *   sees it at its next request, with no broadcast to miss. A hit costs no query and no promise.
 * - `assertWithinLimit` never trusts a cache: it reads the limit under locks and counts in the transaction
 *   of the insert, so parallel creates cannot exceed a limit together (see `lockLimit`).
 * - `startSubscription` puts a new tenant on the signup plan (configuration), in trial when it has days.
 */
import { sql } from 'drizzle-orm';
import type { Config } from '../../config.js';
import { createVersionedCache } from '../../core/cache/versioned-cache.js';
import type { Database, Tx } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { LIMITS, type Entitlements, type Feature, type LimitKey, type PlanLimits } from '../../core/tenancy/entitlements.js';
import { addCycle, addDays } from './periods.js';
import { findPlanByCode, type PlanRow } from './plans.repository.js';
import { countUsage, findSubscription, insertSubscription, type SubscriptionWithPlan } from './subscriptions.repository.js';
import type { SubscriptionRow, SubscriptionStatus } from './subscriptions.table.js';

export interface TenantEntitlements {
  /** The cache key it was read at (max of the subscription's and the plan's revisions). */
  revision: number;
  status: SubscriptionStatus;
  plan: { id: string; code: string; name: string };
  features: Feature[];
  limits: PlanLimits;
}

/** The plan's features and limits with the tenant's overrides applied. */
export function resolveEntitlements(plan: Pick<PlanRow, 'features' | 'limits'>, subscription: Pick<SubscriptionRow, 'featureOverrides' | 'limitOverrides'>) {
  const features = new Set(plan.features as Feature[]);
  for (const [feature, enabled] of Object.entries(subscription.featureOverrides) as Array<[Feature, boolean]>) {
    if (enabled) features.add(feature);
    else features.delete(feature);
  }
  const limits = { ...plan.limits };
  for (const [limit, max] of Object.entries(subscription.limitOverrides) as Array<[LimitKey, number | null]>) limits[limit] = max;
  return { features: [...features].sort(), limits };
}

export function presentEntitlements({ subscription, plan }: SubscriptionWithPlan): TenantEntitlements {
  return {
    revision: Math.max(subscription.revision, plan.revision),
    status: subscription.status,
    plan: { id: plan.id, code: plan.code, name: plan.name },
    ...resolveEntitlements(plan, subscription),
  };
}

/** Usage of every limit; limits nothing counts yet (storage, API calls, webhooks, API keys) are 0. */
export async function currentUsage(tx: Tx, tenantId: string): Promise<Record<LimitKey, number>> {
  const counted = await countUsage(tx, tenantId);
  return { maxUsers: counted.maxUsers, maxStores: counted.maxStores, maxStorageMb: 0, maxApiCallsPerMonth: 0, maxWebhookEndpoints: 0, maxApiKeys: 0 };
}

/**
 * The tenant's effective `limit` (null: unlimited), read under two locks held until the transaction ends:
 * - the subscription row FOR SHARE: creates run side by side, while a change of the plan, status or
 *   overrides (which locks the row exclusively) waits for them, and creates after it see its new limit;
 * - when the limit is a number, an advisory lock on (tenant, limit): the creates of one limited thing
 *   count one after the other, so parallel requests cannot pass the limit together. The count follows in
 *   its own statement, whose snapshot sees every create committed before the lock was granted.
 * An unlimited plan therefore pays one statement and serialises nothing.
 */
async function lockLimit(tx: Tx, tenantId: string, limit: LimitKey): Promise<number | null> {
  const result = await tx.execute<{ max: number | null }>(sql`
    SELECT CASE WHEN jsonb_typeof(m.max) = 'number' THEN (SELECT m.max FROM pg_advisory_xact_lock(hashtextextended(${`atrium.limit:${tenantId}:${limit}`}, 0))) END AS max
      FROM (SELECT CASE WHEN s.limit_overrides ? ${limit} THEN s.limit_overrides -> ${limit} ELSE p.limits -> ${limit} END AS max
              FROM subscriptions s JOIN plans p ON p.id = s.plan_id
             WHERE s.tenant_id = ${tenantId}
               FOR SHARE OF s) AS m`);
  const row = result.rows[0];
  if (!row) throw new AppError('tenant.not_found', 'No subscription for this tenant.');
  return row.max === null ? null : Number(row.max);
}

export interface EntitlementsService extends Entitlements {
  /** The tenant's entitlements at `revision` (the actor's): synchronous on a cache hit. */
  get(tenantId: string, revision: number): TenantEntitlements | Promise<TenantEntitlements>;
  hasFeature(tenantId: string, feature: Feature, revision: number): boolean | Promise<boolean>;
  /** Entries cached in this process (metrics, tests). */
  readonly size: number;
  clear(): void;
}

export interface EntitlementsOptions {
  db: Database;
  config: Pick<Config, 'billing'>;
  maxEntries?: number;
  /** The clock (tests inject one). */
  now?: () => Date;
}

export function createEntitlements(options: EntitlementsOptions): EntitlementsService {
  const now = options.now ?? (() => new Date());
  const cache = createVersionedCache<TenantEntitlements>({
    load: async (tenantId) => {
      const found = await options.db.withTenant(tenantId, (tx) => findSubscription(tx, tenantId));
      if (!found) throw new AppError('tenant.not_found', 'No subscription for this tenant.');
      return presentEntitlements(found);
    },
    versionOf: (entitlements) => entitlements.revision,
    maxEntries: options.maxEntries,
  });
  const get = (tenantId: string, revision: number) => cache.get(tenantId, revision);

  return {
    get,
    hasFeature(tenantId, feature, revision) {
      const value = get(tenantId, revision);
      return value instanceof Promise ? value.then((loaded) => loaded.features.includes(feature)) : value.features.includes(feature);
    },

    async startSubscription(tx, tenantId) {
      const { signupPlan, signupTrialDays } = options.config.billing;
      const plan = await findPlanByCode(tx, signupPlan);
      if (!plan) throw new Error(`BILLING_SIGNUP_PLAN names no plan: "${signupPlan}"`);
      const trialDays = signupTrialDays ?? plan.trialDays;
      const start = now();
      const trialEnd = trialDays > 0 ? addDays(start, trialDays) : null;
      await insertSubscription(tx, {
        tenantId,
        planId: plan.id,
        status: trialEnd ? 'trialing' : 'active',
        billingCycle: 'monthly',
        currentPeriodStart: start,
        currentPeriodEnd: trialEnd ?? addCycle(start, 'monthly'),
        trialEndsAt: trialEnd,
      });
    },

    async assertWithinLimit(tx, tenantId, limit, adding = 1) {
      const max = await lockLimit(tx, tenantId, limit);
      if (max === null) return;
      const current = (await currentUsage(tx, tenantId))[limit];
      if (current + adding > max) {
        throw new AppError('plan.limit_reached', `The plan allows ${max} (${LIMITS[limit]}); the tenant has ${current}. Upgrade the plan to add more.`, { limit, current, max });
      }
    },

    get size() {
      return cache.size;
    },
    clear: () => cache.clear(),
  };
}
