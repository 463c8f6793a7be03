/**
 * The OpenAPI document is complete and valid: a real OpenAPI 3.1 validator accepts it, every operation
 * has a tag, a summary and response schemas, and every route Fastify serves (bar the docs' own plumbing)
 * is in it. The docs UI and its assets load under the CSP they are served with.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHouseRules, listOperations, validateOpenApiDocument } from '../scripts/validate-openapi.js';
import { buildApp } from '../src/app.js';
import type { Config } from '../src/config.js';
import { createTestDatabase, testConfig } from './harness.js';

type Json = Record<string, unknown>;

let app: FastifyInstance;
let drop: () => Promise<void>;
let document: Json;
const routes: RouteOptions[] = [];

beforeAll(async () => {
  const baseConfig = testConfig({ METRICS_TOKEN: undefined });
  const database = await createTestDatabase(baseConfig);
  drop = database.drop;
  const config: Config = database.url ? { ...baseConfig, database: { ...baseConfig.database, url: database.url, appUrl: undefined } } : baseConfig;
  app = await buildApp(config, { pglite: database.pglite, migrate: false, onRoute: (route) => void routes.push(route) });
  await app.ready();
  document = (await app.inject({ url: '/openapi.json' })).json();
});
afterAll(async () => {
  await app?.close();
  await drop?.();
});

/** Fastify's `/items/:id` is OpenAPI's `/items/{id}`. */
const toOpenApiPath = (url: string) => url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}');

describe('GET /openapi.json', () => {
  it('is served as JSON and is what app.swagger() builds', async () => {
    const response = await app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(document).toEqual(JSON.parse(JSON.stringify(app.swagger())));
    expect(document.openapi).toBe('3.1.0');
  });

  it('passes the OpenAPI 3.1 validator and the house rules', async () => {
    expect(await validateOpenApiDocument(document)).toEqual([]);
  });

  it('gives every operation a tag, a summary and at least one response schema', () => {
    const operations = listOperations(document);
    expect(operations.length).toBeGreaterThan(0);
    for (const [method, path, operation] of operations) {
      const name = `${method} ${path}`;
      expect(operation.tags, name).toEqual(expect.arrayContaining([expect.any(String)]));
      expect(operation.summary, name).toMatch(/\S/);
      const responses = Object.values(operation.responses as Record<string, { content?: Record<string, { schema?: unknown }> }>);
      const schemas = responses.flatMap((response) => Object.values(response.content ?? {}).map((media) => media.schema));
      expect(schemas.filter(Boolean).length, name).toBeGreaterThan(0);
    }
  });

  it('documents error responses as application/problem+json referencing the Problem schema', () => {
    const schemas = (document.components as { schemas: Record<string, Json> }).schemas;
    expect(schemas.Problem).toMatchObject({ type: 'object', required: expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'requestId']) });
    const errorResponses = listOperations(document).flatMap(([, , operation]) =>
      Object.entries(operation.responses as Record<string, { content?: Record<string, unknown> }>).filter(([status]) => /^[45]/.test(status) && status !== '503'),
    );
    expect(errorResponses.length).toBeGreaterThan(0);
    for (const [, response] of errorResponses) expect(response.content).toEqual({ 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
  });

  it('says in the 403 of every route an impersonation token may not use that it refuses one', () => {
    const paths = document.paths as Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
    for (const [path, method] of [
      ['/api/v1/auth/change-password', 'post'],
      ['/api/v1/auth/mfa/totp/disable', 'post'],
      ['/api/v1/tenants/current/transfer-ownership', 'post'],
    ] as const) {
      expect(paths[path]![method]!.responses['403']!.description, `${method} ${path}`).toContain('auth.impersonation_restricted');
    }
    expect(JSON.stringify(paths['/api/v1/stores/']?.get ?? paths['/api/v1/stores']!.get)).not.toContain('auth.impersonation_restricted');
  });

  it('documents every route the app serves, and nothing it does not', () => {
    const served = routes
      .filter((route) => !(route.schema as { hide?: boolean } | undefined)?.hide)
      .flatMap((route) => (Array.isArray(route.method) ? route.method : [route.method]).map((method) => ({ method, url: route.url })))
      // HEAD routes are Fastify's automatic twins of GET routes.
      .filter(({ method }) => method !== 'HEAD')
      .map(({ method, url }) => `${method.toLowerCase()} ${toOpenApiPath(url)}`)
      .sort();
    const documented = listOperations(document)
      .map(([method, path]) => `${method} ${path}`)
      .sort();
    expect(served.length).toBeGreaterThan(0);
    expect(documented).toEqual(served);
    // The hidden ones are only the documentation's own plumbing and CORS preflight.
    const hidden = routes.filter((route) => (route.schema as { hide?: boolean } | undefined)?.hide).map((route) => route.url);
    for (const url of hidden) expect(url).toMatch(/^(\/docs(\/.*)?|\/openapi\.json|\*)$/);
  });
});

describe('the house-rule checker itself', () => {
  it('reports a missing tag, summary, success response, schema and a dangling $ref', () => {
    const broken = {
      openapi: '3.1.0',
      info: { title: 'x', version: '1' },
      tags: [{ name: 'known' }],
      paths: {
        '/a': { get: { responses: { 400: { description: 'bad', content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } } },
        '/b': { post: { tags: ['unknown'], summary: 'B', responses: { 200: { description: 'ok', content: {} } } } },
      },
    };
    expect(checkHouseRules(broken)).toEqual([
      'GET /a: no tag',
      'GET /a: no summary',
      'GET /a: no success (2xx) response documented',
      'POST /b: tag "unknown" is not declared in the document\'s tags',
      'POST /b: response 200 has no schema',
      '#/paths/~1a/get/responses/400/content/application~1json/schema: $ref "#/components/schemas/Missing" does not resolve',
    ]);
  });

  it('relays the validator’s findings on a structurally invalid document', async () => {
    const problems = await validateOpenApiDocument({ openapi: '3.1.0', info: { title: 'x' }, paths: { '/a': { get: { responses: 'nope' } } } });
    expect(problems.length).toBeGreaterThan(0);
  });
});

describe('GET /docs', () => {
  it('serves the docs UI page, whose scripts and styles all load from this origin', async () => {
    const page = await app.inject({ url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<div id="swagger-ui"></div>');

    const assets = [...page.body.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/static/swagger-ui.css']));
    for (const asset of assets) {
      // Same origin: allowed by the page's `'self'` sources; nothing is fetched from a CDN.
      expect(asset).toMatch(/^\/docs\//);
      const response = await app.inject({ url: asset });
      expect(response.statusCode, asset).toBe(200);
      expect(response.body.length, asset).toBeGreaterThan(0);
      if (asset.endsWith('.js')) expect(response.headers['content-type'], asset).toMatch(/^application\/javascript/);
      if (asset.endsWith('.css')) expect(response.headers['content-type'], asset).toMatch(/^text\/css/);
    }
  });

  it('is served with a CSP that allows its own assets and nothing inline', async () => {
    const page = await app.inject({ url: '/docs' });
    const csp = String(page.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((part) => part.trim().split(/\s+/)).filter((part) => part[0]).map(([name, ...values]) => [name!, values]));
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['style-src']).toContain("'self'");
    expect(directives['img-src']).toEqual(expect.arrayContaining(["'self'", 'data:']));
    expect(directives['object-src']).toEqual(["'none'"]);
    // Nothing on the page needs an inline allowance: every script has a src, there is no <style> or style=.
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body).not.toMatch(/<style|style="/);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });

  it('points the UI at a document URL that serves the same document', async () => {
    const initializer = (await app.inject({ url: '/docs/static/swagger-initializer.js' })).body;
    const url = /url: resolveUrl\('\.\/(\w+)'\)/.exec(initializer)?.[1];
    expect(url).toBe('json');
    const response = await app.inject({ url: `/docs/${url}` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(document);
  });

  it('is public: no credential needed for the page, its assets or the document', async () => {
    for (const url of ['/docs', '/docs/static/swagger-ui.css', '/docs/json', '/openapi.json']) expect((await app.inject({ url })).statusCode, url).toBe(200);
  });
});
