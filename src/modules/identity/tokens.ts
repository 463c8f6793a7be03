/**
 * Access tokens: EdDSA (Ed25519) JWTs signed with the key ring's active key, and their verification.
 *
 * Verification trusts nothing in the token before the signature is checked: the protected header is
 * parsed here first and must be exactly `{ alg: 'EdDSA', kid: <a key of ours>, typ?: 'JWT' }` — `alg: none`,
 * HMAC algorithms (the public key used as an HMAC secret), embedded keys (`jwk`), key URLs (`jku`, `x5u`),
 * certificate chains (`x5c`) and `crit` extensions are refused before any key is chosen. Verified tokens
 * are cached (bounded LRU, each entry until the token's `exp`), so a request does not pay a signature
 * check each time; session revocation calls `forget(jti)` (and checks the session per request). A cached
 * token whose key has since been retired is refused. An unknown `kid` makes the key ring reload once
 * (throttled) before the token is refused: another process may just have rotated the signing key.
 * An impersonation token names the acting administrator in the RFC 8693 `act` claim (`{ sub }`) and ends
 * with its session rather than after the usual lifetime.
 */
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AppError } from '../../core/http/errors.js';
import { uuidv7 } from '../../core/db/ids.js';
import { SIGNING_ALGORITHM, type KeyRing } from './signing-keys.js';

export interface AccessTokenClaims {
  iss: string;
  aud: string | string[];
  /** The user. */
  sub: string;
  /** The tenant the token acts in; absent for a person not acting in any tenant. */
  tid?: string;
  /** The session the token was issued for. */
  sid: string;
  typ: 'access';
  jti: string;
  iat: number;
  exp: number;
  nbf?: number;
  /** RFC 8693 actor: the platform administrator acting as `sub` (an impersonation token). */
  act?: { sub: string };
  [claim: string]: unknown;
}

export interface IssueAccessTokenInput {
  userId: string;
  tenantId?: string | null;
  sessionId: string;
  /** Impersonation: the administrator acting as the user, written as the RFC 8693 `act` claim. */
  actorId?: string;
  /**
   * When the token expires, instead of after the configured lifetime (an impersonation token ends with
   * its session); rounded down to the second, and it must lie in the future.
   */
  expiresAt?: Date;
  /** Further claims (e.g. `sid`-bound data); may not override the registered ones. */
  extra?: Record<string, unknown>;
}

export interface IssuedAccessToken {
  token: string;
  /** Seconds until the token expires. */
  expiresIn: number;
  jti: string;
}

export interface AccessTokenStats {
  /** Signature checks performed (cache misses that reached the key). */
  verifications: number;
  cacheHits: number;
  cacheSize: number;
}

export interface AccessTokens {
  issue(input: IssueAccessTokenInput): Promise<IssuedAccessToken>;
  /** The verified claims; throws `InvalidTokenError` (401 `auth.unauthenticated`) otherwise. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Drops a token from the verified cache (its session was revoked). */
  forget(jti: string): void;
  clear(): void;
  stats(): AccessTokenStats;
}

/** 401 for a refused access token. `reason` is for logs and tests; the client only learns expired/invalid. */
export class InvalidTokenError extends AppError {
  constructor(readonly reason: string) {
    super('auth.unauthenticated', reason === 'expired' ? 'The access token has expired.' : 'The access token is invalid.', {
      headers: { 'www-authenticate': `Bearer error="invalid_token"` },
    });
  }
}

/**
 * The longest an access token may live: impersonation tokens (`expiresAt`) up to an hour. A previous
 * signing key keeps verifying at least this long after a rotation, so no token dies early.
 */
export const MAX_ACCESS_TOKEN_SECONDS = 3600;

/** How long a retired signing key must keep verifying: the longest any token it signed may live. */
export const longestTokenLifetimeSeconds = (ttlSeconds: number) => Math.max(ttlSeconds, MAX_ACCESS_TOKEN_SECONDS);

const RESERVED_CLAIMS = new Set(['iss', 'aud', 'sub', 'tid', 'sid', 'typ', 'jti', 'iat', 'exp', 'nbf', 'act']);
const ALLOWED_HEADER_PARAMETERS = new Set(['alg', 'kid', 'typ']);
/** How far in the future `iat` may lie (clock skew between processes). */
const MAX_IAT_SKEW_SECONDS = 60;
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

interface CacheEntry {
  claims: AccessTokenClaims;
  expiresAtMs: number;
  /** The key that verified it: once retired, the entry is no longer trusted. */
  kid: string;
}

/** The protected header, parsed without trusting anything in it. */
function readHeader(token: string): { kid: string } {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]+$/.test(part))) throw new InvalidTokenError('malformed');
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidTokenError('malformed header');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new InvalidTokenError('malformed header');
  const fields = header as Record<string, unknown>;
  const unexpected = Object.keys(fields).filter((name) => !ALLOWED_HEADER_PARAMETERS.has(name));
  if (unexpected.length > 0) throw new InvalidTokenError(`header parameter not accepted: ${unexpected.join(', ')}`);
  if (fields.alg !== SIGNING_ALGORITHM) throw new InvalidTokenError('algorithm not accepted');
  if (fields.typ !== undefined && fields.typ !== 'JWT') throw new InvalidTokenError('header typ not accepted');
  if (typeof fields.kid !== 'string' || fields.kid === '') throw new InvalidTokenError('missing kid');
  return { kid: fields.kid };
}

function checkClaims(payload: JWTPayload, nowSeconds: number): AccessTokenClaims {
  const claims = payload as Partial<AccessTokenClaims>;
  if (claims.typ !== 'access') throw new InvalidTokenError('not an access token');
  for (const name of ['sub', 'sid', 'jti'] as const) {
    if (typeof claims[name] !== 'string' || claims[name] === '') throw new InvalidTokenError(`missing ${name}`);
  }
  if (claims.tid !== undefined && typeof claims.tid !== 'string') throw new InvalidTokenError('invalid tid');
  if (claims.act !== undefined) {
    const act: unknown = claims.act;
    const sub = typeof act === 'object' && act !== null && !Array.isArray(act) ? (act as Record<string, unknown>).sub : undefined;
    if (typeof sub !== 'string' || sub === '') throw new InvalidTokenError('invalid act');
    // Only the actor's subject is trusted and passed on (no nested actor chains are issued here).
    claims.act = { sub };
  }
  if (typeof claims.iat !== 'number' || claims.iat > nowSeconds + MAX_IAT_SKEW_SECONDS) throw new InvalidTokenError('invalid iat');
  return claims as AccessTokenClaims;
}

function reasonFor(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.reason;
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim ${error.claim} ${error.reason}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JOSEError) return error.code;
  throw error;
}

export function createAccessTokens(options: {
  keyRing: KeyRing;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  cacheSize?: number;
  /** Milliseconds since the epoch; tests move it. */
  clock?: () => number;
}): AccessTokens {
  const { keyRing, issuer, audience, ttlSeconds } = options;
  const cacheSize = options.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE;
  const clock = options.clock ?? Date.now;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recent.
  const cache = new Map<string, CacheEntry>();
  const tokenByJti = new Map<string, string>();
  let verifications = 0;
  let cacheHits = 0;

  const drop = (token: string) => {
    const entry = cache.get(token);
    if (!entry) return;
    cache.delete(token);
    if (tokenByJti.get(entry.claims.jti) === token) tokenByJti.delete(entry.claims.jti);
  };

  const remember = (token: string, claims: AccessTokenClaims, kid: string) => {
    if (cacheSize <= 0) return;
    drop(tokenByJti.get(claims.jti) ?? '');
    cache.set(token, { claims, expiresAtMs: claims.exp * 1000, kid });
    tokenByJti.set(claims.jti, token);
    while (cache.size > cacheSize) drop(cache.keys().next().value!);
  };

  return {
    issue: async ({ userId, tenantId, sessionId, actorId, expiresAt, extra = {} }) => {
      const reserved = Object.keys(extra).filter((name) => RESERVED_CLAIMS.has(name));
      if (reserved.length > 0) throw new TypeError(`extra claims may not set ${reserved.join(', ')}`);
      const { kid, privateKey } = keyRing.activeKey();
      const jti = uuidv7();
      const now = Math.floor(clock() / 1000);
      const exp = expiresAt ? Math.floor(expiresAt.getTime() / 1000) : now + ttlSeconds;
      if (exp <= now) throw new TypeError('expiresAt must lie in the future');
      if (exp - now > longestTokenLifetimeSeconds(ttlSeconds)) throw new TypeError('expiresAt lies beyond the longest token lifetime');
      const token = await new SignJWT({ ...extra, ...(tenantId ? { tid: tenantId } : {}), sid: sessionId, typ: 'access', ...(actorId ? { act: { sub: actorId } } : {}) })
        .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(userId)
        .setJti(jti)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(privateKey);
      return { token, expiresIn: exp - now, jti };
    },

    verify: async (token) => {
      const nowMs = clock();
      const cached = cache.get(token);
      if (cached) {
        if (nowMs < cached.expiresAtMs && keyRing.keyFor(cached.kid)) {
          cacheHits++;
          cache.delete(token);
          cache.set(token, cached);
          return cached.claims;
        }
        drop(token);
      }

      try {
        const { kid } = readHeader(token);
        const key = keyRing.keyFor(kid) ?? (await keyRing.findKey(kid));
        if (!key) throw new InvalidTokenError('unknown kid');
        verifications++;
        const { payload } = await jwtVerify(token, key, {
          algorithms: [SIGNING_ALGORITHM],
          issuer,
          audience,
          requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
          currentDate: new Date(nowMs),
        });
        const claims = checkClaims(payload, Math.floor(nowMs / 1000));
        remember(token, claims, kid);
        return claims;
      } catch (error) {
        if (error instanceof InvalidTokenError) throw error;
        throw new InvalidTokenError(reasonFor(error));
      }
    },

    forget: (jti) => drop(tokenByJti.get(jti) ?? ''),
    clear: () => {
      cache.clear();
      tokenByJti.clear();
    },
    stats: () => ({ verifications, cacheHits, cacheSize: cache.size }),
  };
}
