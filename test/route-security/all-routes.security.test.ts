/**
 * The route-security matrix for EVERY route the app registers (issue 5, "Enforcement"; DESIGN §5): the
 * routes are collected from the app itself, so a route added later is covered without touching this file.
 * Each non-public route is called with the victim tenant's ids in its path, by every kind of wrong caller
 * (see cases.ts): no, malformed or expired credential; a revoked session or disabled person; another
 * tenant's owner; a member without the permission; a store role used outside its store; a deactivated
 * member, a suspended or closed tenant; a tenant owner or operator on platform routes. Each answer is
 * checked, no answer is a 5xx, and no row of the victim tenant or its people changes (SQL digest before
 * and after, over every tenant table in the catalog).
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, signedInOwner } from '../auth.js';
import { victimDigest } from '../security-matrix.js';
import { describeExpectation, matrixCases, type Expectation, type RouteCase } from './cases.js';
import { createAppWithRoutes, type DeclaredRoute } from './routes.js';
import { sampleBody } from './sample-body.js';
import { createVictim, victimUrl, type Victim } from './victim.js';

// One app for the whole file, built while the tests are collected: the route list names the tests.
// Generous attempt limits: many cases present credentials, all from the same address.
const { t, routes } = await createAppWithRoutes({ AUTH_MAX_FAILED_ATTEMPTS: '100', AUTH_MAX_FAILED_ATTEMPTS_PER_IP: '100000' });

/**
 * Routes left out, each for a reason that is not a bug. Keep it short: a route that fails a case is
 * fixed, not listed here.
 */
const EXCLUDED: Record<string, string> = {};

/** Whether the matrix covers the route: not public, not Fastify's HEAD twin of a GET, not CORS preflight. */
function isCovered(route: DeclaredRoute): boolean {
  if (route.config.public === true || route.method === 'HEAD' || route.method === 'OPTIONS') return false;
  return !(route.name in EXCLUDED);
}

const covered = routes.filter(isCovered);
let victim: Victim;

beforeAll(async () => {
  victim = await createVictim(t.app, t.admin);
});
afterAll(() => t.close());

const casesFor = matrixCases(() => t.app, () => victim);

/**
 * The victim's digest as the last case left it. Cases run one after another and nothing but the request
 * under test touches the victim (every victim session is opened in beforeAll), so one digest per case
 * suffices: the previous case's "after" is this case's "before".
 */
let lastDigest: Record<string, string> | undefined;

/**
 * `{}` for POST/PUT/PATCH (the permission check runs before validation, so a refusal comes before any
 * 400), or a schema-valid body naming the victim's ids for callers who may act (see cases.ts).
 */
function bodyFor(route: DeclaredRoute, testCase: RouteCase): InjectOptions['payload'] {
  if (testCase.body === 'sample' && route.bodySchema) return sampleBody(route.bodySchema, victim, t.app.getSchemas()) as InjectOptions['payload'];
  return ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
}

function checkAnswer(response: Awaited<ReturnType<typeof t.app.inject>>, expected: Expectation): void {
  const summary = `${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, summary).toBeLessThan(500);
  if (expected === 'not 5xx') return;
  expect(response.statusCode, summary).toBeGreaterThanOrEqual(400);
  expect(response.headers['content-type'], summary).toMatch(/^application\/problem\+json/);
  if (expected === 'refused') return;
  expect({ status: response.statusCode, code: response.json().code }, summary).toEqual(expected);
}

describe('the matrix walks the app', () => {
  it('covers every non-public route, the authorization and platform routes included once they exist', () => {
    expect(covered.length).toBeGreaterThan(40);
    const names = covered.map((route) => route.name);
    expect(names).toEqual(
      expect.arrayContaining(['GET /api/v1/users/:id', 'PATCH /api/v1/stores/:id', 'DELETE /api/v1/auth/sessions/:id', 'PATCH /api/v1/roles/:id', 'POST /api/v1/admin/tenants/:id/suspend']),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('notices a changed row of a tenant, or of one of its people (the digest can fail)', async () => {
    const { person, tenant } = await signedInOwner(t.app);
    const owned = { tenantId: tenant.id, userIds: [person.id] };
    const before = await victimDigest(t.admin, owned);
    await createStore(t.app, tenant.id);
    const withStore = await victimDigest(t.admin, owned);
    expect(withStore.stores).not.toBe(before.stores);
    await t.admin.query(`UPDATE sessions SET revoked_at = now() WHERE user_id = $1`, [person.id]);
    expect((await victimDigest(t.admin, owned))['global:sessions']).not.toBe(withStore['global:sessions']);
  });
});

// ROUTE_MATRIX_LOG=1 prints every answer (route | case | status code | body sent | answer), to review them.
const log = process.env.ROUTE_MATRIX_LOG ? (line: string) => console.error(line) : undefined;

for (const route of covered) {
  describe(route.name, () => {
    for (const testCase of casesFor(route)) {
      it(`${testCase.name} → ${describeExpectation(testCase.expected)}`, async () => {
        const url = victimUrl(route, victim);
        const headers = await testCase.headers();
        const people = { tenantId: victim.tenantId, userIds: victim.peopleIds };
        const before = lastDigest ?? (await victimDigest(t.admin, people));
        const payload = bodyFor(route, testCase);
        const response = await t.app.inject({ method: route.method as InjectOptions['method'], url, headers, payload });
        // Read before asserting: a failed case must not leave the next one comparing against a stale state.
        const after = (lastDigest = await victimDigest(t.admin, people));
        log?.(`${route.name} | ${testCase.name} | ${response.statusCode} ${response.statusCode >= 400 ? response.json().code : ''} | ${JSON.stringify(payload)} | ${response.body.slice(0, 300)}`);
        checkAnswer(response, testCase.expected);
        expect(after, `${route.method} ${url}: the victim's rows changed`).toEqual(before);
      });
    }
  });
}
