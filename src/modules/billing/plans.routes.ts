/**
 * `/api/v1/subscriptions/plans`: the public plan catalog, for pricing pages and sign-up — no credential
 * needed (a credential sent is ignored: the answer is the same for everyone). HTTP only; the rules live
 * in plans.service.ts.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { PlanListSchema, PublicPlanParams } from './plans.schemas.js';
import { getPublicPlan, listPublicPlans, type PlanDeps } from './plans.service.js';

/** How long browsers and shared caches may keep the catalog: plans change rarely, and never per caller. */
const MAX_AGE_SECONDS = 60;
const cacheable = (reply: FastifyReply) => reply.header('cache-control', `public, max-age=${MAX_AGE_SECONDS}`);

export async function publicPlanRoutes(untyped: FastifyInstance, options: { deps: PlanDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;

  app.get(
    '/',
    {
      config: { public: true },
      schema: {
        tags: ['plans'],
        summary: 'List the public plans',
        description:
          'The plans anyone can choose: public and not archived, by `sortOrder` then `code`, with their prices per billing cycle, trial, limits and features. No credential needed. ' +
          `Served whole (plans are few: no pages) with \`Cache-Control: public, max-age=${MAX_AGE_SECONDS}\`.`,
        response: { 200: PlanListSchema('The public plan catalog.'), ...standardErrors },
      },
    },
    async (_request, reply) => {
      const data = await listPublicPlans(deps);
      cacheable(reply);
      return { data };
    },
  );

  app.get(
    '/:id',
    {
      config: { public: true },
      schema: {
        tags: ['plans'],
        summary: 'Get a public plan',
        description:
          'One plan of the public catalog, by id or by code (`/plans/pro`). A private or archived plan answers 404 as an unknown one does. No credential needed; ' +
          `served with \`Cache-Control: public, max-age=${MAX_AGE_SECONDS}\`.`,
        params: PublicPlanParams,
        response: {
          200: { ...Type.Ref('Plan'), description: 'The plan.' },
          ...standardErrors,
          404: problemResponse('No public, unarchived plan has this id or code (`plan.not_found`).'),
        },
      },
    },
    async (request, reply) => {
      const plan = await getPublicPlan(deps, request.params.id);
      cacheable(reply);
      return plan;
    },
  );
}
