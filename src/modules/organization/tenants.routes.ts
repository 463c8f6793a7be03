/**
 * `/api/v1/tenants`: the tenant the token acts in (`/current`: profile, settings, ownership, leaving,
 * closing) and creating another one. HTTP only — each handler makes one service call. The tenant is
 * always the token's (`actor.tenantId`), never one named by the request.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requestOrigin } from '../../core/audit/audit.js';
import { AppError } from '../../core/http/errors.js';
import { limitPerActor } from '../../core/http/rate-limit.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { SELF, signedInPerson } from '../identity/index.js';
import type { OrganizationDeps } from './deps.js';
import { closeTenant } from './tenant-closure.js';
import { TenantSettingsPatchSchema, TenantSettingsSchema } from './tenant-settings.js';
import {
  CloseTenantBody,
  CreateTenantBody,
  OwnershipTransferSchema,
  TenantClosureSchema,
  TenantProfileSchema,
  TransferOwnershipBody,
  UpdateTenantBody,
} from './tenants.schemas.js';
import {
  createTenant,
  getCurrentTenant,
  getTenantSettings,
  leaveTenant,
  transferOwnership,
  updateCurrentTenant,
  updateCurrentTenantSettings,
  type TenantMember,
} from './tenants.service.js';

/** Tenants one person may create per hour: plenty for people, a brake on scripts. */
export const TENANT_CREATIONS_PER_HOUR = 10;

const bearer = [{ bearerAuth: [] }];
const unauthenticated = problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).');
const passwordUnauthenticated = problemResponse('`auth.unauthenticated` (no valid access token) or `auth.invalid_credentials` (wrong password).');
const tenantForbidden = (what: string) =>
  problemResponse(
    `${what} (\`auth.forbidden\`); no active access to the token’s tenant — membership deactivated, tenant suspended or closed (\`auth.tenant_access_revoked\`); or the tenant requires MFA and you have none (\`auth.mfa_enrollment_required\`).`,
  );
const tooManyAttempts = problemResponse('`auth.too_many_attempts`: too many wrong passwords (per account and per client address); see Retry-After. Or `rate_limit.exceeded`.');
const hashingBusy = problemResponse('`service.unavailable`: too many password checks are running; retry shortly (Retry-After).');

/** The person acting in the token's tenant (tenant-scoped routes: authentication has checked both). */
function tenantMember(request: FastifyRequest): TenantMember {
  const person = signedInPerson(request.actor);
  if (!person.tenantId) throw new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
  return { userId: person.userId, tenantId: person.tenantId };
}

export async function tenantRoutes(untyped: FastifyInstance, options: { deps: OrganizationDeps }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { deps } = options;
  for (const schema of [TenantProfileSchema, TenantSettingsSchema, OwnershipTransferSchema, TenantClosureSchema]) app.addSchema(schema);

  app.get(
    '/current',
    {
      config: { permission: 'tenant.view' },
      schema: {
        tags: ['tenants'],
        summary: 'The current tenant',
        description: 'The tenant the access token acts in.',
        security: bearer,
        response: { 200: { ...Type.Ref('TenantProfile'), description: 'The tenant.' }, ...standardErrors, 401: unauthenticated, 403: tenantForbidden('Not a person’s session') },
      },
    },
    async (request) => getCurrentTenant(deps, tenantMember(request)),
  );

  app.patch(
    '/current',
    {
      config: { permission: 'tenant.manage' },
      schema: {
        tags: ['tenants'],
        summary: 'Rename the tenant or change its slug',
        description:
          'Changes the name and/or the slug. The slug is 3–63 lowercase letters, digits and single hyphens, not a reserved name (`admin`, `api`, `www`, `app`, `mail`, …), and unique across tenants. Writes the `tenant.updated` audit row and event.',
        security: bearer,
        body: UpdateTenantBody,
        response: {
          200: { ...Type.Ref('TenantProfile'), description: 'The tenant as changed.' },
          ...standardErrors,
          400: problemResponse('Invalid body (`request.validation_failed`): e.g. `/slug` badly formed or reserved, `/name` blank.'),
          401: unauthenticated,
          403: tenantForbidden('Your role may not change the tenant'),
          409: problemResponse('`tenant.slug_taken`: another tenant uses this slug.'),
        },
      },
    },
    async (request) => updateCurrentTenant(deps, tenantMember(request), request.body, requestOrigin(request)),
  );

  app.get(
    '/current/settings',
    {
      config: { permission: 'tenant.view' },
      schema: {
        tags: ['tenants'],
        summary: 'The tenant settings',
        description: 'Every setting of the current tenant, with defaults filled in for those never set.',
        security: bearer,
        response: { 200: { ...Type.Ref('TenantSettings'), description: 'The settings.' }, ...standardErrors, 401: unauthenticated, 403: tenantForbidden('Not a person’s session') },
      },
    },
    async (request) => getTenantSettings(deps, tenantMember(request)),
  );

  app.patch(
    '/current/settings',
    {
      config: { permission: 'settings.manage' },
      schema: {
        tags: ['tenants'],
        summary: 'Change tenant settings',
        description:
          'Changes the settings named in the body; the rest keep their value, and `branding` and `security` are merged key by key. Every value is validated: an unknown time zone, currency or locale answers 400 naming the field (`/timezone`). Turning on `security.mfaRequired` restricts members without MFA to setting it up; `security.sessionMaxAgeMinutes` ends older sessions in this tenant. Writes the `tenant.settings_updated` audit row and event.',
        security: bearer,
        body: TenantSettingsPatchSchema,
        response: {
          200: { ...Type.Ref('TenantSettings'), description: 'Every setting after the change.' },
          ...standardErrors,
          401: unauthenticated,
          403: tenantForbidden('Your role may not change the settings'),
        },
      },
    },
    async (request) => updateCurrentTenantSettings(deps, tenantMember(request), request.body, requestOrigin(request)),
  );

  app.post(
    '/',
    {
      config: {
        permission: SELF,
        rateLimit: { ...limitPerActor({ max: TENANT_CREATIONS_PER_HOUR, timeWindow: '1 hour' }), keyGenerator: (request) => `tenants:create:${request.actor?.userId ?? request.ip}` },
        notWhileImpersonating: true,
      },
      schema: {
        tags: ['tenants'],
        summary: 'Create a tenant',
        description:
          'Creates a tenant owned by the signed-in person (one person, many tenants), with a slug derived from its name. The session stays in its tenant; POST /api/v1/auth/switch-tenant moves it to the new one. Writes the `tenant.created` audit row and event. Honours Idempotency-Key.',
        security: bearer,
        body: CreateTenantBody,
        response: {
          201: { ...Type.Ref('TenantProfile'), description: 'The new tenant.' },
          ...standardErrors,
          401: unauthenticated,
          403: problemResponse('The credential is not a person’s session, e.g. an API key (`auth.forbidden`).'),
          409: problemResponse('`resource.conflict`: no free slug could be derived from the name; try another name.'),
          429: problemResponse(`\`rate_limit.exceeded\`: more than ${TENANT_CREATIONS_PER_HOUR} tenants created in an hour; see Retry-After.`),
        },
      },
    },
    async (request, reply) => {
      const tenant = await createTenant(deps, signedInPerson(request.actor), request.body, requestOrigin(request));
      return reply.code(201).send(tenant);
    },
  );

  app.post(
    '/current/transfer-ownership',
    {
      // The body carries a password, whose fingerprint must not be stored for replays.
      config: { permission: 'tenant.transfer', idempotency: false, notWhileImpersonating: true },
      schema: {
        tags: ['tenants'],
        summary: 'Hand the ownership over',
        description:
          'The owner, confirming with their password, makes another active member the owner and becomes an admin, in one step: the tenant always has exactly one owner. Writes the `tenant.ownership_transferred` audit row and event.',
        security: bearer,
        body: TransferOwnershipBody,
        response: {
          200: { ...Type.Ref('OwnershipTransfer'), description: 'The ownership moved.' },
          ...standardErrors,
          400: problemResponse('Invalid body (`request.validation_failed`), e.g. `/userId` is the caller.'),
          401: passwordUnauthenticated,
          403: tenantForbidden('Only the owner may hand the ownership over'),
          404: problemResponse('`member.not_found`: no active member of this tenant has that id.'),
          429: tooManyAttempts,
          503: hashingBusy,
        },
      },
    },
    async (request) => transferOwnership(deps, tenantMember(request), request.body, requestOrigin(request)),
  );

  app.post(
    '/current/leave',
    {
      // Leaving creates nothing a retry could duplicate. Open in read-only mode: nobody is held in a tenant
      // because its subscription lapsed.
      config: { permission: 'tenant.view', idempotency: false, notWhileImpersonating: true, allowWhenInactive: true },
      schema: {
        tags: ['tenants'],
        summary: 'Leave the tenant',
        description:
          'Removes the caller’s membership (and their store assignments); their tokens for this tenant stop working at once (switch to another tenant). The owner must transfer the ownership first. Writes the `member.left` audit row and event.',
        security: bearer,
        response: {
          204: Type.Null({ description: 'You are no longer a member.' }),
          ...standardErrors,
          401: unauthenticated,
          403: tenantForbidden('Not a person’s session'),
          409: problemResponse('`tenant.owner_cannot_leave`: transfer the ownership first.'),
        },
      },
    },
    async (request, reply) => {
      await leaveTenant(deps, tenantMember(request), requestOrigin(request));
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/current',
    {
      // Open in read-only mode: a tenant that stopped paying can still close itself.
      config: { permission: 'tenant.delete', notWhileImpersonating: true, allowWhenInactive: true },
      schema: {
        tags: ['tenants'],
        summary: 'Close the tenant',
        description:
          'The owner closes the tenant, confirming with its slug in `confirm` and their password. Every member loses access at once. A platform administrator can restore it until `restorableUntil` (TENANT_RESTORE_DAYS, default 30 days); then it is purged with all its data. Writes the `tenant.closed` audit row and event.',
        security: bearer,
        body: CloseTenantBody,
        response: {
          202: { ...Type.Ref('TenantClosure'), description: 'The tenant is closed and scheduled for purging.' },
          ...standardErrors,
          400: problemResponse('`tenant.confirmation_mismatch` (`confirm` is not the tenant’s slug) or an invalid body.'),
          401: passwordUnauthenticated,
          403: tenantForbidden('Only the owner may close the tenant'),
          429: tooManyAttempts,
          503: hashingBusy,
        },
      },
    },
    async (request, reply) => {
      const closure = await closeTenant(deps, tenantMember(request), request.body, requestOrigin(request));
      return reply.code(202).send(closure);
    },
  );
}
