/**
 * Per-route rate limits. A route opts in with `config.rateLimit: { max, timeWindow, keyGenerator? }`;
 * every limited response carries `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset`, and a
 * refused one is a 429 problem+json with `Retry-After`. Counting goes through the platform's
 * {@link RateCounter}: Redis when REDIS_URL is set (one budget for every process), memory otherwise.
 *
 * Why a store over RateCounter instead of @fastify/rate-limit's own `redis` option: its Redis store
 * swallows errors silently under `skipOnError` (an outage would go unnoticed), and its memory store is
 * one LRU per route; going through RateCounter gives one atomic implementation for HTTP and non-HTTP
 * counters, a logged fail-open, and no waiting in ioredis's offline queue while Redis reconnects.
 */
import fastifyRateLimit, { type RateLimitOptions, type errorResponseBuilderContext, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RateCounter } from '../cache/rate-counter.js';
import { AppError } from './errors.js';

/** Prefix of every HTTP limit key inside the counter (the counter adds its own namespace, `atrium:`). */
const KEY_PREFIX = 'rl:';

/** During an outage every request fails to count; one warning per this interval is enough to notice. */
const OUTAGE_LOG_INTERVAL_MS = 30_000;

/** A client address as counted: IPv6 grouped by /64, as one host usually owns the whole /64. */
export function clientAddressKey(ip: string): string {
  return fastifyRateLimit.normalizeIP(ip);
}

/** Rate-limit key of the client address (see {@link clientAddressKey}). */
export function rateLimitKeyByIp(request: FastifyRequest): string {
  return `ip:${clientAddressKey(request.ip)}`;
}

/**
 * Rate-limit key of who is acting: the API key, or the user within their tenant; anonymous requests
 * fall back to the client address. Needs a hook that runs after authentication (see {@link limitPerActor}).
 */
export function rateLimitKeyByActor(request: FastifyRequest): string {
  const actor = request.actor;
  if (actor?.apiKeyId) return `key:${actor.apiKeyId}`;
  if (actor?.userId) return `user:${actor.tenantId ?? '-'}:${actor.userId}`;
  return rateLimitKeyByIp(request);
}

/** Rate-limit key of the acting tenant (one budget for all its users and keys), else the client address. */
export function rateLimitKeyByTenant(request: FastifyRequest): string {
  return request.actor?.tenantId ? `tenant:${request.actor.tenantId}` : rateLimitKeyByIp(request);
}

/** A route's limit: at most `max` requests per `timeWindow` (ms or a string such as `'1 minute'`). */
export type RouteRateLimit = Required<Pick<RateLimitOptions, 'max' | 'timeWindow'>> & Omit<RateLimitOptions, 'max' | 'timeWindow'>;

/** Route config for a limit per client address, counted before anything else runs. */
export function limitPerIp(limit: RouteRateLimit): RateLimitOptions {
  return { keyGenerator: rateLimitKeyByIp, ...limit };
}

/**
 * Route config for a limit per actor. It counts in `preHandler`, after authentication has set
 * `request.actor` (an `onRequest` count would see every caller as anonymous).
 */
export function limitPerActor(limit: RouteRateLimit): RateLimitOptions {
  return { hook: 'preHandler', keyGenerator: rateLimitKeyByActor, ...limit };
}

/** Route config for a limit per tenant; pass `max` as a function to size it by the tenant's plan. */
export function limitPerTenant(limit: RouteRateLimit): RateLimitOptions {
  return { hook: 'preHandler', keyGenerator: rateLimitKeyByTenant, ...limit };
}

/**
 * The refusal, thrown by @fastify/rate-limit and rendered by the central error handler as problem+json.
 * Retry-After is also carried in the error, so it survives whichever path renders it.
 */
export function buildRateLimitError(_request: FastifyRequest, context: errorResponseBuilderContext): AppError {
  const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
  const headers = { 'retry-after': String(retryAfter) };
  if (context.ban) return new AppError('auth.forbidden', `Too many requests; this client is blocked for ${retryAfter} s.`, { headers });
  return new AppError('rate_limit.exceeded', `Too many requests: the limit is ${context.max} per window; retry in ${retryAfter} s.`, { headers });
}

/** What @fastify/rate-limit passes to `child()`: the merged route options with the route's identity. */
interface ChildOptions {
  groupId?: string;
  routeInfo?: { method?: string | string[]; url?: string };
}

type StoreCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/** Logs a counting failure at most once per interval, with how many were not logged in between. */
function createOutageLogger(logger: FastifyBaseLogger): (error: unknown) => void {
  let lastLoggedAt = 0;
  let unlogged = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastLoggedAt < OUTAGE_LOG_INTERVAL_MS) {
      unlogged += 1;
      return;
    }
    logger.warn({ err: error, failuresSinceLastLog: unlogged }, 'rate limit counter unavailable; requests pass unlimited (fail open)');
    lastLoggedAt = now;
    unlogged = 0;
  };
}

/** A @fastify/rate-limit store counting through a RateCounter; each route (or `groupId`) has its own scope. */
export function createRateLimitStore(counter: RateCounter, logger: FastifyBaseLogger): FastifyRateLimitStoreCtor {
  const logFailure = createOutageLogger(logger);

  const report = (promise: Promise<{ count: number; resetAt: number } | null>, callback: StoreCallback) => {
    promise.then(
      (window) => callback(null, { current: window?.count ?? 0, ttl: window ? Math.max(0, window.resetAt - Date.now()) : 0 }),
      (error: Error) => {
        logFailure(error);
        callback(error);
      },
    );
  };

  class CounterStore {
    readonly #scope: string;

    constructor(_options?: unknown, scope = 'global') {
      this.#scope = scope;
    }

    incr(key: string, callback: StoreCallback, timeWindow: number): void {
      report(counter.hit(`${KEY_PREFIX}${this.#scope}:${key}`, timeWindow), callback);
    }

    /** Used by `createRateLimit()(request, { increment: false })`. */
    read(key: string, callback: StoreCallback): void {
      report(counter.peek(`${KEY_PREFIX}${this.#scope}:${key}`), callback);
    }

    child(options: ChildOptions): CounterStore {
      // A groupId shares one budget across routes; otherwise each route (method + path) has its own.
      const route = options.routeInfo?.url ? `${String(options.routeInfo.method)}${options.routeInfo.url}` : 'custom';
      return new CounterStore(undefined, options.groupId ? `group:${options.groupId}` : route);
    }
  }

  return CounterStore as unknown as FastifyRateLimitStoreCtor;
}

/** Options of {@link rateLimitPlugin}. */
export interface RateLimitPluginOptions {
  counter: RateCounter;
}

/**
 * Registers @fastify/rate-limit for routes that opt in. Register it before the routes (it attaches the
 * limit when each route is added) and after the error handler (which renders the 429).
 */
export const rateLimitPlugin = fp(
  async function rateLimit(app: FastifyInstance, options: RateLimitPluginOptions) {
    await app.register(fastifyRateLimit, {
      global: false,
      enableDraftSpec: true,
      // A counter outage must not take the API down: requests pass, and the store logs the failure.
      skipOnError: true,
      keyGenerator: rateLimitKeyByIp,
      store: createRateLimitStore(options.counter, app.log),
      errorResponseBuilder: buildRateLimitError,
      onExceeded: (request, key) => request.log.info({ rateLimitKey: key }, 'rate limit exceeded'),
    });
  },
  { name: 'atrium-rate-limit' },
);
