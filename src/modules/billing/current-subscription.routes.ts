/**
 * `/api/v1/subscriptions/current`: the tenant's own subscription — read it (details, usage, trial),
 * change its plan (with a preview of the proration), cancel, reactivate, record the payment method.
 * HTTP only; the rules live in current-subscription.service.ts and plan-change.service.ts.
 *
 * Reads need `billing.view`, changes `billing.manage` (the owner). Every POST/PUT here stays open to a
 * canceled or expired tenant (`allowWhenInactive`), so it can subscribe again.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { requestOrigin } from '../../core/audit/audit.js';
import { problemResponse } from '../../core/http/schemas.js';
import {
  bearer,
  CancelBody,
  ChangePlanBody,
  ChangePlanResponse,
  DetailsSchema,
  invalidTransition,
  PaymentMethodBody,
  ProrationSchema,
  SubscriptionRef,
  subscriptionRouteErrors,
  TrialSchema,
  UsageSchema,
} from './current-subscription.schemas.js';
import {
  cancelSubscription,
  getCurrentSubscription,
  getSubscriptionDetails,
  getSubscriptionUsage,
  getTrial,
  reactivateSubscription,
  setPaymentMethod,
  subscriptionActorOf,
  type SubscriptionDeps,
} from './current-subscription.service.js';
import { changePlan, previewPlanChange } from './plan-change.service.js';

const VIEW = 'billing.view';
const MANAGE = 'billing.manage';

const planChoiceErrors = {
  400: problemResponse('Invalid body (`request.validation_failed`), or the plan does not offer this billing cycle (`plan.cycle_not_offered`).'),
  404: problemResponse('No public plan has this id (`plan.not_found`); a private plan answers the same.'),
  409: problemResponse(
    '`plan.not_available`: the plan is archived, or priced in another currency than the active subscription; `subscription.plan_unchanged`: already on this plan and cycle with no change pending; ' +
      '`plan.downgrade_exceeds_limits`: current usage does not fit the new limits — `exceeded` lists each `{ limit, current, max }`.',
  ),
};

export async function currentSubscriptionRoutes(untyped: FastifyInstance, options: { deps: SubscriptionDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/',
    {
      config: { permission: VIEW },
      schema: {
        tags: ['subscriptions'],
        summary: 'Get the subscription',
        description: 'The tenant’s subscription: plan, billing cycle, status, current period, trial, scheduled cancellation or downgrade, payment method.',
        security: bearer,
        response: { 200: SubscriptionRef('The subscription.'), ...subscriptionRouteErrors },
      },
    },
    async (request) => getCurrentSubscription(deps, subscriptionActorOf(request.actor)),
  );

  app.get(
    '/details',
    {
      config: { permission: VIEW },
      schema: {
        tags: ['subscriptions'],
        summary: 'Get the subscription with its plan and entitlements',
        description: 'The subscription, its plan as the catalog shows it, and the features and limits the tenant has — the plan’s with the platform’s overrides, which are listed too.',
        security: bearer,
        response: { 200: DetailsSchema, ...subscriptionRouteErrors },
      },
    },
    async (request) => getSubscriptionDetails(deps, subscriptionActorOf(request.actor)),
  );

  app.get(
    '/usage',
    {
      config: { permission: VIEW },
      schema: {
        tags: ['subscriptions'],
        summary: 'Get usage against the limits',
        description:
          'Every limit in catalog order with the current count, the limit in effect (null: unlimited) and the percentage used. Seats count members (active or deactivated) and pending invitations; stores count live stores. Limits nothing counts yet read 0.',
        security: bearer,
        response: { 200: UsageSchema, ...subscriptionRouteErrors },
      },
    },
    async (request) => getSubscriptionUsage(deps, subscriptionActorOf(request.actor)),
  );

  app.get(
    '/trial',
    {
      config: { permission: VIEW },
      schema: {
        tags: ['subscriptions'],
        summary: 'Get the trial',
        description: 'Whether the subscription is trialing, when the trial ends, and the whole days left (rounded up).',
        security: bearer,
        response: { 200: TrialSchema, ...subscriptionRouteErrors },
      },
    },
    async (request) => getTrial(deps, subscriptionActorOf(request.actor), new Date()),
  );

  app.post(
    '/change-plan/preview',
    {
      config: { permission: VIEW, allowWhenInactive: true },
      schema: {
        tags: ['subscriptions'],
        summary: 'Preview a plan change',
        description:
          'What `POST /change-plan` would do now with the same body (`immediate` included), with the same checks (usage included; not the payment method): upgrade or downgrade, at once or at the period end, and the proration in minor units — credit for the unused time, charge for the new plan, computed to the second and rounded once. Changes nothing.',
        security: bearer,
        body: ChangePlanBody,
        response: { 200: ProrationSchema, ...subscriptionRouteErrors, ...planChoiceErrors },
      },
    },
    async (request) => previewPlanChange(deps, subscriptionActorOf(request.actor), request.body, new Date()),
  );

  app.post(
    '/change-plan',
    {
      config: { permission: MANAGE, allowWhenInactive: true },
      schema: {
        tags: ['subscriptions'],
        summary: 'Change the plan',
        description:
          'Trialing: the new plan applies at once and the trial goes on (nothing charged). Active or past due: an upgrade applies at once with the proration; a downgrade is scheduled for the period end (`pendingChange`), or applies at once with `immediate: true`. ' +
          'Canceled or expired: subscribes again — a new period from now at the full price, `active`. Anything applied at once needs current usage to fit the new limits. The current plan and cycle again withdraw a pending change. ' +
          'Writes `subscription.changed` (applied) or `subscription.change_scheduled` (scheduled or withdrawn), with the proration, to the audit log and the events.',
        security: bearer,
        body: ChangePlanBody,
        response: {
          200: ChangePlanResponse,
          ...subscriptionRouteErrors,
          ...planChoiceErrors,
          402: problemResponse('`subscription.payment_method_required`: the change has an amount due and no payment method is on file (PUT /current/payment-method).'),
        },
      },
    },
    async (request) => changePlan(deps, subscriptionActorOf(request.actor), requestOrigin(request), request.body, new Date()),
  );

  app.post(
    '/cancel',
    {
      config: { permission: MANAGE, allowWhenInactive: true },
      // Every field has a default: "cancel" with no body at all means the defaults.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
      schema: {
        tags: ['subscriptions'],
        summary: 'Cancel the subscription',
        description:
          'The body is optional. `atPeriodEnd: true` (default): served until the period (or trial) ends, then canceled — asking again changes nothing, and POST /reactivate undoes it until then. `atPeriodEnd: false`, or a past-due subscription: canceled now, and the tenant becomes read-only. Writes `subscription.canceled` with `atPeriodEnd` and `reason`.',
        security: bearer,
        body: CancelBody,
        response: { 200: SubscriptionRef('The subscription, canceled or scheduled to cancel.'), ...subscriptionRouteErrors, 409: invalidTransition('the subscription is canceled or expired already.') },
      },
    },
    async (request) => cancelSubscription(deps, subscriptionActorOf(request.actor), requestOrigin(request), request.body, new Date()),
  );

  app.post(
    '/reactivate',
    {
      config: { permission: MANAGE, allowWhenInactive: true },
      schema: {
        tags: ['subscriptions'],
        summary: 'Undo a scheduled cancellation',
        description: 'Keeps a trialing or active subscription that was scheduled to cancel at the period end, before the period ends. Writes `subscription.reactivated`.',
        security: bearer,
        response: {
          200: SubscriptionRef('The subscription, no longer scheduled to cancel.'),
          ...subscriptionRouteErrors,
          409: invalidTransition('no cancellation is scheduled, the subscription is canceled, expired or past due, or its period is over (subscribe again with POST /change-plan).'),
        },
      },
    },
    async (request) => reactivateSubscription(deps, subscriptionActorOf(request.actor), requestOrigin(request), new Date()),
  );

  app.put(
    '/payment-method',
    {
      config: { permission: MANAGE, allowWhenInactive: true, notWhileImpersonating: true },
      schema: {
        tags: ['subscriptions'],
        summary: 'Record the payment method',
        description:
          'Records the payment provider and its reference of the method (never card data), replacing any earlier one; charging comes with payments. Writes `subscription.payment_method_updated`, naming the provider only.',
        security: bearer,
        body: PaymentMethodBody,
        response: {
          200: SubscriptionRef('The subscription with its payment method.'),
          ...subscriptionRouteErrors,
          403: problemResponse(`${subscriptionRouteErrors[403].description} Refused to an impersonation session (\`auth.impersonation_restricted\`).`),
        },
      },
    },
    async (request) => setPaymentMethod(deps, subscriptionActorOf(request.actor), requestOrigin(request), request.body, new Date()),
  );
}
