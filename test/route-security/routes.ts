/**
 * Every route the app registers, as the route-declaration test and the all-routes security matrix see
 * them: collected through buildApp's `onRoute` hook (core plugins' routes included), one entry per
 * method, read after `ready()` so the declarations other hooks complete (markRoutesPublic) are final.
 */
import type { RouteOptions } from 'fastify';
import type { BuildAppOptions } from '../../src/app.js';
import { createTestApp, type TestApp } from '../harness.js';

/** One method of one registered route, with the access declaration it carries. */
export interface DeclaredRoute {
  method: string;
  /** The URL as registered, e.g. `/api/v1/stores/:id/users/:userId`. */
  url: string;
  /** `METHOD URL`, how the tests name the route. */
  name: string;
  config: { public?: boolean; permission?: string; storeParam?: string; notWhileImpersonating?: boolean; feature?: string; allowWhenInactive?: boolean };
  /** The path parameters, in order (`:id` → `id`; `*` → `*`). */
  params: string[];
  /** The route's body schema, if it has one (TypeBox, or a `$ref` to a shared schema). */
  bodySchema?: unknown;
}

/** The path parameters of a Fastify URL, in order (regex constraints stripped). */
export function pathParams(url: string): string[] {
  const names = [...url.matchAll(/:(\w+)/g)].map((match) => match[1]!);
  return url.includes('*') ? [...names, '*'] : names;
}

/**
 * One entry per method and URL. A plugin's `/` route is registered at `<prefix>` and `<prefix>/`; both
 * carry the same declaration, so the trailing-slash twin is folded into the first one seen.
 */
function declaredRoutes(collected: RouteOptions[]): DeclaredRoute[] {
  const byName = new Map<string, DeclaredRoute>();
  for (const route of collected) {
    const url = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url;
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      const name = `${method} ${url}`;
      const bodySchema = (route.schema as { body?: unknown } | undefined)?.body;
      if (!byName.has(name)) byName.set(name, { method, url, name, config: (route.config ?? {}) as DeclaredRoute['config'], params: pathParams(url), bodySchema });
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Builds a test app (with `overrides` on the test config) and returns it with every route it registered.
 * Fastify's automatic HEAD twins of GET routes are included: callers decide whether they matter.
 */
export async function createAppWithRoutes(
  overrides: Record<string, string | undefined> = {},
  options: Pick<BuildAppOptions, 'configure'> = {},
): Promise<{ t: TestApp; routes: DeclaredRoute[] }> {
  const collected: RouteOptions[] = [];
  const t = await createTestApp(overrides, { ...options, onRoute: (route) => void collected.push(route) });
  return { t, routes: declaredRoutes(collected) };
}
