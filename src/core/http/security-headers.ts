/**
 * Security headers from helmet, computed once at startup. @fastify/helmet rebuilds helmet's middleware on
 * every request (measured: it halved /health throughput); the headers depend only on configuration, so
 * helmet runs once here against a recording response and every reply gets the same header set.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

/** The headers helmet would set for `options`, by lowercase name. */
export function computeSecurityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  return headers;
}

/**
 * Options for a JSON API: nothing it serves is a page, so the tightest CSP and none of the legacy headers
 * that only matter for HTML (fewer bytes on every response). The docs UI sends its own CSP (openapi.ts).
 * upgrade-insecure-requests only when served over https: over plain http (embedded mode opened on a LAN
 * address) it makes browsers fetch every asset over https.
 */
export function apiHelmetOptions(servesHttps: boolean): HelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], ...(servesHttps ? { upgradeInsecureRequests: [] } : {}) },
    },
    frameguard: { action: 'deny' },
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  };
}

export const securityHeadersPlugin = fp(async function securityHeaders(app: FastifyInstance, options: { servesHttps: boolean }) {
  const headers = computeSecurityHeaders(apiHelmetOptions(options.servesHttps));
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers);
    done();
  });
});
