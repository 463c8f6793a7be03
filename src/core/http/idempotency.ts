/**
 * Idempotency-Key on POST (Stripe semantics). The first outcome of a key — success or error — is stored
 * with a fingerprint of the request and replayed for `IDEMPOTENCY_TTL_HOURS`; the same key with another
 * request answers 422 `idempotency.key_reused`, and while the first is still running, 409
 * `idempotency.in_progress`.
 *
 * "Did the effect happen" is recorded inside the effect's own transaction (the unit of work's
 * `beforeCommit` hook), so a retry after a crash can tell a request that died before its effect
 * committed (safe to run again) from one that died after (never run twice). Every claim is identified by
 * its `locked_until` value: a request whose key was taken over after its lock expired can no longer
 * commit an effect or store an outcome under that key.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, HookHandlerDoneFunction, onSendHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { executionContext, type ExecutionContext } from '../context.js';
import type { Database, Tx } from '../db/database.js';
import type { JobQueue } from '../jobs/jobs.js';
import { AppError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `false`: this POST ignores `Idempotency-Key` — for routes whose responses carry secrets (login,
     * token refresh), which must not be stored.
     */
    idempotency?: boolean;
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
export const IDEMPOTENCY_PURGE_QUEUE = 'idempotency.purge';
/** Minute 17 of every hour: off the top of the hour, when cron jobs everywhere pile up. */
export const IDEMPOTENCY_PURGE_CRON = '17 * * * *';

/** Printable ASCII (space to tilde), like Stripe's keys; anything else could smuggle bytes into logs. */
const VALID_KEY = /^[\x20-\x7e]{1,255}$/;
/** Response headers that are part of the outcome; the rest (request id, CORS, security) are per request. */
const STORED_HEADERS = ['content-type', 'location'] as const;

export interface IdempotencyOptions {
  /** How long outcomes are kept and replayed. */
  ttlHours: number;
  /**
   * How long a running request holds its key before a retry may take it over (only if its effect has
   * not committed). Default 60 s.
   */
  lockSeconds?: number;
}

/** This request owns the key; `token` is the `locked_until` it set, which identifies the claim. */
interface Claim {
  scope: string;
  key: string;
  token: string;
  settled: boolean;
}

interface StoredOutcome {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

interface KeyRow extends Record<string, unknown> {
  fingerprint: string;
  status: 'running' | 'completed';
  effect_committed: boolean;
  lock_seconds_left: number | string;
  expired: boolean;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

const claims = new WeakMap<FastifyRequest, Claim>();

/**
 * The credential the key belongs to: nobody can replay (or block) another client's requests by guessing
 * its key. Anonymous callers are told apart by address.
 */
export function scopeOf(request: FastifyRequest): string {
  const actor = request.actor;
  if (actor?.kind === 'api_key' && actor.apiKeyId) return `api_key:${actor.apiKeyId}`;
  if (actor?.kind === 'user' && actor.userId) return `tenant:${actor.tenantId ?? '-'}:user:${actor.userId}`;
  return `anon:${request.ip}`;
}

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are the same request. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined && typeof item !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`;
}

/**
 * sha256 of method, URL (path and query: the same key on another resource is another request) and the
 * canonical body.
 */
export function fingerprintRequest(method: string, url: string, body: unknown): string {
  const hash = createHash('sha256').update(`${method.toUpperCase()}\n${url}\n`);
  if (body === undefined || body === null) hash.update('');
  else if (Buffer.isBuffer(body) || typeof body === 'string') hash.update(body);
  else hash.update(canonicalJson(body));
  return hash.digest('hex');
}

/** The key of a request, or null when it sent none; throws 400 when it sent a malformed one. */
export function readIdempotencyKey(request: FastifyRequest): string | null {
  const raw = request.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || !VALID_KEY.test(raw)) {
    throw new AppError('request.invalid_header', 'Idempotency-Key must be one value of 1 to 255 printable ASCII characters.');
  }
  return raw;
}

/**
 * Our own bookkeeping transactions must not fire the request's beforeCommit hook: storing the outcome
 * is not "the effect".
 */
function withoutEffectHook<T>(fn: () => Promise<T>): Promise<T> {
  const current = executionContext.current();
  return current ? executionContext.run({ ...current, beforeCommit: undefined }, fn) : fn();
}

const tokenOf = (value: unknown) => new Date(value as string | Date).toISOString();

/**
 * Claims the key for this request, or decides the request must not run: returns the claim, or the
 * stored outcome to replay; throws 422 / 409.
 */
async function claimKey(
  db: Database,
  input: { scope: string; key: string; fingerprint: string; ttlHours: number; lockSeconds: number },
): Promise<{ claim: Claim } | { replay: StoredOutcome }> {
  const { scope, key, fingerprint, ttlHours, lockSeconds } = input;
  // Millisecond precision so the token survives the round trip through a JS Date.
  const lockedUntil = sql`date_trunc('milliseconds', now() + make_interval(secs => ${lockSeconds}))`;
  const expiresAt = sql`now() + make_interval(hours => ${ttlHours})`;
  const owned = (row: { locked_until: unknown } | undefined) => ({ claim: { scope, key, token: tokenOf(row!.locked_until), settled: false } });

  return withoutEffectHook(() =>
    db.transaction({}, async (tx) => {
      // Twice at most: a row purged between the failed insert and the read is simply inserted again.
      for (let attempt = 0; attempt < 2; attempt++) {
        const inserted = await tx.execute<{ locked_until: unknown }>(sql`
          INSERT INTO idempotency_keys (scope, key, fingerprint, status, locked_until, expires_at)
          VALUES (${scope}, ${key}, ${fingerprint}, 'running', ${lockedUntil}, ${expiresAt})
          ON CONFLICT (scope, key) DO NOTHING
          RETURNING locked_until`);
        if (inserted.rows.length > 0) return owned(inserted.rows[0]);

        const found = await tx.execute<KeyRow>(sql`
          SELECT fingerprint, status, effect_committed_at IS NOT NULL AS effect_committed,
                 ceil(extract(epoch FROM locked_until - now()))::int AS lock_seconds_left, expires_at <= now() AS expired,
                 response_status, response_headers, response_body
          FROM idempotency_keys WHERE scope = ${scope} AND key = ${key}
          FOR UPDATE`);
        const row = found.rows[0];
        if (!row) continue;

        if (row.expired) {
          // Past its TTL but not purged yet: the key is free again.
          const reset = await tx.execute<{ locked_until: unknown }>(sql`
            UPDATE idempotency_keys
            SET fingerprint = ${fingerprint}, status = 'running', locked_until = ${lockedUntil}, effect_committed_at = NULL,
                response_status = NULL, response_headers = NULL, response_body = NULL, created_at = now(), expires_at = ${expiresAt}
            WHERE scope = ${scope} AND key = ${key}
            RETURNING locked_until`);
          return owned(reset.rows[0]);
        }
        if (row.fingerprint !== fingerprint) {
          throw new AppError(
            'idempotency.key_reused',
            'This Idempotency-Key was already used with a different request (method, URL or body); use a new key for a new request.',
          );
        }
        if (row.status === 'completed') {
          return { replay: { status: row.response_status ?? 200, headers: row.response_headers ?? {}, body: row.response_body } };
        }
        const secondsLeft = Number(row.lock_seconds_left);
        if (secondsLeft > 0) {
          throw new AppError('idempotency.in_progress', 'A request with this Idempotency-Key is still being processed; retry later.', {
            headers: { 'retry-after': String(secondsLeft) },
          });
        }
        if (row.effect_committed) {
          // Its effect committed but its outcome was never stored (still running, or it died): running it
          // again would repeat the effect, and there is nothing to replay yet.
          throw new AppError(
            'idempotency.in_progress',
            'A request with this Idempotency-Key took effect but its response was not recorded yet; retry later or check the resource.',
          );
        }
        // The first attempt's lock expired before its effect committed: it died or stalled, take it over.
        const taken = await tx.execute<{ locked_until: unknown }>(sql`
          UPDATE idempotency_keys SET locked_until = ${lockedUntil}
          WHERE scope = ${scope} AND key = ${key}
          RETURNING locked_until`);
        return owned(taken.rows[0]);
      }
      throw new AppError('idempotency.in_progress', 'A request with this Idempotency-Key is changing state; retry.');
    }),
  );
}

/**
 * Records "the effect committed" in the effect's own transaction. Fails (rolling the effect back) when
 * the claim was taken over, so two attempts never both commit.
 */
async function markEffectCommitted(tx: Tx, claim: Claim): Promise<void> {
  const marked = await tx.execute(sql`
    UPDATE idempotency_keys SET effect_committed_at = coalesce(effect_committed_at, now())
    WHERE scope = ${claim.scope} AND key = ${claim.key} AND locked_until = ${claim.token}::timestamptz
    RETURNING 1 AS marked`);
  if (marked.rows.length === 0) {
    throw new AppError('idempotency.in_progress', 'Another request took over this Idempotency-Key while this one was running; retry later.');
  }
}

/** Stores the outcome (completed), or frees the key when the outcome must not be stored. */
async function settleClaim(db: Database, claim: Claim, outcome: StoredOutcome | null): Promise<void> {
  await withoutEffectHook(() =>
    db.transaction({}, async (tx) => {
      if (!outcome || outcome.status === 429) {
        // Not an outcome worth replaying: free the key for a retry, unless the effect already happened.
        const freed = await tx.execute(sql`
          DELETE FROM idempotency_keys
          WHERE scope = ${claim.scope} AND key = ${claim.key} AND locked_until = ${claim.token}::timestamptz AND effect_committed_at IS NULL
          RETURNING 1 AS freed`);
        if (freed.rows.length > 0 || !outcome) return;
      }
      await tx.execute(sql`
        UPDATE idempotency_keys
        SET status = 'completed', response_status = ${outcome.status}, response_headers = ${JSON.stringify(outcome.headers)}::jsonb,
            response_body = ${outcome.body}
        WHERE scope = ${claim.scope} AND key = ${claim.key} AND locked_until = ${claim.token}::timestamptz AND status = 'running'`);
    }),
  );
}

function outcomeOf(reply: FastifyReply, payload: unknown): StoredOutcome | null {
  let body: string | null;
  if (payload === undefined || payload === null) body = null;
  else if (typeof payload === 'string') body = payload;
  else if (Buffer.isBuffer(payload)) body = payload.toString('utf8');
  else return null; // a stream cannot be replayed
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  return { status: reply.statusCode, headers, body };
}

function sendReplay(reply: FastifyReply, outcome: StoredOutcome): void {
  void reply.code(outcome.status).headers(outcome.headers).header(REPLAYED_HEADER, 'true');
  void reply.send(outcome.body ?? undefined);
}

/**
 * Honours `Idempotency-Key` on every POST route (unless its config says `idempotency: false`). It hooks
 * the routes registered after it, appending its preHandler to each: register it before the modules and
 * after any plugin that adds route-level preHandlers (rate limits), so the key is claimed last.
 */
export const idempotencyPlugin = fp(async function idempotency(app: FastifyInstance, options: IdempotencyOptions) {
  const lockSeconds = options.lockSeconds ?? 60;
  const db = () => app.platform.db;

  // Runs as the route's LAST preHandler — after validation, authentication and permission checks — so
  // only requests that reach the handler claim a key (Stripe stores nothing for rejected requests).
  const claimBeforeHandler = function (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (request.method !== 'POST') return done();
    let key: string | null;
    try {
      key = readIdempotencyKey(request);
    } catch (error) {
      return done(error as Error);
    }
    if (key === null) return done();
    const scope = scopeOf(request);
    const fingerprint = fingerprintRequest(request.method, request.url, request.body);
    claimKey(db(), { scope, key, fingerprint, ttlHours: options.ttlHours, lockSeconds }).then(
      (result) => {
        if ('replay' in result) return sendReplay(reply, result.replay);
        const { claim } = result;
        claims.set(request, claim);
        // The handler runs inside this context (done() calls it synchronously), so every unit of work it
        // opens records the effect in its own transaction. A fresh context rather than a mutation, so the
        // hook is bound to this claim only and chains any hook already set.
        const current: ExecutionContext = executionContext.current() ?? { requestId: request.id };
        const previous = current.beforeCommit;
        executionContext.run(
          {
            ...current,
            beforeCommit: async (tx) => {
              await previous?.(tx);
              await markEffectCommitted(tx, claim);
            },
          },
          () => done(),
        );
      },
      (error: Error) => done(error),
    );
  };

  const storeOutcome = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = claims.get(request);
    // Only the request that owns the key stores; replays and the plugin's own 409/422 never do.
    if (!claim || claim.settled) return payload;
    claim.settled = true;
    const outcome = outcomeOf(reply, payload);
    try {
      await settleClaim(db(), claim, outcome);
    } catch (error) {
      // The response still goes out; the key stays running and is taken over (or expires) later.
      request.log.error({ err: error }, 'storing the idempotent outcome failed');
    }
    if (!outcome) request.log.warn('streamed response cannot be replayed; Idempotency-Key released');
    return payload;
  };

  // Hooks go on POST routes only, so other requests pay nothing for idempotency.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST') || route.config?.idempotency === false) return;
    const asList = <T>(hooks: T | T[] | undefined): T[] => (hooks ? (Array.isArray(hooks) ? hooks : [hooks]) : []);
    route.preHandler = [...asList(route.preHandler), claimBeforeHandler as preHandlerHookHandler];
    route.onSend = [...asList(route.onSend), storeOutcome as onSendHookHandler];
  });
});

/** OpenAPI: the reusable header parameter, `#/components/parameters/IdempotencyKey`. */
export const idempotencyKeyParameter = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes the POST safe to retry: the first outcome (success or error) for a key is stored and replayed, with ' +
    '`Idempotent-Replayed: true`, for IDEMPOTENCY_TTL_HOURS (default 24 h). Keys belong to the credential that sent them. ' +
    'The same key with a different method, URL or body answers 422 `idempotency.key_reused`; while the first request ' +
    'is still running, 409 `idempotency.in_progress`. Use a fresh random value (a UUID) per operation.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[ -~]+$' },
} as const;

/** Vendor mark set by {@link markIdempotentOperation} and replaced by {@link documentIdempotentOperations}. */
const IDEMPOTENT_MARK = 'x-atrium-idempotent';

/** @fastify/swagger `transform`: marks the operations of the routes that honour the header. */
export function markIdempotentOperation<S extends FastifySchema>({
  schema,
  url,
  route,
}: {
  schema: S;
  url: string;
  route: Pick<RouteOptions, 'method' | 'config'>;
}): { schema: S; url: string } {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const config = route.config as { idempotency?: boolean } | undefined;
  if (!methods.includes('POST') || config?.idempotency === false) return { schema, url };
  return { schema: { ...schema, [IDEMPOTENT_MARK]: true }, url };
}

const problemContent = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * @fastify/swagger `transformObject`: each marked POST operation references the header parameter and
 * documents the 409 / 422 it can answer (a route's own 409 description wins).
 */
export function documentIdempotentOperations<T extends { paths?: Record<string, Record<string, unknown> | undefined> }>(document: T): T {
  for (const pathItem of Object.values(document.paths ?? {})) {
    if (!pathItem) continue;
    for (const [method, value] of Object.entries(pathItem)) {
      if (!value || typeof value !== 'object' || !(IDEMPOTENT_MARK in value)) continue;
      // Operations of a multi-method route share one object: rebuild rather than mutate.
      const { [IDEMPOTENT_MARK]: _mark, ...operation } = value as { [IDEMPOTENT_MARK]?: true; parameters?: unknown[]; responses?: Record<string, unknown> };
      pathItem[method] =
        method !== 'post'
          ? operation
          : {
              ...operation,
              parameters: [...(operation.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }],
              responses: {
                409: problemContent('`idempotency.in_progress`: a request with this Idempotency-Key is still running; retry after Retry-After.'),
                422: problemContent('`idempotency.key_reused`: this Idempotency-Key was used with a different request.'),
                ...operation.responses,
              },
            };
    }
  }
  return document;
}

/** Deletes outcomes past their TTL, in batches so no statement holds many row locks. Returns the count. */
export async function purgeExpiredIdempotencyKeys(db: Database, batchSize = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db.transaction({}, (tx) =>
      tx.execute(sql`
        DELETE FROM idempotency_keys
        WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys WHERE expires_at <= now() LIMIT ${batchSize})
        RETURNING 1 AS deleted`),
    );
    total += deleted.rows.length;
    if (deleted.rows.length < batchSize) return total;
  }
}

/** Worker side: the hourly purge job (the schedule is stored once, whichever worker registers it). */
export async function startIdempotencyPurge(jobs: JobQueue, db: Database): Promise<void> {
  await jobs.define({ name: IDEMPOTENCY_PURGE_QUEUE, retryLimit: 2 });
  await jobs.work(IDEMPOTENCY_PURGE_QUEUE, async () => {
    await purgeExpiredIdempotencyKeys(db);
  });
  await jobs.schedule(IDEMPOTENCY_PURGE_QUEUE, IDEMPOTENCY_PURGE_CRON);
}
