/**
 * Authentication (DESIGN §4): a bearer access token → `request.actor`. The signature check is cached by
 * the token verifier; the session is looked up on every request (one statement, `session_actor`), so a
 * logout, a revoked session, a disabled person or a lost membership cuts access off at once, in every
 * process. The same statement reads what the permission check needs (the membership's built-in role and
 * authz version, the store named by `X-Store-ID` and the person's role there) and enforces the tenant's
 * session lifetime. The authorization module then checks the route's permission.
 *
 * Routes declare `permission: 'self'` when any signed-in person may call them about their own account
 * (sessions, MFA, profile).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Database } from '../../core/db/database.js';
import { AppError } from '../../core/http/errors.js';
import { setActor, type Actor } from '../../core/http/request-context.js';
import { isUuid } from '../../core/db/ids.js';
import type { TenantView, UserView } from './auth.schemas.js';
import { InvalidTokenError, type AccessTokens } from './tokens.js';

/** The permission of routes about the caller's own account: any signed-in person holds it. */
export const SELF = 'self';

interface SessionActorRow {
  email: string;
  name: string;
  email_verified_at: Date | null;
  totp_enabled_at: Date | null;
  created_at: Date;
  locale: string | null;
  timezone: string | null;
  phone: string | null;
  platform_role: Actor['platformRole'] | null;
  mfa_verified: boolean;
  session_created_at: Date;
  impersonator_id: string | null;
  membership_status: 'active' | 'deactivated' | null;
  membership_role: Actor['role'] | null;
  membership_title: string | null;
  membership_authz_version: string | number | null;
  tenant_name: string | null;
  tenant_slug: string | null;
  tenant_status: TenantView['status'] | null;
  tenant_settings: { security?: { mfaRequired?: boolean; sessionMaxAgeMinutes?: number | null; allowImpersonation?: boolean } } | null;
  store_exists: boolean;
  store_role: Actor['storeRole'] | null;
  subscription_status: string | null;
  entitlements_revision: string | number | null;
}

/** The person behind a verified session, as the authentication statement read them. */
export interface SignedInView {
  user: UserView;
  profile: { locale: string | null; timezone: string | null; phone: string | null };
  /** The token's tenant and the person's membership there (null when the token names none or may not act there). */
  tenant: TenantView | null;
  membership: { role: NonNullable<Actor['role']>; status: 'active' | 'deactivated'; title: string | null } | null;
  /** The tenant (while the token may act there) requires MFA of its members (`security.mfaRequired`). */
  mfaRequired: boolean;
  /** The tenant requires MFA and the person has none: only `self` routes (enrolment) work. */
  mfaEnrollmentRequired: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set with `actor` for a person's session: their profile and standing, read once per request. */
    signedIn?: SignedInView;
  }
}

/** The caller of a `self` route: a person signed in through a session (never an API key). */
export interface SignedInPerson {
  userId: string;
  sessionId: string;
  /** The access token's `jti`. */
  tokenId?: string;
  /** Set only while the token's membership and tenant are active. */
  tenantId?: string;
}

/** The signed-in person behind `actor`; an API key (or anything without a session) is refused with 403. */
export function signedInPerson(actor: Actor | undefined): SignedInPerson {
  if (actor?.kind !== 'user' || !actor.userId || !actor.sessionId) {
    throw new AppError('auth.forbidden', 'This route is about a signed-in person’s own account; it needs a user access token.');
  }
  return { userId: actor.userId, sessionId: actor.sessionId, tokenId: actor.tokenId, tenantId: actor.tenantId };
}

const SESSION_ACTOR_SQL = 'SELECT * FROM session_actor($1, $2, $3, $4)';

/** The store context a request asks for: a UUID in `X-Store-ID`, or null. */
export function requestedStoreId(request: FastifyRequest): string | null {
  const header = request.headers['x-store-id'];
  if (header === undefined || header === '') return null;
  if (typeof header !== 'string' || !isUuid(header)) {
    throw new AppError('request.invalid_header', 'X-Store-ID must be the id (a UUID) of one of your stores.');
  }
  return header.toLowerCase();
}

/** The bearer token of the request, or null when it carries none (any other scheme counts as none). */
export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return match ? match[1]! : null;
}

function tenantAccessRevoked(row: SessionActorRow): Actor['tenantAccessRevoked'] | undefined {
  if (row.membership_status !== 'active') return 'membership_inactive';
  if (row.tenant_status === 'suspended') return 'tenant_suspended';
  if (row.tenant_status !== 'active') return 'tenant_closed';
  return undefined;
}

/** The tenant and membership are shown only while the token may act there (as `actor.tenantId`). */
function presentSignedIn(userId: string, tenantId: string | undefined, row: SessionActorRow): SignedInView {
  const timestamp = (value: Date | string) => new Date(value).toISOString();
  const usable = tenantId !== undefined && tenantAccessRevoked(row) === undefined;
  const mfaRequired = usable && row.tenant_settings?.security?.mfaRequired === true;
  return {
    user: {
      id: userId,
      email: row.email,
      name: row.name,
      emailVerified: row.email_verified_at !== null,
      mfaEnabled: row.totp_enabled_at !== null,
      platformRole: row.platform_role ?? null,
      createdAt: timestamp(row.created_at),
    },
    profile: { locale: row.locale, timezone: row.timezone, phone: row.phone },
    tenant: usable ? { id: tenantId, name: row.tenant_name!, slug: row.tenant_slug!, status: row.tenant_status! } : null,
    membership: usable ? { role: row.membership_role!, status: row.membership_status!, title: row.membership_title } : null,
    mfaRequired,
    mfaEnrollmentRequired: mfaRequired && row.totp_enabled_at === null,
  };
}

/** Whether the tenant's `security.sessionMaxAgeMinutes` has run out for a session opened at `createdAt`. */
function outlivedTenantPolicy(row: SessionActorRow, now: number): boolean {
  const maxAgeMinutes = row.tenant_settings?.security?.sessionMaxAgeMinutes;
  return typeof maxAgeMinutes === 'number' && new Date(row.session_created_at).getTime() + maxAgeMinutes * 60_000 <= now;
}

/**
 * Verifies a bearer token and its session in one statement: the actor and the person as read, or an
 * `InvalidTokenError` (401). `storeId` is the store context asked for (X-Store-ID).
 */
export async function authenticateToken(
  deps: { db: Database; accessTokens: AccessTokens },
  token: string,
  storeId: string | null = null,
): Promise<{ actor: Actor; signedIn: SignedInView }> {
  const claims = await deps.accessTokens.verify(token);
  const { rows } = await deps.db.executor.executeSql(SESSION_ACTOR_SQL, [claims.sid, claims.sub, claims.tid ?? null, storeId], { name: 'atrium_session_actor' });
  const row = rows[0] as SessionActorRow | undefined;
  if (!row) {
    deps.accessTokens.forget(claims.jti);
    throw new InvalidTokenError('session ended');
  }
  // The banner claim must tell the truth: an impersonation token and its session name the same administrator.
  if ((claims.act?.sub ?? null) !== (row.impersonator_id ?? null)) throw new InvalidTokenError('actor claim does not match the session');
  // A tenant that forbids impersonation cuts running impersonations off too.
  if (row.impersonator_id && row.tenant_settings?.security?.allowImpersonation === false) throw new InvalidTokenError('the tenant forbids impersonation');
  // The tenant's own, shorter session lifetime: the session is over for this tenant (sign in again).
  if (claims.tid && outlivedTenantPolicy(row, Date.now())) throw new InvalidTokenError('session older than the tenant allows');
  const actor: Actor = { kind: 'user', userId: claims.sub, sessionId: claims.sid, tokenId: claims.jti, mfaVerified: row.mfa_verified };
  if (row.platform_role) actor.platformRole = row.platform_role;
  if (row.impersonator_id) actor.impersonatorId = row.impersonator_id;
  if (claims.tid) {
    const revoked = tenantAccessRevoked(row);
    if (revoked) actor.tenantAccessRevoked = revoked;
    else {
      actor.tenantId = claims.tid;
      if (row.membership_role) actor.role = row.membership_role;
      actor.authzVersion = Number(row.membership_authz_version);
      // Read-only when canceled or expired (the billing module answers 402), and the key of the cached entitlements.
      if (row.subscription_status) actor.subscriptionStatus = row.subscription_status;
      if (row.entitlements_revision !== null) actor.entitlementsRevision = Number(row.entitlements_revision);
      // Whether the person may act in this store is the permission check's decision.
      if (storeId && row.store_exists) {
        actor.storeId = storeId;
        if (row.store_role) actor.storeRole = row.store_role;
      }
    }
  }
  return { actor, signedIn: presentSignedIn(claims.sub, claims.tid, row) };
}

export const authenticatePlugin = fp(async function authenticate(app: FastifyInstance, options: { accessTokens: AccessTokens }) {
  const deps = { db: app.platform.db, accessTokens: options.accessTokens };
  app.decorateRequest('signedIn', undefined);

  // preValidation: after routing (so unknown routes stay 404 for everyone), just before the permission
  // check (authorization module) and the per-actor rate limits.
  // Callback-style hooks: a request without a bearer token (health checks, public routes) passes without
  // allocating a promise.
  app.addHook('preValidation', (request, _reply, done) => {
    const token = bearerToken(request);
    if (token === null) return done();
    let storeId: string | null;
    try {
      storeId = request.routeOptions.config.permission && request.routeOptions.config.permission !== SELF ? requestedStoreId(request) : null;
    } catch (error) {
      return done(error as Error);
    }
    authenticateToken(deps, token, storeId).then(
      ({ actor, signedIn }) => {
        request.signedIn = signedIn;
        setActor(request, actor);
        done();
      },
      (error: unknown) => {
        // A public route serves anonymous callers; a bad token there is simply no credential.
        if (error instanceof InvalidTokenError && request.routeOptions.config.public) return done();
        done(error as Error);
      },
    );
  });
});
