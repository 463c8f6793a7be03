/** `/api/v1/admin/stats`: the platform in numbers, for holders of `platform.view`. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { platformStats, SIGNUP_DAYS } from './stats.service.js';
import { adminRouteErrors, bearer, PlatformStatsSchema } from './users.admin.schemas.js';

export async function statsRoutes(untyped: FastifyInstance) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = app.platform;
  app.addSchema(PlatformStatsSchema);

  app.get(
    '/',
    {
      config: { permission: 'platform.view' },
      schema: {
        tags: ['admin'],
        summary: 'Platform statistics',
        description: `Tenants by status, people (and how many are disabled), live stores, and sign-ups per UTC day over the last ${SIGNUP_DAYS} days (today last, every day present).`,
        security: bearer,
        response: { 200: { ...Type.Ref('PlatformStats'), description: 'The numbers as of now.' }, ...adminRouteErrors },
      },
    },
    async () => platformStats(db),
  );
}
