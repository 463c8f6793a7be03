import { Type } from 'typebox';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { createTenant } from '../../../test/factories.js';
import { securityMatrix } from '../../../test/security-matrix.js';
import { checkRouteDeclaration, routeGuardPlugin } from './route-guard.js';

describe('route access declarations', () => {
  it('accepts public or permission, refuses neither and both', () => {
    expect(checkRouteDeclaration({ method: 'GET', url: '/a', config: { public: true } })).toBeNull();
    expect(checkRouteDeclaration({ method: 'GET', url: '/a', config: { permission: 'users.view' } })).toBeNull();
    expect(checkRouteDeclaration({ method: 'GET', url: '/a', config: {} })).toMatch(/neither/);
    expect(checkRouteDeclaration({ method: 'GET', url: '/a', config: { public: true, permission: 'x.y' } })).toMatch(/both/);
  });

  it('refuses to start an app with a route that declares neither', async () => {
    const app = Fastify();
    await app.register(routeGuardPlugin);
    app.get('/undeclared', async () => 'x');
    await expect(app.ready()).rejects.toThrow(/Route access not declared: GET \/undeclared/);
    await app.close();
  });
});

describe('every route of the built app', () => {
  let t: TestApp;
  let victimTenantId: string;
  beforeAll(async () => {
    t = await createTestApp({}, {
      configure: async (app) => {
        app.post('/test/guarded', { config: { permission: 'test.write' }, schema: { body: Type.Object({ name: Type.String() }) } }, async () => ({ ok: true }));
      },
    });
    victimTenantId = (await createTenant(t.platform.db)).id;
  });
  afterAll(() => t?.close());

  it('declares its access (the guard would have refused to build the app otherwise)', () => {
    const routes = t.app.printRoutes({ commonPrefix: false });
    expect(routes).toContain('/health');
    expect(routes).toContain('/docs');
  });

  describe('a non-public route without an actor', () => {
    securityMatrix(() => ({ app: t.app, admin: t.admin, victimTenantId }), { method: 'POST', url: '/test/guarded', payload: { name: 'x' } });
  });
});
