/**
 * `/api/v1/admin/plans`: plan administration for platform staff. HTTP only — schemas, permission, one
 * service call; the rules live in plans.service.ts. Reads need `platform.view` (administrators and
 * operators); every change needs `platform.plans.manage` (administrators) and lands in the platform audit
 * trail. Subscriptions do not exist yet: archiving only takes the plan out of what can be chosen.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { problemResponse } from '../../core/http/schemas.js';
import { signedInPerson } from '../identity/index.js';
import { AdminPlanParams, adminPlanRouteErrors, bearer, CreatePlanBody, ListAdminPlansQuery, PlanListSchema, planNotFound, UpdatePlanBody } from './plans.schemas.js';
import { createPlan, getAdminPlan, listAdminPlans, setAdminPlanArchived, updateAdminPlan, type PlanDeps, type PlanStaff } from './plans.service.js';

const PlanRef = (description: string) => ({ ...Type.Ref('Plan'), description });
const READ = 'platform.view';
const MANAGE = 'platform.plans.manage';

/** The platform staff member behind the request (the platform permission check has passed). */
const staffOf = (request: FastifyRequest): PlanStaff => ({ userId: signedInPerson(request.actor).userId });

const invalidBody = (examples: string) => problemResponse(`Invalid body (\`request.validation_failed\`, one entry per field): e.g. ${examples}.`);

export async function adminPlanRoutes(untyped: FastifyInstance, options: { deps: PlanDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/',
    {
      config: { permission: READ },
      schema: {
        tags: ['plans'],
        summary: 'List every plan',
        description: 'Every plan, private and archived ones included, by `sortOrder` then `code`; `archived=true|false` filters. Served whole (plans are few: no pages).',
        security: bearer,
        querystring: ListAdminPlansQuery,
        response: { 200: PlanListSchema('The plans.'), ...adminPlanRouteErrors },
      },
    },
    async (request) => ({ data: await listAdminPlans(deps, request.query) }),
  );

  app.get(
    '/:id',
    {
      config: { permission: READ },
      schema: {
        tags: ['plans'],
        summary: 'Get a plan',
        description: 'Any plan, private or archived.',
        security: bearer,
        params: AdminPlanParams,
        response: { 200: PlanRef('The plan.'), ...adminPlanRouteErrors, 404: planNotFound },
      },
    },
    async (request) => getAdminPlan(deps, request.params.id),
  );

  app.post(
    '/',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['plans'],
        summary: 'Create a plan',
        description:
          'Creates a plan: prices per billing cycle in integer minor units of an ISO 4217 `currency` (at least one cycle offered), `trialDays`, every limit of the catalog (null: unlimited), features of the catalog. ' +
          'Writes the `plan.created` platform audit row. Honours Idempotency-Key.',
        security: bearer,
        body: CreatePlanBody,
        response: {
          201: PlanRef('The new plan.'),
          ...adminPlanRouteErrors,
          400: invalidBody('`/currency` not ISO 4217, `/prices` offering no cycle, `/prices/monthly` negative, `/limits/maxUsers` missing, `/features/0` not in the catalog, `/trialDays` over 365, `/code` shaped like a UUID'),
          409: problemResponse('`plan.code_taken`: another plan uses this code.'),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await createPlan(deps, staffOf(request), request.body, requestOrigin(request))),
  );

  app.patch(
    '/:id',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['plans'],
        summary: 'Change a plan',
        description:
          'Changes the fields given. `prices` and `limits` are merged: the keys given replace theirs, the others are kept. `code` cannot change (400 naming `/code`). An archived plan can be changed too and stays archived. ' +
          'Subscriptions (a later feature) will follow the plan’s current terms. Writes the `plan.updated` platform audit row with the fields before and after; a request that changes nothing writes nothing.',
        security: bearer,
        params: AdminPlanParams,
        body: UpdatePlanBody,
        response: {
          200: PlanRef('The plan as changed.'),
          ...adminPlanRouteErrors,
          400: invalidBody('`/code` given, `/currency` not ISO 4217, `/prices` leaving no cycle offered, `/features/1` not in the catalog'),
          404: planNotFound,
        },
      },
    },
    async (request) => updateAdminPlan(deps, staffOf(request), request.params.id, request.body, requestOrigin(request)),
  );

  app.post(
    '/:id/archive',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['plans'],
        summary: 'Archive a plan',
        description:
          'Nobody new can choose the plan: it leaves the public catalog (GET /api/v1/subscriptions/plans and /:id answer 404 for it). Existing subscribers keep it (subscriptions arrive later; nothing else changes now). ' +
          'An archived plan is answered as it is (200, unchanged). Writes the `plan.archived` platform audit row.',
        security: bearer,
        params: AdminPlanParams,
        response: { 200: PlanRef('The archived plan.'), ...adminPlanRouteErrors, 404: planNotFound },
      },
    },
    async (request) => setAdminPlanArchived(deps, staffOf(request), request.params.id, true, requestOrigin(request)),
  );

  app.post(
    '/:id/unarchive',
    {
      config: { permission: MANAGE },
      schema: {
        tags: ['plans'],
        summary: 'Unarchive a plan',
        description:
          'The plan can be chosen again (and is back in the public catalog if `isPublic`). A plan that is not archived is answered as it is (200, unchanged). Writes the `plan.unarchived` platform audit row.',
        security: bearer,
        params: AdminPlanParams,
        response: { 200: PlanRef('The plan, no longer archived.'), ...adminPlanRouteErrors, 404: planNotFound },
      },
    },
    async (request) => setAdminPlanArchived(deps, staffOf(request), request.params.id, false, requestOrigin(request)),
  );
}
