import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

export interface HealthChecks {
  /** Named dependency checks; each resolves when healthy and rejects with the reason otherwise. */
  database: () => Promise<void>;
  redis?: () => Promise<void>;
}

const ComponentSchema = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latencyMs: Type.Number(),
  error: Type.Optional(Type.String()),
});

const ReportSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
    components: Type.Record(Type.String(), ComponentSchema),
    failing: Type.Optional(Type.Array(Type.String(), { description: 'Names of the components that are down.' })),
  },
  { $id: 'HealthReport' },
);

const CHECK_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<void>): Promise<{ status: 'up' | 'down'; latencyMs: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    // Names the failure class only: connection strings and hosts stay out of a public endpoint.
    const reason = (error as { code?: string }).code ?? (error as Error).message.split('\n')[0]?.slice(0, 120);
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: reason };
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness (`/health`, no dependencies) and readiness (`/health/db`, `/health/ready`) probes. */
export async function healthRoutes(app: FastifyInstance, options: { checks: HealthChecks }) {
  app.addSchema(ReportSchema);

  const report = async (names: Array<keyof HealthChecks>) => {
    const entries = await Promise.all(
      names.flatMap((name) => {
        const check = options.checks[name];
        return check ? [probe(check).then((result) => [name, result] as const)] : [];
      }),
    );
    const components = Object.fromEntries(entries);
    const failing = entries.filter(([, result]) => result.status === 'down').map(([name]) => name);
    return { statusCode: (failing.length ? 503 : 200) as 200 | 503, body: { status: failing.length ? 'unavailable' : 'ok', components, ...(failing.length ? { failing } : {}) } };
  };

  const reportResponses = {
    200: { ...Type.Ref('HealthReport'), description: 'Every component is up.' },
    503: { ...Type.Ref('HealthReport'), description: 'A component is down; `failing` names it.' },
  };

  app.get(
    '/health',
    {
      config: { public: true, rateLimit: false },
      schema: {
        tags: ['health'],
        summary: 'Liveness probe',
        description: 'Answers 200 while the process serves HTTP; checks no dependency.',
        response: { 200: Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }, { description: 'The process is serving HTTP.' }) },
      },
    },
    async () => ({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  app.get(
    '/health/db',
    { config: { public: true }, schema: { tags: ['health'], summary: 'Database probe', response: reportResponses } },
    async (_request, reply) => {
      const { statusCode, body } = await report(['database']);
      return reply.code(statusCode).send(body);
    },
  );

  app.get(
    '/health/ready',
    {
      config: { public: true },
      schema: { tags: ['health'], summary: 'Readiness probe', description: 'Database, and Redis when configured.', response: reportResponses },
    },
    async (_request, reply) => {
      const { statusCode, body } = await report(['database', 'redis']);
      return reply.code(statusCode).send(body);
    },
  );
}
