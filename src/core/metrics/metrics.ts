import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { Type } from 'typebox';
import { constantTimeEqual } from '../auth/constant-time.js';
import { AppError } from '../http/errors.js';
import { problemResponse } from '../http/schemas.js';

export interface MetricsSources {
  poolStats(): { total: number; idle: number; waiting: number };
  queueSizes(): Promise<Record<string, number>>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  return constantTimeEqual(header ?? '', `Bearer ${token}`);
}

/**
 * Prometheus metrics at GET /metrics: request durations labelled by route *pattern* (bounded
 * cardinality), process metrics, database pool and job-queue gauges. Each app has its own registry.
 */
export const metricsPlugin = fp(async function metrics(app: FastifyInstance, options: { token?: string; sources: MetricsSources }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by route pattern, method and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  new Gauge({
    name: 'db_pool_connections',
    help: 'Database connections by state (total, idle, waiting clients).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = options.sources.poolStats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });

  new Gauge({
    name: 'job_queue_size',
    help: 'Jobs waiting in each queue.',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const sizes = await options.sources.queueSizes().catch(() => ({}));
      for (const [queue, size] of Object.entries(sizes)) this.set({ queue }, size);
    },
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route !== '/metrics') duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics',
        description: 'Prometheus text exposition. Requires `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.',
        security: options.token ? [{ metricsToken: [] }] : [],
        response: {
          200: { description: 'Prometheus text format (version 0.0.4).', content: { 'text/plain': { schema: Type.String() } } },
          401: problemResponse('Missing or wrong metrics token.'),
        },
      },
    },
    async (request, reply) => {
      if (options.token && !tokenMatches(request.headers.authorization, options.token)) {
        throw new AppError('auth.unauthenticated', 'A valid metrics bearer token is required.', {
          headers: { 'www-authenticate': 'Bearer realm="metrics"' },
        });
      }
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );
});
