/**
 * Every registered route declares who may call it (issue 5, "Enforcement"): exactly one of
 * `config.public: true` or `config.permission`; a tenant permission that is in the catalog (PERMISSIONS),
 * a platform permission that is in PLATFORM_PERMISSIONS (and only under /api/v1/admin, which holds
 * nothing else), or `self`; and a `storeParam` that names a path parameter of its route. A typo in a
 * permission key would otherwise refuse everyone (or, worse, be read as a tenant permission).
 * Plan declarations (issue 6): `feature` is a catalog code (FEATURE_CODES) on a tenant-permission route,
 * and `allowWhenInactive` only on a mutating tenant-permission route — anywhere else the entitlement
 * guard never reads them, so they would promise a check (or an exemption) that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_CODES } from '../src/core/tenancy/entitlements.js';
import { PERMISSIONS, PLATFORM_PERMISSIONS } from '../src/modules/authorization/permissions.js';
import { SELF } from '../src/modules/identity/index.js';
import { ADMIN_PREFIX } from '../src/modules/platform-admin/index.js';
import type { TestApp } from './harness.js';
import { createAppWithRoutes, pathParams, type DeclaredRoute } from './route-security/routes.js';

/** What is wrong with a route's access declaration (empty when nothing). */
function declarationProblems(route: Pick<DeclaredRoute, 'method' | 'url' | 'config'>): string[] {
  const { public: isPublic, permission, storeParam } = route.config;
  const problems: string[] = [];
  if (isPublic === true && permission !== undefined) problems.push('declares both `public: true` and a permission');
  if (isPublic !== true && !permission) problems.push('declares neither `public: true` nor a permission');
  if (isPublic !== undefined && typeof isPublic !== 'boolean') problems.push(`\`public\` is ${JSON.stringify(isPublic)}, not a boolean`);
  const isAdminRoute = route.url === ADMIN_PREFIX || route.url.startsWith(`${ADMIN_PREFIX}/`);
  if (permission && permission !== SELF) {
    if (permission.startsWith('platform.')) {
      if (!Object.hasOwn(PLATFORM_PERMISSIONS, permission)) problems.push(`platform permission \`${permission}\` is not in PLATFORM_PERMISSIONS`);
      if (!isAdminRoute) problems.push(`platform permission \`${permission}\` outside ${ADMIN_PREFIX}`);
    } else if (!Object.hasOwn(PERMISSIONS, permission)) {
      problems.push(`permission \`${permission}\` is not in PERMISSIONS`);
    }
  }
  if (isAdminRoute && isPublic !== true && !permission?.startsWith('platform.')) problems.push(`a ${ADMIN_PREFIX} route guarded by \`${permission}\`, not a platform permission`);
  if (storeParam !== undefined) {
    if (!pathParams(route.url).includes(storeParam)) problems.push(`storeParam \`${storeParam}\` is not a path parameter`);
    // Only the tenant-permission check reads it: anywhere else it would promise a store check that never runs.
    if (!permission || permission === SELF || permission.startsWith('platform.')) problems.push('storeParam on a route without a tenant permission');
  }
  const isTenantRoute = isPublic !== true && !!permission && permission !== SELF && !permission.startsWith('platform.');
  const { feature, allowWhenInactive } = route.config;
  if (feature !== undefined) {
    if (!(FEATURE_CODES as string[]).includes(feature)) problems.push(`feature \`${feature}\` is not in FEATURE_CODES`);
    if (!isTenantRoute) problems.push('feature on a route without a tenant permission');
  }
  if (allowWhenInactive !== undefined) {
    if (allowWhenInactive !== true) problems.push(`\`allowWhenInactive\` is ${JSON.stringify(allowWhenInactive)}, not true`);
    if (!isTenantRoute) problems.push('allowWhenInactive on a route without a tenant permission');
    if (['GET', 'HEAD', 'OPTIONS'].includes(route.method)) problems.push('allowWhenInactive on a read route (reads are always open)');
  }
  return problems;
}

let t: TestApp;
let routes: DeclaredRoute[];

beforeAll(async () => {
  ({ t, routes } = await createAppWithRoutes());
});
afterAll(() => t?.close());

describe('route declarations', () => {
  it('collects the routes of every module (sanity check of the walk)', () => {
    const names = routes.map((route) => route.name);
    for (const expected of ['GET /health', 'POST /api/v1/auth/login', 'GET /api/v1/stores', 'PATCH /api/v1/stores/:id', 'GET /api/v1/users']) {
      expect(names).toContain(expected);
    }
  });

  it('declares plan features only from the catalog, on the routes issue 6 names', () => {
    const withFeature = Object.fromEntries(routes.filter((route) => route.config.feature !== undefined).map((route) => [route.name, route.config.feature]));
    expect(withFeature).toMatchObject({ 'POST /api/v1/roles': 'custom_roles' });
  });

  it('every registered route declares exactly one of `public: true` or a known permission, and a real storeParam', () => {
    const offending = routes.map((route) => ({ route: route.name, problems: declarationProblems(route) })).filter(({ problems }) => problems.length > 0);
    expect(offending, `Routes with a wrong access declaration:\n${offending.map(({ route, problems }) => `  ${route}: ${problems.join('; ')}`).join('\n')}`).toEqual([]);
  });

  it('names the store in storeParam wherever a route about one store checks a store-scope permission', () => {
    // A store role's permission holds only in the request's store; without storeParam, the manager of one
    // store could act on another by naming it in the path.
    const storeParamOf = (route: DeclaredRoute) => /\/stores\/:id(\/|$)/.test(route.url) ? 'id' : route.params.find((param) => param === 'storeId');
    const aboutOneStore = routes.filter((route) => route.method !== 'HEAD' && storeParamOf(route) !== undefined);
    expect(aboutOneStore.length).toBeGreaterThan(0);
    const isStoreScoped = (permission: string | undefined) => permission !== undefined && Object.hasOwn(PERMISSIONS, permission) && PERMISSIONS[permission as keyof typeof PERMISSIONS].scope === 'store';
    const missing = aboutOneStore.filter((route) => isStoreScoped(route.config.permission) && route.config.storeParam !== storeParamOf(route)).map((route) => route.name);
    expect(missing, `Routes about one store without a matching storeParam:\n  ${missing.join('\n  ')}`).toEqual([]);
  });
});

describe('declarationProblems (the check above can fail)', () => {
  const route = (url: string, config: DeclaredRoute['config']) => ({ method: 'GET', url, config });

  it.each([
    ['neither', route('/api/v1/x', {}), 'neither'],
    ['both', route('/api/v1/x', { public: true, permission: 'users.view' }), 'both'],
    ['unknown tenant permission', route('/api/v1/x', { permission: 'users.veiw' }), 'not in PERMISSIONS'],
    ['unknown platform permission', route(`${ADMIN_PREFIX}/x`, { permission: 'platform.tenant.manage' }), 'not in PLATFORM_PERMISSIONS'],
    ['platform permission outside the admin prefix', route('/api/v1/x', { permission: 'platform.view' }), 'outside'],
    ['tenant permission under the admin prefix', route(`${ADMIN_PREFIX}/x`, { permission: 'users.view' }), 'not a platform permission'],
    ['storeParam that is not a path parameter', route('/api/v1/stores/:id', { permission: 'stores.update', storeParam: 'storeId' }), 'not a path parameter'],
    ['storeParam on a self route', route('/api/v1/me/:id', { permission: SELF, storeParam: 'id' }), 'without a tenant permission'],
    ['unknown feature', { method: 'POST', url: '/api/v1/x', config: { permission: 'roles.manage', feature: 'custom_role' } }, 'not in FEATURE_CODES'],
    ['feature on a platform route', { method: 'POST', url: `${ADMIN_PREFIX}/x`, config: { permission: 'platform.view', feature: 'sso' } }, 'feature on a route without a tenant permission'],
    ['allowWhenInactive on a read route', route('/api/v1/stores', { permission: 'stores.view', allowWhenInactive: true }), 'read route'],
    ['allowWhenInactive on a self route', { method: 'POST', url: '/api/v1/x', config: { permission: SELF, allowWhenInactive: true } }, 'without a tenant permission'],
    ['allowWhenInactive on a public route', { method: 'POST', url: '/api/v1/x', config: { public: true, allowWhenInactive: true } }, 'without a tenant permission'],
    ['allowWhenInactive: false', { method: 'POST', url: '/api/v1/x', config: { permission: 'stores.manage', allowWhenInactive: false } }, 'not true'],
  ])('flags %s', (_name, declared, problem) => {
    expect(declarationProblems(declared).join('; ')).toContain(problem);
  });

  it('accepts good declarations', () => {
    expect(declarationProblems(route('/health', { public: true }))).toEqual([]);
    expect(declarationProblems(route('/api/v1/stores/:id', { permission: 'stores.update', storeParam: 'id' }))).toEqual([]);
    expect(declarationProblems(route(`${ADMIN_PREFIX}/tenants`, { permission: 'platform.view' }))).toEqual([]);
    expect(declarationProblems(route('/api/v1/auth/sessions', { permission: SELF }))).toEqual([]);
    expect(declarationProblems({ method: 'POST', url: '/api/v1/roles', config: { permission: 'roles.manage', feature: 'custom_roles' } })).toEqual([]);
    expect(declarationProblems({ method: 'DELETE', url: '/api/v1/tenants/current', config: { permission: 'tenant.delete', allowWhenInactive: true } })).toEqual([]);
  });
});
