/**
 * Which routes the plan's part of a request concerns (DESIGN §4), decided from the route declaration
 * alone, so the guard that enforces it (billing's entitlement-guard.ts), the OpenAPI document that
 * announces it and the declaration tests cannot disagree:
 * - a tenant route is one guarded by a tenant permission (not public, not `self`, not `platform.*`);
 * - a mutating tenant route answers 402 `subscription.inactive` while the subscription is canceled or
 *   expired, unless it declares `allowWhenInactive`;
 * - a route declaring `feature` answers 402 `plan.feature_unavailable` when the plan lacks it.
 */
import { problemResponse } from '../http/schemas.js';
import { FEATURES, LIMITS, type Feature, type LimitKey } from './entitlements.js';

/** The parts of a route's `config` read here (see route-guard.ts). */
interface PlanRouteConfig {
  public?: boolean;
  permission?: string;
  allowWhenInactive?: boolean;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isMutatingMethod = (method: string) => !READ_METHODS.has(method.toUpperCase());

/** Guarded by a tenant permission: the caller acts in a tenant, under its plan. */
export function isTenantRoute(config: PlanRouteConfig | undefined): boolean {
  const permission = config?.permission;
  return config?.public !== true && typeof permission === 'string' && permission !== '' && permission !== 'self' && !permission.startsWith('platform.');
}

/** Refused (402 `subscription.inactive`) while the tenant's subscription is canceled or expired. */
export function isRefusedWhenInactive(method: string, config: PlanRouteConfig | undefined): boolean {
  return isMutatingMethod(method) && isTenantRoute(config) && config?.allowWhenInactive !== true;
}

export const INACTIVE_NOTE = '`subscription.inactive`: the subscription is canceled or expired, so the tenant is read-only until it subscribes again (billing routes stay open).';
export const featureNote = (feature: Feature) => `\`plan.feature_unavailable\`: the tenant’s plan does not include \`${feature}\` (${FEATURES[feature]}).`;

/**
 * The OpenAPI transform that says so in the 402 of each route concerned: what the route declares about
 * its own 402 (a limit) comes first, then the feature it needs, then read-only mode.
 */
export function notePlanRestrictions<S extends { response?: unknown }>(
  transformed: { schema: S; url: string },
  route: { method: string | string[]; config?: unknown },
): { schema: S; url: string } {
  const config = route.config as (PlanRouteConfig & { feature?: Feature }) | undefined;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const notes = [
    ...(config?.feature && isTenantRoute(config) ? [featureNote(config.feature)] : []),
    ...(methods.some((method) => isRefusedWhenInactive(method, config)) ? [INACTIVE_NOTE] : []),
  ];
  if (notes.length === 0) return transformed;
  const response = { ...((transformed.schema.response ?? {}) as Record<string, { description?: string }>) };
  const existing = response[402];
  const description = [existing?.description, ...notes].filter(Boolean).join(' Or ');
  response[402] = existing ? { ...existing, description } : problemResponse(description);
  return { ...transformed, schema: { ...transformed.schema, response } };
}

const LIMIT_WORDS: Partial<Record<LimitKey, string>> = {
  maxStores: 'live stores (delete one, or upgrade the plan)',
  maxUsers: 'seats — members, active or deactivated, plus pending invitations (remove a member, revoke an invitation, or upgrade the plan)',
};

/** The 402 of a route that adds something a plan limit counts. */
export const limitReachedResponse = (limit: LimitKey) =>
  problemResponse(`\`plan.limit_reached\` with \`limit: "${limit}"\`, \`current\` and \`max\`: the plan allows no more ${LIMIT_WORDS[limit] ?? LIMITS[limit]}.`);
