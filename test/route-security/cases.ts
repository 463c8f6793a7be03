/**
 * The cases of the all-routes security matrix, derived from a route's declaration alone (so a route added
 * tomorrow gets them without edits): who calls, and what the answer must be.
 *
 * Credentials that cannot act (expired, revoked, disabled, deactivated, suspended, closed) are made once
 * and shared by every route whose permission check refuses them before anything runs. A caller who may
 * legitimately act — another tenant's owner anywhere, anyone on a `self` route (which could, say, close
 * their own account) — gets fresh credentials per case, so no case spills into the next.
 */
import type { FastifyInstance } from 'fastify';
import { BUILTIN_ROLE_PERMISSIONS, isPlatformPermission, platformRoleHas } from '../../src/modules/authorization/permissions.js';
import { SELF } from '../../src/modules/identity/index.js';
import { bearer, signedInOwner, signedInPlatformAdmin } from '../auth.js';
import { baseCases, sessionCases, tenantCases, type MatrixCase } from '../security-matrix.js';
import type { DeclaredRoute } from './routes.js';
import { namesVictim, type Victim } from './victim.js';

/** An exact refusal, any refusal (4xx: never 2xx, never 5xx), or anything but a server error. */
export type Expectation = { status: number; code: string } | 'refused' | 'not 5xx';

export interface RouteCase {
  name: string;
  headers: () => Promise<Record<string, string>> | Record<string, string>;
  expected: Expectation;
  /**
   * `sample`: a schema-valid body naming the victim's ids (sample-body.ts), for callers who may act, so the
   * request gets past validation to the lookups; otherwise `{}`, which a refusal must precede.
   */
  body?: 'sample';
}

export type RouteKind = 'self' | 'platform' | 'tenant';

/** Who a route's permission is checked against. */
export function routeKind(route: DeclaredRoute): RouteKind {
  const permission = route.config.permission!;
  if (permission === SELF) return 'self';
  return isPlatformPermission(permission) || permission.startsWith('platform.') ? 'platform' : 'tenant';
}

/** How a case reads in the test output. */
export function describeExpectation(expected: Expectation): string {
  return typeof expected === 'string' ? expected : `${expected.status} ${expected.code}`;
}

const forbidden = { status: 403, code: 'auth.forbidden' };
const storeDenied = { status: 403, code: 'store.access_denied' };

function once<T>(make: () => Promise<T> | T): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= Promise.resolve(make()));
}

/** The matrix case with its credential made on first use and reused after. */
const shared = (matrixCase: MatrixCase): MatrixCase => ({ ...matrixCase, headers: once(matrixCase.headers) });

const expectedOf = (matrixCase: MatrixCase): Expectation => ({ status: matrixCase.status, code: matrixCase.code! });

/**
 * Returns `casesFor(route)`: every case a non-public route must pass. `victim()` is read when a case
 * runs (the victim is written in beforeAll; the cases are declared before).
 */
export function matrixCases(app: () => FastifyInstance, victim: () => Victim): (route: DeclaredRoute) => RouteCase[] {
  const unauthenticated = [...baseCases, ...sessionCases(app).map(shared)];
  const revokedShared = tenantCases(app).map(shared);
  const operator = once(async () => bearer((await signedInPlatformAdmin(app(), 'platform_operator')).token));
  const asVictimMember = (who: 'plainMember' | 'storeBManager', store?: 'storeA' | 'storeB') => () => ({
    ...bearer(victim()[who].token),
    ...(store ? { 'x-store-id': victim()[store] } : {}),
  });

  return (route) => {
    const kind = routeKind(route);
    const permission = route.config.permission!;
    const cases: RouteCase[] = unauthenticated.map((c) => ({ name: c.name, headers: c.headers, expected: expectedOf(c) }));

    // The owner of another tenant, with the victim's ids in the path. Self routes act on the caller
    // (a victim's id there must not reach the victim: the digest says so); platform routes need a
    // platform role, which a tenant owner does not hold.
    cases.push({
      name: kind === 'platform' ? 'tenant owner without a platform role' : 'owner of another tenant',
      headers: async () => bearer((await signedInOwner(app())).token),
      expected: kind === 'platform' ? forbidden : kind === 'tenant' && namesVictim(route) ? 'refused' : 'not 5xx',
      body: 'sample',
    });

    if (kind === 'platform') {
      if (!platformRoleHas('platform_operator', permission)) cases.push({ name: 'platform operator (read-only support)', headers: operator, expected: forbidden });
      return cases;
    }

    if (kind === 'self') {
      // About the person, not the tenant: a revoked membership does not stop them (fresh credentials).
      for (const revoked of tenantCases(app)) cases.push({ name: revoked.name, headers: revoked.headers, expected: 'not 5xx', body: 'sample' });
      return cases;
    }

    for (const revoked of revokedShared) cases.push({ name: revoked.name, headers: revoked.headers, expected: expectedOf(revoked) });
    if (!BUILTIN_ROLE_PERMISSIONS.member.has(permission)) {
      cases.push({ name: 'member whose role lacks the permission', headers: asVictimMember('plainMember'), expected: forbidden });
    }
    cases.push({ name: 'member naming a store they are not in (X-Store-ID: A)', headers: asVictimMember('storeBManager', 'storeA'), expected: storeDenied });
    // A store role's permissions hold in its store only: store B's manager, acting in B, on store A.
    if (route.config.storeParam && namesVictim(route) && !BUILTIN_ROLE_PERMISSIONS.member.has(permission)) {
      cases.push({
        name: 'store manager of B acting in B on store A',
        headers: asVictimMember('storeBManager', 'storeB'),
        expected: BUILTIN_ROLE_PERMISSIONS.store_manager.has(permission) ? storeDenied : forbidden,
      });
    }
    return cases;
  };
}
