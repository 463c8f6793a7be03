import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { uuidv7 } from '../db/ids.js';

/** An incoming X-Request-Id is honoured only when it is short and plain (no log or header injection). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Fastify `genReqId`: reuse a sane incoming X-Request-Id, otherwise mint a UUIDv7. */
export function requestIdFor(request: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : uuidv7();
}

/**
 * One access-log line per request, when it completes, naming method, URL, status and duration (Fastify's
 * default writes two at info: one on arrival, one on completion).
 */
export class AccessLogController extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  /** Arrival lines only at debug level (a no-op otherwise), for following a request that hangs. */
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: { method: request.method, url: request.url, ip: request.ip } }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: { method: request.method, url: request.url, ip: request.ip }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}

/** Who is acting, once authentication has run. */
export interface Actor {
  kind: 'user' | 'api_key' | 'system';
  userId?: string;
  apiKeyId?: string;
  /** The tenant the credential acts in; set only while the membership and the tenant are active. */
  tenantId?: string;
  /** A user's session (the `sid` of the access token) and the token's id. */
  sessionId?: string;
  tokenId?: string;
  /** The built-in role of the user's membership in `tenantId` (custom roles come from the grants cache). */
  role?: 'owner' | 'admin' | 'member';
  /** The membership's `authz_version`: the key of its cached custom grants. */
  authzVersion?: number;
  /** Set when a platform administrator acts as this user (an impersonation session). */
  impersonatorId?: string;
  platformRole?: 'platform_admin' | 'platform_operator';
  /** Whether the session's sign-in presented a second factor. */
  mfaVerified?: boolean;
  /** The store context (X-Store-ID) when it names a live store of the tenant; and the person's role there, if assigned. */
  storeId?: string;
  storeRole?: 'store_manager' | 'store_staff';
  /** The status of the tenant's subscription (billing: canceled and expired tenants are read-only). */
  subscriptionStatus?: string;
  /** Greater of the subscription's and its plan's revisions: the key of the tenant's cached entitlements. */
  entitlementsRevision?: number;
  /** Why a tenant named by the credential is not usable: a tenant-scoped route answers 403 for it. */
  tenantAccessRevoked?: 'membership_inactive' | 'tenant_suspended' | 'tenant_closed';
}

declare module 'fastify' {
  interface FastifyRequest {
    actor?: Actor;
  }
}

/**
 * Records who is acting (authentication calls this once it has verified a credential) and binds tenant
 * and user to every later log line of the request.
 */
export function setActor(request: FastifyRequest, actor: Actor): void {
  request.actor = actor;
  request.log = request.log.child({ tenantId: actor.tenantId, userId: actor.userId ?? actor.apiKeyId });
}

/**
 * Declares `request.actor` and echoes the request id on every response. (The execution context is opened
 * only by the requests that need it — idempotent POSTs: an AsyncLocalStorage scope on every request
 * measurably slows the whole hot path on Node 20.)
 */
export const requestContextPlugin = fp(async function requestContext(app: FastifyInstance) {
  app.decorateRequest('actor', undefined);
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

});
