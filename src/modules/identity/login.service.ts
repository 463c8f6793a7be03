/**
 * The ways in with a password: register (the person, their first tenant and the verification email),
 * login (the password, then the second factor when the person has one) and the MFA step that completes
 * such a login. Each ends in `signIn`, in the same transaction as every row it writes.
 *
 * Every secret check goes through the attempt guard (per account and per client address): an attempt is
 * reserved before the check and settled after it, so parallel guesses cannot outrun the limit.
 */
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { uuidv7 } from '../../core/db/ids.js';
import { emit } from '../../core/events/events.js';
import { AppError } from '../../core/http/errors.js';
import { checkSlug, slugify } from '../../core/tenancy/slug.js';
import { memberships, tenants, users } from '../../core/tenancy/tenancy.table.js';
import { normalizeEmail, type LoginResponse } from './auth.schemas.js';
import { authLink, queueAuthMail } from './auth-mails.js';
import type { IdentityDeps } from './deps.js';
import { consumeOneTimeToken, findOneTimeToken, issueOneTimeToken } from './one-time-tokens.js';
import { assertPasswordAcceptable } from './passwords.js';
import { mfaAttemptKey } from './mfa.service.js';
import { checkTotpCode, useRecoveryCode } from './second-factor.js';
import { signIn } from './sign-in.js';

export interface RegisterInput {
  email: string;
  password: string;
  name: string;
  tenantName?: string;
}

export interface LoginInput {
  email: string;
  password: string;
  /** The tenant to act in; it must be an active membership (checked once the person is proven). */
  tenantId?: string;
}

export type MfaVerifyInput = { mfaToken: string; code: string } | { mfaToken: string; recoveryCode: string };

/** The answer to a correct password when the person has a second factor. */
export interface MfaChallenge {
  mfaRequired: true;
  mfaToken: string;
}

/** How many slugs are tried for a new tenant before giving up (each retry adds a random suffix). */
const SLUG_ATTEMPTS = 6;
const TENANT_NAME_MAX = 200;
const WORKSPACE_SUFFIX = "'s workspace";

/** What a password sign-in needs to know about the account behind an email. */
interface Credentials {
  id: string;
  passwordHash: string | null;
  status: string;
  emailVerified: boolean;
  totpEnabled: boolean;
}

/** The name of a tenant created for `personName` when the person gave none ("Ann's workspace"). */
export function defaultTenantName(personName: string): string {
  return `${personName.slice(0, TENANT_NAME_MAX - WORKSPACE_SUFFIX.length).trimEnd()}${WORKSPACE_SUFFIX}`;
}

/** Slug candidates for a tenant name: its slug when usable, then the same with random suffixes. */
export function tenantSlugCandidates(tenantName: string, count = SLUG_ATTEMPTS): string[] {
  // "Ann's workspace" reads better as "anns-workspace" than "ann-s-workspace".
  const base = slugify(tenantName.replace(/['\u2019]/g, ''));
  const suffixed = () => `${base}-${randomBytes(3).toString('hex')}`;
  const candidates = checkSlug(base) === null ? [base] : [];
  while (candidates.length < count) candidates.push(suffixed());
  return candidates;
}

function blankField(field: string, what: string): AppError {
  const message = `${what} must not be blank.`;
  return new AppError('request.validation_failed', `The request is invalid: ${field} ${message}`, { errors: [{ in: 'body', field, message }] });
}

const emailTaken = () => new AppError('auth.email_taken', 'An account with this email address already exists; sign in or reset the password.');
const invalidCredentials = () => new AppError('auth.invalid_credentials', 'The email address or the password is wrong.');
const invalidMfaToken = () => new AppError('auth.invalid_mfa_token', 'The MFA token is invalid, used or expired; sign in again.');
const invalidMfaCode = () => new AppError('auth.invalid_mfa_code', 'The code is wrong or was already used.');

// One statement outside a transaction (one round trip, not three): `users` is a global table without
// row-level security, and nothing is written before the password is proven.
const CREDENTIALS_SQL =
  'SELECT id, password_hash, status, email_verified_at IS NOT NULL AS email_verified, totp_enabled_at IS NOT NULL AS totp_enabled FROM users WHERE lower(email) = lower($1)';

/** The account with this email (case-insensitive, through the `lower(email)` unique index), or null. */
async function findCredentials(db: Database, email: string): Promise<Credentials | null> {
  const { rows } = await db.executor.executeSql(CREDENTIALS_SQL, [email]);
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id as string,
    passwordHash: row.password_hash as string | null,
    status: row.status as string,
    emailVerified: row.email_verified === true,
    totpEnabled: row.totp_enabled === true,
  };
}

/** Inserts the tenant under the first free slug of its candidates (the unique index decides, whatever RLS hides). */
async function insertTenant(tx: Tx, tenantId: string, name: string) {
  for (const slug of tenantSlugCandidates(name)) {
    const [tenant] = await tx.insert(tenants).values({ id: tenantId, name, slug }).onConflictDoNothing().returning();
    if (tenant) return tenant;
  }
  throw new AppError('resource.conflict', 'Could not find a free address (slug) for the new tenant; try another tenant name.');
}

/**
 * Registers a person: the user (argon2id hash), their first tenant with them as owner, audit rows, the
 * `tenant.created` event and the verification email — one transaction — and signs them in.
 * 409 `auth.email_taken` when the address (in any capitalisation) is registered.
 */
export async function registerAccount(deps: IdentityDeps, input: RegisterInput, origin: RequestOrigin): Promise<LoginResponse> {
  const { email } = input;
  const name = input.name.trim();
  if (name === '') throw blankField('/name', 'The name');
  const tenantName = input.tenantName === undefined ? defaultTenantName(name) : input.tenantName.trim();
  if (tenantName === '') throw blankField('/tenantName', 'The tenant name');
  assertPasswordAcceptable(input.password, { email });

  const db = deps.platform.db;
  // Cheap check first, so a taken address costs no argon2 work; the insert below settles races.
  if (await findCredentials(db, email)) throw emailTaken();
  const passwordHash = await deps.passwords.hash(input.password);

  const userId = uuidv7();
  const tenantId = uuidv7();
  return db.transaction({ tenantId, userId }, async (tx, executor) => {
    const [user] = await tx
      .insert(users)
      .values({ id: userId, email, name, passwordHash, passwordChangedAt: new Date() })
      .onConflictDoNothing()
      .returning({ id: users.id });
    if (!user) throw emailTaken();
    const tenant = await insertTenant(tx, tenantId, tenantName);
    await deps.platform.entitlements.startSubscription(tx, tenantId);
    await tx.insert(memberships).values({ tenantId, userId, role: 'owner' });

    const actor = { type: 'user' as const, id: userId };
    const where = { ip: origin.ip, userAgent: origin.userAgent, requestId: origin.requestId };
    await audit.record(tx, { actor, action: 'user.registered', target: { type: 'user', id: userId }, after: { email, name }, ...where });
    await audit.record(tx, { actor, action: 'tenant.created', target: { type: 'tenant', id: tenantId }, after: { name: tenant.name, slug: tenant.slug }, ...where });
    // Other modules react to the new tenant through the outbox.
    await emit(tx, { type: 'tenant.created', tenantId, payload: { tenantId, name: tenant.name, slug: tenant.slug, ownerUserId: userId, source: 'register' } });

    const token = await issueOneTimeToken(tx, { userId, purpose: 'verify_email', email });
    await queueAuthMail(deps.platform, executor, 'verifyEmail', email, { name, email, link: authLink(deps.config.http.publicUrl, 'verify-email', token) });

    return signIn(tx, deps, { userId, tenantId, mfaVerified: false, ip: origin.ip, userAgent: origin.userAgent });
  });
}

/** A hash with today's parameters for a password just proven right, or null when hashing is refused now. */
async function rehashIfNeeded(deps: IdentityDeps, user: Credentials, password: string): Promise<string | null> {
  if (!user.passwordHash || !deps.passwords.needsRehash(user.passwordHash)) return null;
  try {
    return await deps.passwords.hash(password);
  } catch (error) {
    // Overloaded (503): the old hash still works, so the sign-in goes on and the next one rehashes.
    deps.platform.logger.warn({ err: error, userId: user.id }, 'password rehash skipped');
    return null;
  }
}

/**
 * Checks email and password. Unknown email, wrong password and disabled account all answer the same
 * 401 `auth.invalid_credentials` after the same argon2 work (a dummy hash for unknown accounts). A right
 * password completes the sign-in, or — when the person has TOTP enabled — answers the MFA challenge.
 */
export async function loginWithPassword(deps: IdentityDeps, input: LoginInput, origin: RequestOrigin): Promise<LoginResponse | MfaChallenge> {
  const db = deps.platform.db;
  const ticket = await deps.attempts.begin(`login:${normalizeEmail(input.email)}`, origin.ip);
  const user = await findCredentials(db, input.email);
  const passwordHash = user?.passwordHash;
  const proven = passwordHash ? await deps.passwords.verify(passwordHash, input.password) : await deps.passwords.verifyDummy(input.password);
  if (!proven || !user || user.status !== 'active') {
    await ticket.failed();
    throw invalidCredentials();
  }
  await ticket.succeeded();

  if (deps.config.auth.requireVerifiedEmail && !user.emailVerified) {
    throw new AppError('auth.email_not_verified', 'Verify your email address first: follow the link we sent, or ask for a new one.');
  }
  const newHash = await rehashIfNeeded(deps, user, input.password);

  return db.transaction({ userId: user.id }, async (tx) => {
    if (newHash) {
      // Conditional on the hash being unchanged: a password change in between wins.
      await tx
        .update(users)
        .set({ passwordHash: newHash })
        .where(and(eq(users.id, user.id), eq(users.passwordHash, passwordHash!)));
    }
    if (user.totpEnabled) {
      const mfaToken = await issueOneTimeToken(tx, { userId: user.id, purpose: 'mfa_login', data: input.tenantId ? { tenantId: input.tenantId } : {} });
      return { mfaRequired: true as const, mfaToken };
    }
    return signIn(tx, deps, { userId: user.id, tenantId: input.tenantId, mfaVerified: false, ip: origin.ip, userAgent: origin.userAgent });
  });
}

/**
 * Completes a login waiting for its second factor: a TOTP code (each accepted once) or a recovery code
 * (each usable once). A wrong code answers 401 `auth.invalid_mfa_code` and leaves the MFA token usable
 * until it expires (attempts are limited per account); on success the token is spent in the same
 * transaction that opens the session. An unknown, used or expired token answers 401 `auth.invalid_mfa_token`.
 */
export async function verifyMfaLogin(deps: IdentityDeps, input: MfaVerifyInput, origin: RequestOrigin): Promise<LoginResponse> {
  const db = deps.platform.db;
  const pending = await db.transaction({}, (tx) => findOneTimeToken(tx, input.mfaToken, 'mfa_login'));
  if (!pending) throw invalidMfaToken();
  const { userId } = pending;
  const tenantId = typeof pending.data.tenantId === 'string' ? pending.data.tenantId : undefined;

  const ticket = await deps.attempts.begin(mfaAttemptKey(userId), origin.ip);
  const outcome = await db.transaction({ userId }, async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, userId));
    // A password changed after the challenge was issued ends it, as does a disabled account or MFA turned off.
    const passwordChangedSince = user?.passwordChangedAt != null && user.passwordChangedAt > pending.createdAt;
    if (!user || user.status !== 'active' || user.totpEnabledAt === null || passwordChangedSince) return { kind: 'invalid_token' as const };

    const right = 'code' in input ? await checkTotpCode(tx, deps.secretKey, user, input.code) : await useRecoveryCode(tx, userId, input.recoveryCode);
    if (!right) return { kind: 'wrong_code' as const };
    // Spent here, so the code's use and the token's use commit together; a concurrent winner makes this one invalid.
    if (!(await consumeOneTimeToken(tx, input.mfaToken, 'mfa_login'))) throw invalidMfaToken();
    const response = await signIn(tx, deps, { userId, tenantId, mfaVerified: true, ip: origin.ip, userAgent: origin.userAgent });
    return { kind: 'signed_in' as const, response };
  });

  if (outcome.kind === 'invalid_token') throw invalidMfaToken();
  if (outcome.kind === 'wrong_code') {
    await ticket.failed();
    throw invalidMfaCode();
  }
  await ticket.succeeded();
  return outcome.response;
}
