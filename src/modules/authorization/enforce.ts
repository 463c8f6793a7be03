/**
 * The central permission check (DESIGN §4): every route declares `config.permission` (or `public`), and
 * this hook enforces it right after authentication, before the body is even validated, so a caller
 * without the permission learns nothing about the route's input.
 *
 * - `self`: any signed-in person, about their own account.
 * - `platform.*`: the person's platform role (`/api/v1/admin`).
 * - anything else acts in the credential's tenant, in this order: the membership and tenant are active
 *   (403 `auth.tenant_access_revoked`), the tenant's MFA requirement is met (403
 *   `auth.mfa_enrollment_required`), the store named by `X-Store-ID` is one the member may act in (403
 *   `store.access_denied`), and the member holds the permission (403 `auth.forbidden`) — tenant-wide, or
 *   through a store role in the request's store, in which case a route about one store
 *   (`config.storeParam`) must be about that store.
 * Routes marked `notWhileImpersonating` (credentials, MFA, ownership) refuse impersonation tokens.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { unauthenticated } from '../../core/auth/route-guard.js';
import { AppError } from '../../core/http/errors.js';
import type { Actor } from '../../core/http/request-context.js';
import { SELF } from '../identity/index.js';
import { grantScope, type CustomGrants, type GrantsCache } from './grants.js';
import { isPlatformPermission, platformRoleHas } from './permissions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The member's custom grants, once the permission check has read them (tenant-permission routes). */
    grants?: CustomGrants;
  }
}

/**
 * Whether the member behind a tenant-permission request holds `permission` tenant-wide (not only through
 * a store role): for rules finer than the route's permission (moving the headquarters in PATCH /stores/:id).
 */
export function holdsTenantWide(request: FastifyRequest, permission: string): boolean {
  const { actor, grants } = request;
  return actor !== undefined && grants !== undefined && isTenantWide(actor, grants, permission);
}

const isTenantWide = (actor: Actor, grants: CustomGrants, permission: string) => grantScope({ ...actor, storeId: undefined }, grants, permission) === 'tenant';

function refuse(code: 'auth.forbidden' | 'store.access_denied' | 'auth.impersonation_restricted', detail: string): AppError {
  return new AppError(code, detail);
}

/** Checks a tenant permission against the actor's grants; null when allowed. */
export function checkTenantPermission(request: FastifyRequest, actor: Actor, grants: CustomGrants, permission: string): AppError | null {
  // A live store of the tenant, where the person is assigned or holds stores.manage tenant-wide.
  const mayActInStore = actor.storeId !== undefined && (actor.storeRole !== undefined || isTenantWide(actor, grants, 'stores.manage'));
  if (request.headers['x-store-id'] && !mayActInStore) {
    return refuse('store.access_denied', 'You may not act in that store (X-Store-ID): it is not one of the stores you are assigned to.');
  }
  const scope = grantScope(actor, grants, permission);
  if (scope === null) return refuse('auth.forbidden', `Your roles in this tenant do not allow this (${permission}).`);
  const storeParam = request.routeOptions.config.storeParam;
  if (scope === 'store' && storeParam) {
    const target = (request.params as Record<string, string | undefined>)[storeParam];
    if (target?.toLowerCase() !== actor.storeId) {
      return refuse('store.access_denied', `You hold ${permission} only in the store you act in (X-Store-ID), and this is about another store.`);
    }
  }
  return null;
}

/** The first reason the request may not proceed, before the member's grants are needed; null when none. */
function precheck(request: FastifyRequest, permission: string): AppError | null | 'tenant' {
  const { actor } = request;
  if (!actor) return unauthenticated();
  if (permission === SELF) return null;
  if (isPlatformPermission(permission)) {
    if (actor.impersonatorId || !platformRoleHas(actor.platformRole, permission)) {
      return refuse('auth.forbidden', `This is platform administration; your platform role does not allow it (${permission}).`);
    }
    return null;
  }
  if (actor.tenantAccessRevoked) {
    return new AppError('auth.tenant_access_revoked', 'Your access to this tenant is no longer active; switch to another tenant.');
  }
  if (!actor.tenantId || !actor.userId || actor.authzVersion === undefined) {
    return new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
  }
  if (request.signedIn?.mfaEnrollmentRequired) {
    return new AppError('auth.mfa_enrollment_required', 'This tenant requires two-factor authentication: set it up (POST /api/v1/auth/mfa/totp/setup) before anything else.');
  }
  return 'tenant';
}

export const enforcePermissionsPlugin = fp(async function enforcePermissions(app: FastifyInstance, options: { grants: GrantsCache }) {
  // preValidation, registered after authentication's: runs right after it, before body validation.
  // Callback style, and synchronous on a cache hit: no promise on the hot path.
  app.decorateRequest('grants', undefined);
  app.addHook('preValidation', (request, _reply, done) => {
    const { config } = request.routeOptions;
    // Before the public shortcut: accept-invite is public, yet a bearer token there signs its person in.
    if (config.notWhileImpersonating && request.actor?.impersonatorId) {
      return done(refuse('auth.impersonation_restricted', 'An impersonation session may not change credentials, two-factor settings, sessions or ownership.'));
    }
    if (config.public || request.is404) return done();
    const permission = config.permission!;
    const outcome = precheck(request, permission);
    if (outcome !== 'tenant') return done(outcome ?? undefined);
    const actor = request.actor!;
    const grants = options.grants.get(actor.tenantId!, actor.userId!, actor.authzVersion!);
    if (!(grants instanceof Promise)) {
      request.grants = grants;
      return done(checkTenantPermission(request, actor, grants, permission) ?? undefined);
    }
    grants.then(
      (loaded) => {
        request.grants = loaded;
        done(checkTenantPermission(request, actor, loaded, permission) ?? undefined);
      },
      (error: unknown) => done(error as Error),
    );
  });
});
