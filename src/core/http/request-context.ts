import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { executionContext } from '../context.js';
import { uuidv7 } from '../db/ids.js';

/** An incoming X-Request-Id is honoured only when it is short and plain (no log or header injection). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Fastify `genReqId`: reuse a sane incoming X-Request-Id, otherwise mint a UUIDv7. */
export function requestIdFor(request: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : uuidv7();
}

/** Who is acting, once authentication has run (the identity issue fills it in). */
export interface Actor {
  kind: 'user' | 'api_key' | 'system';
  userId?: string;
  apiKeyId?: string;
  tenantId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

/**
 * Echoes the request id on every response, opens the execution context that infrastructure below the
 * services reads (unit of work hooks), and binds tenant and user to the request's log lines.
 */
export const requestContextPlugin = fp(async function requestContext(app: FastifyInstance) {
  app.decorateRequest('actor', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    executionContext.run({ requestId: request.id }, done);
  });
  app.addHook('preHandler', async (request: FastifyRequest) => {
    if (request.actor) {
      request.log = request.log.child({ tenantId: request.actor.tenantId, userId: request.actor.userId ?? request.actor.apiKeyId });
    }
  });
});
