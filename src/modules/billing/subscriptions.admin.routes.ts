/**
 * `/api/v1/admin/tenants/:id/subscription` and `/entitlements`: platform administration of one tenant's
 * subscription and of its feature and limit overrides. HTTP only — schemas, permission, one service call;
 * the rules live in subscriptions.admin.service.ts. Reads need `platform.view` (administrators and
 * operators); changes `platform.tenants.manage` (administrators), and land in both audit trails.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestOrigin } from '../../core/audit/audit.js';
import { problemResponse } from '../../core/http/schemas.js';
import { signedInPerson } from '../identity/index.js';
import {
  AdminEntitlementsSchema,
  AdminSubscriptionSchema,
  adminSubscriptionRouteErrors,
  AdminTenantSubscriptionParams,
  bearer,
  tenantNotFound,
  UpdateAdminSubscriptionBody,
  UpdateEntitlementsBody,
} from './subscriptions.admin.schemas.js';
import {
  changeTenantSubscription,
  getTenantEntitlements,
  getTenantSubscription,
  setTenantEntitlements,
  type SubscriptionAdminDeps,
  type SubscriptionStaff,
} from './subscriptions.admin.service.js';

const READ = 'platform.view';
const MANAGE = 'platform.tenants.manage';

/** The platform staff member behind the request (the platform permission check has passed). */
const staffOf = (request: FastifyRequest): SubscriptionStaff => ({ userId: signedInPerson(request.actor).userId });

export async function adminSubscriptionRoutes(untyped: FastifyInstance, options: { deps: SubscriptionAdminDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/:id/subscription',
    {
      config: { permission: READ },
      schema: {
        tags: ['admin'],
        summary: "Get a tenant's subscription",
        description:
          'The subscription of any tenant (closed ones included, until purged), with its effective entitlements (the plan’s features and limits with the overrides), the platform’s overrides, the current usage of every limit, and the limits the usage exceeds.',
        security: bearer,
        params: AdminTenantSubscriptionParams,
        response: { 200: { ...AdminSubscriptionSchema, description: 'The subscription.' }, ...adminSubscriptionRouteErrors, 404: tenantNotFound },
      },
    },
    async (request) => getTenantSubscription(deps, staffOf(request), request.params.id),
  );

  app.put(
    '/:id/subscription',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: "Set a tenant's plan, status or trial",
        description:
          'An administrative decision, applied at once. `planId`: any plan, private or archived included, with no proration and no usage check (the limits the usage exceeds are answered in `exceeded`); `billingCycle` must be offered by the plan; a cycle change of an active or past_due subscription starts a new period now. ' +
          '`status` follows the state machine: `active` from trialing, canceled or expired starts a new period now (from past_due: the grace period ends); `past_due` sets the grace end (BILLING_GRACE_DAYS); `canceled`/`expired` end it now; `trialing` (from expired) needs `trialEndsAt`. ' +
          '`trialEndsAt` (future, at most 365 days ahead) sets or extends a running trial (the period ends with it). A scheduled downgrade is dropped when the plan, the cycle or the period changes. ' +
          'Writes the `subscription.changed` (or `subscription.trial_extended`) audit row and event, and the `platform.subscription_changed` (`platform.subscription_trial_extended`) platform audit row with `reason`. A request that changes nothing writes nothing. The tenant’s members see the new entitlements at their next request.',
        security: bearer,
        params: AdminTenantSubscriptionParams,
        body: UpdateAdminSubscriptionBody,
        response: {
          200: { ...AdminSubscriptionSchema, description: 'The subscription as changed.' },
          ...adminSubscriptionRouteErrors,
          400: problemResponse(
            'Invalid body (`request.validation_failed`, one entry per field): none of `planId`, `billingCycle`, `status`, `trialEndsAt` given; `/trialEndsAt` not in the future, more than 365 days ahead, or missing with `status: trialing`; `/reason` over 500 characters. `plan.cycle_not_offered`: the plan does not offer the billing cycle.',
          ),
          404: problemResponse('No tenant has this id (`tenant.not_found`), or no plan has `planId` (`plan.not_found`).'),
          409: problemResponse(
            '`subscription.invalid_transition`: the state machine does not allow this status from the current one, or `trialEndsAt` is given for a subscription that is not (and does not become) trialing.',
          ),
        },
      },
    },
    async (request) => changeTenantSubscription(deps, staffOf(request), request.params.id, request.body, requestOrigin(request)),
  );

  app.get(
    '/:id/entitlements',
    {
      config: { permission: READ },
      schema: {
        tags: ['admin'],
        summary: "Get a tenant's entitlements and overrides",
        description: 'The effective features and limits of any tenant (its plan’s, with the platform’s overrides applied), and the overrides themselves.',
        security: bearer,
        params: AdminTenantSubscriptionParams,
        response: { 200: { ...AdminEntitlementsSchema, description: 'The entitlements.' }, ...adminSubscriptionRouteErrors, 404: tenantNotFound },
      },
    },
    async (request) => getTenantEntitlements(deps, staffOf(request), request.params.id),
  );

  app.put(
    '/:id/entitlements',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['admin'],
        summary: "Replace a tenant's feature and limit overrides",
        description:
          'Replaces the overrides as a whole: `features` turns feature codes on (true) or off (false) whatever the plan says; `limits` replaces limits (an integer ≥ 0, or null: unlimited). A code or key omitted follows the plan; `{}` clears every override. ' +
          'Lowering a limit below the usage removes nothing; new things are refused. Writes the `subscription.entitlements_changed` audit row and event, and the `platform.entitlements_changed` platform audit row. A request that changes nothing writes nothing. The tenant’s members see the new entitlements at their next request.',
        security: bearer,
        params: AdminTenantSubscriptionParams,
        body: UpdateEntitlementsBody,
        response: {
          200: { ...AdminEntitlementsSchema, description: 'The entitlements as changed.' },
          ...adminSubscriptionRouteErrors,
          400: problemResponse('Invalid body (`request.validation_failed`, one entry per field): e.g. `/features/teleport` not a feature code, `/limits/maxSeats` not a limit key, `/limits/maxUsers` negative or not an integer.'),
          404: tenantNotFound,
        },
      },
    },
    async (request) => setTenantEntitlements(deps, staffOf(request), request.params.id, request.body, requestOrigin(request)),
  );
}
