import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { markRoutesPublic } from '../auth/route-guard.js';
import { notePlanRestrictions } from '../tenancy/route-entitlements.js';
import { documentIdempotentOperations, idempotencyKeyParameter, markIdempotentOperation } from './idempotency.js';
import { FieldErrorSchema, problemResponse, ProblemSchema } from './schemas.js';

const IMPERSONATION_NOTE = '`auth.impersonation_restricted`: an impersonation token may not use this route.';

/** Routes refused to impersonation tokens (`config.notWhileImpersonating`) say so in their 403. */
function noteImpersonationRestriction<S extends { response?: unknown }>(transformed: { schema: S; url: string }, route: { config?: unknown }): { schema: S; url: string } {
  if ((route.config as { notWhileImpersonating?: boolean } | undefined)?.notWhileImpersonating !== true) return transformed;
  const response = { ...((transformed.schema.response ?? {}) as Record<string, { description?: string }>) };
  const existing = response[403];
  response[403] = existing ? { ...existing, description: `${existing.description ?? ''} ${IMPERSONATION_NOTE}`.trim() } : problemResponse(IMPERSONATION_NOTE);
  return { ...transformed, schema: { ...transformed.schema, response } };
}

/**
 * OpenAPI 3.1 generated from the route schemas, served at /openapi.json, with a docs UI at /docs.
 * Schemas registered with an `$id` become named components.
 */
export const openApiPlugin = fp(async function openApi(app: FastifyInstance, options: { publicUrl: string; version: string }) {
  app.addSchema(FieldErrorSchema);
  app.addSchema(ProblemSchema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Atrium API',
        version: options.version,
        description:
          'Multi-tenant SaaS core. Errors are RFC 9457 `application/problem+json` documents with a stable `code`; every response carries `X-Request-Id`. POST requests accept an `Idempotency-Key` header.',
      },
      servers: [{ url: options.publicUrl }],
      tags: [
        { name: 'health', description: 'Liveness and readiness probes.' },
        { name: 'system', description: 'Metrics and API description.' },
        { name: 'auth', description: 'Sign-up, sign-in, sessions, tokens, MFA and the email flows; the keys that verify tokens.' },
        { name: 'tenants', description: 'The tenant itself: its profile, settings, ownership, members leaving it, and closing it.' },
        { name: 'users', description: 'People: the signed-in person and the members of a tenant.' },
        { name: 'invitations', description: 'Invitations to join a tenant: sending, listing, resending and revoking them (accepting is under auth).' },
        { name: 'stores', description: 'Stores (branches, locations) of a tenant, who works in each, and their settings.' },
        { name: 'roles', description: 'The permission catalog, built-in and custom roles, and who holds which role (tenant-wide or in one store).' },
        { name: 'plans', description: 'The plans a tenant can subscribe to: prices per billing cycle, trial, limits and features.' },
        { name: 'subscriptions', description: "The tenant's subscription: status, trial, usage against its limits, plan changes with proration, cancellation and the payment method." },
        { name: 'entitlements', description: 'What the tenant may use: the features and limits of its plan with the platform’s overrides.' },
        { name: 'admin', description: 'Platform administration: tenants, people, platform roles, statistics and impersonation (platform roles only).' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when configured.' },
        },
        parameters: { IdempotencyKey: idempotencyKeyParameter },
      },
    },
    // Every POST that honours Idempotency-Key references the shared header parameter; routes refused to
    // impersonation tokens, and those the plan can refuse (402), say so in their responses.
    transform: (input) => notePlanRestrictions(noteImpersonationRestriction(markIdempotentOperation(input), input.route), input.route),
    transformObject: (document) => ('openapiObject' in document ? documentIdempotentOperations(document.openapiObject) : document.swaggerObject),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });

  // The docs UI and its assets are public; they are registered in their own scope so only they are marked.
  await app.register(async (docs) => {
    markRoutesPublic(docs);
    // The UI loads the document from /docs/json (the same document as /openapi.json). BaseLayout: the
    // standalone layout's top bar (a URL box for browsing other APIs) draws its logo with an inline
    // <style> that the static CSP rightly blocks (checked in a real browser: scripts/check-docs-browser.ts).
    // Its CSP drops upgrade-insecure-requests over plain http, as helmet's does (see app.ts).
    const servesHttps = options.publicUrl.startsWith('https:');
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      transformStaticCSP: (header) => (servesHttps ? header : header.replace(/\s*upgrade-insecure-requests;?/, '')),
      uiConfig: { deepLinking: true, layout: 'BaseLayout' },
    });
  });

  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
});
