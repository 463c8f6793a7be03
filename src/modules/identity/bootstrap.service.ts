/**
 * The first platform administrator of a fresh deployment, created over HTTP (`POST /bootstrap`) or from
 * the command line (`atrium bootstrap`). Possible only while no user holds `platform_admin`; afterwards
 * administrators are appointed by other administrators.
 *
 * Race safety: the check and the insert run in one transaction behind a transaction-level advisory lock,
 * so two concurrent bootstraps serialise and the second sees the first's administrator (READ COMMITTED
 * takes a new snapshot for each statement, and the check runs after the lock is granted).
 *
 * An email that already belongs to an account is refused (409 `auth.email_taken`) rather than promoted:
 * promotion would make the bootstrap endpoint a way to escalate an existing account, and telling the two
 * cases apart would need a second proof of ownership. Bootstrap with another address, then grant the
 * role from the administrator's account.
 */
import { createHash } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Database, Tx } from '../../core/db/database.js';
import { pgConstraint, pgErrorCode, PG } from '../../core/db/errors.js';
import { uuidv7 } from '../../core/db/ids.js';
import { constantTimeEqual } from '../../core/auth/constant-time.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { users } from '../../core/tenancy/tenancy.table.js';
import { EmailSchema, PersonNameSchema } from './auth.schemas.js';
import type { AttemptGuard } from './attempts.js';
import { assertPasswordAcceptable, type PasswordHasher } from './passwords.js';

/**
 * Key of the transaction-level advisory lock that serialises bootstraps: any fixed bigint (this one spells
 * "ATRBOOT1" in ASCII). Written into the SQL as a literal, as drivers differ in how they bind a BigInt.
 */
export const BOOTSTRAP_LOCK_KEY = '4707477955260929073';

/** The attempt-guard account under which wrong bootstrap tokens are counted. */
export const BOOTSTRAP_ATTEMPT_KEY = 'bootstrap-token';

export interface AdministratorInput {
  email: string;
  password: string;
  name: string;
}

const alreadyBootstrapped = () =>
  new AppError('auth.already_bootstrapped', 'A platform administrator already exists; bootstrap is closed. Ask an administrator for access.');

/** Whether some user holds `platform_admin` (an index lookup: `users_platform_role_idx`). */
export async function isBootstrapped(tx: Tx): Promise<boolean> {
  const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.platformRole, 'platform_admin')).limit(1);
  return row !== undefined;
}

/** Throws 409 `auth.already_bootstrapped` when a platform administrator exists (a unit of work of its own). */
export async function assertNotBootstrapped(db: Database): Promise<void> {
  if (await db.transaction({}, isBootstrapped)) throw alreadyBootstrapped();
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Whether the presented `X-Bootstrap-Token` is the configured one. Both sides are hashed first, so the
 * comparison takes the same time whatever the presented value's length.
 */
export function isBootstrapTokenValid(configured: string, presented: string | undefined): boolean {
  return constantTimeEqual(sha256(configured), sha256(presented ?? ''));
}

/**
 * Checks the bootstrap token when one is configured (throws 401 `auth.invalid_bootstrap_token`); wrong
 * tokens count against the brute-force guard like any other secret.
 */
export async function assertBootstrapToken(
  deps: { attempts: AttemptGuard },
  configured: string | undefined,
  presented: string | undefined,
  ip: string,
): Promise<void> {
  if (configured === undefined) return;
  const ticket = await deps.attempts.begin(BOOTSTRAP_ATTEMPT_KEY, ip);
  if (!isBootstrapTokenValid(configured, presented)) {
    await ticket.failed();
    throw new AppError('auth.invalid_bootstrap_token', 'The X-Bootstrap-Token header is missing or wrong (BOOTSTRAP_TOKEN is configured on this deployment).', {
      headers: { 'www-authenticate': 'X-Bootstrap-Token' },
    });
  }
  await ticket.succeeded();
}

/**
 * The input rules the HTTP schema enforces, for callers without one (the CLI): a usable email and name.
 * Throws 400 `request.validation_failed` naming each failing field.
 */
export function assertAdministratorInput(input: Pick<AdministratorInput, 'email' | 'name'>): void {
  const errors: FieldError[] = [];
  const email = EmailSchema as unknown as { pattern: string; maxLength: number };
  const name = PersonNameSchema as unknown as { maxLength: number };
  if (input.email.length > email.maxLength || !new RegExp(email.pattern).test(input.email)) {
    errors.push({ in: 'body', field: '/email', message: 'must be an email address' });
  }
  if (input.name.trim() === '' || input.name.length > name.maxLength) {
    errors.push({ in: 'body', field: '/name', message: `must be 1 to ${name.maxLength} characters` });
  }
  if (errors.length > 0) throw new AppError('request.validation_failed', `Invalid input: ${errors.map((e) => `${e.field.slice(1)} ${e.message}`).join('; ')}.`, { errors });
}

export interface CreateAdministratorDeps {
  db: Database;
  passwords: Pick<PasswordHasher, 'hash'>;
}

/**
 * Creates the first platform administrator (email verified, password policy applied) and, in the same
 * transaction, runs `then` (the HTTP route signs the administrator in). 409 `auth.already_bootstrapped`
 * when an administrator exists, 409 `auth.email_taken` when the email is registered, 400
 * `auth.weak_password` when the password breaks the policy.
 */
export async function createFirstAdministrator<T = void>(
  deps: CreateAdministratorDeps,
  input: AdministratorInput,
  then?: (tx: Tx, userId: string) => Promise<T>,
): Promise<{ userId: string; result: T }> {
  assertAdministratorInput(input);
  // Cheap refusal first: a closed bootstrap costs no argon2 work.
  await assertNotBootstrapped(deps.db);
  assertPasswordAcceptable(input.password, { email: input.email });
  const passwordHash = await deps.passwords.hash(input.password);

  const userId = uuidv7();
  try {
    const result = await deps.db.transaction({ userId }, async (tx) => {
      await tx.execute(sql.raw(`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`));
      if (await isBootstrapped(tx)) throw alreadyBootstrapped();
      const [taken] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = lower(${input.email})`);
      if (taken) throw emailTaken();
      const now = new Date();
      await tx.insert(users).values({
        id: userId,
        email: input.email,
        name: input.name.trim(),
        passwordHash,
        passwordChangedAt: now,
        emailVerifiedAt: now,
        platformRole: 'platform_admin',
      });
      return then ? then(tx, userId) : (undefined as T);
    });
    return { userId, result };
  } catch (error) {
    // A registration of the same address that committed between the check and the insert.
    if (pgErrorCode(error) === PG.uniqueViolation && pgConstraint(error) === 'users_email_key') throw emailTaken();
    throw error;
  }
}

const emailTaken = () => new AppError('auth.email_taken', 'This email address already belongs to an account; bootstrap the administrator with another address.');
