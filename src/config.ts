/**
 * The only reader of `process.env` (DESIGN §3). Every variable is declared once below with its parser,
 * default and description; `.env.example` and the README table are checked against this list by a test.
 */
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string) => T;

interface VariableSpec<T> {
  description: string;
  parse: Parser<T>;
  /** Raw default; `undefined` means the variable is optional and absent. */
  default?: string;
  /** A credential: an error about it never repeats its value. */
  sensitive?: boolean;
}

/** How a bad value is quoted in an error: credentials (and passwords inside URLs) are never echoed. */
function quote(raw: string, sensitive: boolean | undefined): string {
  if (sensitive) return `a value of ${raw.length} characters`;
  try {
    const url = new URL(raw);
    if (url.password) {
      url.password = '***';
      return `"${url.toString()}"`;
    }
  } catch {
    // Not a URL: quoted as is.
  }
  return `"${raw}"`;
}

const string: Parser<string> = (raw) => raw;

const boolean: Parser<boolean> = (raw) => {
  const value = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off'].includes(value)) return false;
  throw new Error('must be true or false');
};

const integer =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error('must be an integer');
    const value = Number(raw);
    if (value < min || value > max) throw new Error(`must be between ${min} and ${max}`);
    return value;
  };

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    if (!values.includes(raw as T)) throw new Error(`must be one of ${values.join(', ')}`);
    return raw as T;
  };

const url =
  (...protocols: string[]): Parser<string> =>
  (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error('must be a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) throw new Error(`must use ${protocols.join(' or ')}`);
    return raw;
  };

const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const secret =
  (minLength: number): Parser<string> =>
  (raw) => {
    if (raw.length < minLength) throw new Error(`must be at least ${minLength} characters`);
    return raw;
  };

/**
 * Used for AUTH_KEY_ENCRYPTION_KEY outside production when it is unset. Public (it is in the source), so
 * it protects nothing; production refuses both its absence and this value.
 */
export const DEV_KEY_ENCRYPTION_KEY = 'atrium-dev-only-key-encryption-key-do-not-use-in-production';

const roleName: Parser<string> = (raw) => {
  // Role names are interpolated into DDL (GRANT, SET ROLE), so only plain identifiers are accepted.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new Error('must be a lowercase SQL identifier');
  return raw;
};

/** Named ranges proxy-addr understands, besides addresses and CIDRs. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (family === 4 && isIP(prefix) === 4) return true; // dotted netmask
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  return bits >= 1 && bits <= (family === 4 ? 32 : 128);
}

/**
 * `false`, `true`, or a comma-separated list of trusted proxy addresses/CIDRs/named ranges. Checked here,
 * because Fastify would otherwise throw at boot on a bad entry, and a hop count is refused: Fastify 5
 * trusts no proxy at all when given one (it cannot verify the peer), which would silently make every
 * client look like the load balancer.
 */
const trustProxy: Parser<boolean | string[]> = (raw) => {
  const value = raw.trim().toLowerCase();
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) throw new Error('must list the proxy addresses (hop counts are not supported), e.g. loopback,10.0.0.0/8');
  const entries = list(raw);
  const invalid = entries.filter((entry) => !isProxyAddress(entry));
  if (entries.length === 0 || invalid.length > 0) {
    throw new Error(`must be true, false, or a list of IP addresses, CIDRs or loopback/linklocal/uniquelocal (invalid: ${invalid.join(', ') || 'empty'})`);
  }
  return entries;
};

const variables = {
  NODE_ENV: { description: 'Runtime environment.', parse: oneOf('development', 'production', 'test'), default: 'development' },
  HOST: { description: 'Interface the HTTP server binds to.', parse: string, default: '0.0.0.0' },
  PORT: { description: 'HTTP port.', parse: integer(0, 65535), default: '3000' },
  PUBLIC_URL: {
    description: 'Public base URL of the API (links in emails, token issuer). An https URL also makes the CSP ask browsers to upgrade insecure requests.',
    parse: url('http:', 'https:'),
    default: 'http://localhost:3000',
  },
  LOG_LEVEL: {
    description: 'pino log level.',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    default: 'info',
  },
  DATA_DIR: { description: 'Embedded mode: directory for the PGlite database, lock file and local files.', parse: string, default: './data' },
  DATABASE_URL: {
    description:
      'PostgreSQL URL used to run migrations (owner/admin). Unset: embedded PGlite under DATA_DIR. The runtime connects as DB_APP_ROLE unless DATABASE_APP_URL is set.',
    parse: url('postgres:', 'postgresql:'),
  },
  DATABASE_APP_URL: {
    description: 'PostgreSQL URL the running application uses (should log in as DB_APP_ROLE). Default: DATABASE_URL with the user and password replaced by DB_APP_ROLE / DB_APP_PASSWORD.',
    parse: url('postgres:', 'postgresql:'),
  },
  DATABASE_POOL_MAX: { description: 'Maximum connections in the runtime pool (per process).', parse: integer(1, 1000), default: '10' },
  DB_OWNER_ROLE: { description: 'Role that owns the schema and runs migrations (created if missing).', parse: roleName, default: 'atrium_owner' },
  DB_APP_ROLE: {
    description: 'Role the application runs as: not superuser, not BYPASSRLS, owns nothing (created if missing).',
    parse: roleName,
    default: 'atrium_app',
  },
  DB_APP_PASSWORD: { description: 'Password set on DB_APP_ROLE by migrations and used by the runtime connection.', sensitive: true, parse: string },
  MIGRATE_ON_START: { description: 'Apply pending migrations when `atrium serve` starts.', parse: boolean, default: 'true' },
  REDIS_URL: {
    description: 'Redis URL for shared rate-limit counters and caches. Unset: in-process memory.',
    parse: url('redis:', 'rediss:'),
  },
  REDIS_KEY_PREFIX: {
    description: 'Prefix of every key Atrium writes in Redis, so deployments (production, staging) can share one Redis without sharing counters.',
    parse: (raw) => {
      if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(raw)) throw new Error('must be 1-64 characters among letters, digits and : _ . -');
      return raw;
    },
    default: 'atrium:',
  },
  SMTP_URL: {
    description: 'SMTP URL for outgoing mail (smtp:// or smtps://). Unset: mail is kept in the database outbox (`atrium mail list`).',
    parse: url('smtp:', 'smtps:'),
  },
  MAIL_FROM: { description: 'From address of outgoing mail.', parse: string, default: 'Atrium <no-reply@localhost>' },
  TRUST_PROXY: {
    description: 'Which proxies to trust for X-Forwarded-For (client IP): false, true (any), or a comma-separated list of proxy addresses/CIDRs (or loopback, linklocal, uniquelocal).',
    parse: trustProxy,
    default: 'false',
  },
  CORS_ORIGINS: { description: 'Comma-separated list of browser origins allowed by CORS (empty: none).', parse: list, default: '' },
  BODY_LIMIT_BYTES: { description: 'Largest accepted request body, in bytes.', parse: integer(1024, 1024 * 1024 * 1024), default: '1048576' },
  METRICS_TOKEN: { description: 'When set, GET /metrics requires `Authorization: Bearer <token>`.', sensitive: true, parse: string },
  RUN_WORKER: { description: 'Run the job worker (pg-boss, outbox relay) inside `atrium serve`.', parse: boolean, default: 'true' },
  SHUTDOWN_TIMEOUT_MS: { description: 'How long graceful shutdown waits for in-flight work before exiting.', parse: integer(0, 600000), default: '10000' },
  IDEMPOTENCY_TTL_HOURS: { description: 'How long Idempotency-Key outcomes are kept and replayed.', parse: integer(1, 24 * 30), default: '24' },
  OUTBOX_POLL_MS: { description: 'How often the outbox relay looks for unpublished domain events.', parse: integer(10, 600000), default: '1000' },
  TENANT_RESTORE_DAYS: {
    description: 'How many days a closed tenant can be restored by a platform administrator; after that a job deletes the tenant and all its data.',
    parse: integer(1, 3650),
    default: '30',
  },
  BILLING_SIGNUP_PLAN: {
    description: 'Code of the plan every new tenant starts on (registration, POST /tenants, platform create).',
    parse: (raw) => {
      if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(raw)) throw new Error('must be a plan code (lowercase letters, digits, - and _)');
      return raw;
    },
    default: 'free',
  },
  BILLING_SIGNUP_TRIAL_DAYS: {
    description: "Trial length given at signup, in days (0: no trial). Default: the signup plan's own trial days.",
    parse: integer(0, 365),
  },
  BILLING_GRACE_DAYS: {
    description: 'Days a past_due subscription (unpaid renewal or trial end) keeps working before it expires and the tenant becomes read-only.',
    parse: integer(0, 90),
    default: '7',
  },
  AUTH_KEY_ENCRYPTION_KEY: {
    description:
      'Encrypts the token signing keys stored in the database (AES-256-GCM): 32 bytes as 64 hex digits or base64, or any secret of at least 32 characters (HKDF-SHA256 derives the key). Required in production. Unset in development/test: a fixed, publicly known dev-only key is used, which protects nothing.',
    sensitive: true,
    parse: secret(32),
  },
  AUTH_ISSUER: { description: 'The `iss` of access tokens, checked on verification. Default: PUBLIC_URL.', parse: string },
  AUTH_AUDIENCE: { description: 'The `aud` of access tokens, checked on verification.', parse: string, default: 'atrium' },
  ACCESS_TOKEN_TTL_SECONDS: { description: 'Lifetime of access tokens (JWT), in seconds.', parse: integer(60, 24 * 3600), default: '900' },
  PASSWORD_HASH_CONCURRENCY: {
    description:
      'Password hashes/verifications (argon2id, ~19 MiB and tens of ms each) run at once per process, on the libuv thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise). Default: the CPU cores minus one (at least 1, at most 3), so hashing never takes the core the event loop and the database need, nor the whole thread pool.',
    parse: integer(1, 64),
  },
  PASSWORD_HASH_QUEUE: {
    description: 'Password hashes/verifications allowed to wait for a slot; beyond that, sign-ins and password changes answer 503 with Retry-After instead of queueing forever.',
    parse: integer(0, 100000),
    default: '64',
  },
  REFRESH_TOKEN_TTL_SECONDS: {
    description: 'Sliding session lifetime: a session not refreshed for this long ends (each refresh extends it, up to SESSION_MAX_AGE_SECONDS).',
    parse: integer(300, 365 * 24 * 3600),
    default: '1209600',
  },
  SESSION_MAX_AGE_SECONDS: {
    description: 'Absolute session lifetime from sign-in, however often it is refreshed; then the person signs in again.',
    parse: integer(300, 365 * 24 * 3600),
    default: '2592000',
  },
  AUTH_REQUIRE_VERIFIED_EMAIL: { description: 'Refuse sign-in (`auth.email_not_verified`) until the address is verified.', parse: boolean, default: 'false' },
  AUTH_MAX_FAILED_ATTEMPTS: {
    description: 'Failed secret checks (password, MFA code, recovery code) allowed per account per hour before a temporary lock (429); at most 100 (ASVS).',
    parse: integer(3, 100),
    default: '20',
  },
  AUTH_MAX_FAILED_ATTEMPTS_PER_IP: {
    description: 'Failed secret checks allowed per client address per hour, across accounts, before that address is locked out (429).',
    parse: integer(3, 100000),
    default: '200',
  },
  BOOTSTRAP_TOKEN: {
    description: 'When set, POST /api/v1/auth/bootstrap requires it in the `X-Bootstrap-Token` header (protects a fresh deployment until its first administrator exists).',
    sensitive: true,
    parse: secret(16),
  },
} satisfies Record<string, VariableSpec<unknown>>;

type Variables = typeof variables;
export type VariableName = keyof Variables;
type Parsed<K extends VariableName> = ReturnType<Variables[K]['parse']>;
type ValueOf<K extends VariableName> = Variables[K] extends { default: string } ? Parsed<K> : Parsed<K> | undefined;

/** Declared variables with their descriptions and defaults (documentation, `.env.example`). */
export const configVariables: ReadonlyArray<{ name: VariableName; description: string; default?: string }> = Object.entries(
  variables,
).map(([name, spec]) => ({ name: name as VariableName, description: spec.description, default: 'default' in spec ? spec.default : undefined }));

export interface Config {
  env: ValueOf<'NODE_ENV'>;
  isProduction: boolean;
  http: {
    host: string;
    port: number;
    publicUrl: string;
    trustProxy: ValueOf<'TRUST_PROXY'>;
    corsOrigins: string[];
    bodyLimit: number;
    shutdownTimeoutMs: number;
  };
  log: { level: ValueOf<'LOG_LEVEL'> };
  dataDir: string;
  database: {
    /** Absent: embedded PGlite under `dataDir`. */
    url?: string;
    appUrl?: string;
    poolMax: number;
    ownerRole: string;
    appRole: string;
    appPassword?: string;
    migrateOnStart: boolean;
  };
  redisUrl?: string;
  redisKeyPrefix: string;
  mail: { smtpUrl?: string; from: string };
  metricsToken?: string;
  worker: { inProcess: boolean; outboxPollMs: number };
  idempotencyTtlHours: number;
  tenants: {
    /** Days a closed tenant stays restorable before the purge job deletes it. */
    restoreDays: number;
  };
  billing: {
    /** Plan code every new tenant starts on. */
    signupPlan: string;
    /** Trial days at signup; undefined: the plan's own. */
    signupTrialDays?: number;
    /** Days past_due lasts before expiry. */
    graceDays: number;
  };
  auth: {
    /** Secret that encrypts signing keys at rest (see AUTH_KEY_ENCRYPTION_KEY). */
    keyEncryptionKey: string;
    issuer: string;
    audience: string;
    accessTokenTtlSeconds: number;
    /** Bounds on concurrent argon2 work: `concurrency` running, at most `queue` waiting (then 503). */
    passwordHash: { concurrency: number; queue: number };
    /** Sliding (refresh) and absolute session lifetimes, in seconds. */
    refreshTokenTtlSeconds: number;
    sessionMaxAgeSeconds: number;
    requireVerifiedEmail: boolean;
    /** Failed secret checks per hour before a temporary lock: per account, per client address. */
    maxFailedAttempts: { perAccount: number; perIp: number };
    bootstrapToken?: string;
  };
}

/** CPU cores minus one, within 1..3: one core stays free for the event loop, one thread-pool slot for I/O. */
function defaultPasswordHashConcurrency(): number {
  return Math.min(3, Math.max(1, availableParallelism() - 1));
}

/**
 * Reads and validates configuration from an environment (default: `process.env`).
 * Every invalid variable is reported at once, each by name.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const read = <K extends VariableName>(name: K): ValueOf<K> => {
    const spec: VariableSpec<unknown> = variables[name];
    const raw = env[name] === undefined || env[name] === '' ? spec.default : env[name];
    if (raw === undefined) return undefined as ValueOf<K>;
    try {
      return spec.parse(raw) as ValueOf<K>;
    } catch (error) {
      problems.push(`${name} ${(error as Error).message} (got ${quote(raw, spec.sensitive)})`);
      return undefined as ValueOf<K>;
    }
  };

  const env_ = read('NODE_ENV');
  const config: Config = {
    env: env_,
    isProduction: env_ === 'production',
    http: {
      host: read('HOST'),
      port: read('PORT'),
      // Optional chaining: an invalid value is reported with the others below instead of crashing here.
      publicUrl: read('PUBLIC_URL')?.replace(/\/+$/, ''),
      trustProxy: read('TRUST_PROXY'),
      corsOrigins: read('CORS_ORIGINS'),
      bodyLimit: read('BODY_LIMIT_BYTES'),
      shutdownTimeoutMs: read('SHUTDOWN_TIMEOUT_MS'),
    },
    log: { level: read('LOG_LEVEL') },
    dataDir: path.resolve(read('DATA_DIR')),
    database: {
      url: read('DATABASE_URL'),
      appUrl: read('DATABASE_APP_URL'),
      poolMax: read('DATABASE_POOL_MAX'),
      ownerRole: read('DB_OWNER_ROLE'),
      appRole: read('DB_APP_ROLE'),
      appPassword: read('DB_APP_PASSWORD'),
      migrateOnStart: read('MIGRATE_ON_START'),
    },
    redisUrl: read('REDIS_URL'),
    redisKeyPrefix: read('REDIS_KEY_PREFIX'),
    mail: { smtpUrl: read('SMTP_URL'), from: read('MAIL_FROM') },
    metricsToken: read('METRICS_TOKEN'),
    worker: { inProcess: read('RUN_WORKER'), outboxPollMs: read('OUTBOX_POLL_MS') },
    idempotencyTtlHours: read('IDEMPOTENCY_TTL_HOURS'),
    tenants: { restoreDays: read('TENANT_RESTORE_DAYS') },
    billing: { signupPlan: read('BILLING_SIGNUP_PLAN'), signupTrialDays: read('BILLING_SIGNUP_TRIAL_DAYS'), graceDays: read('BILLING_GRACE_DAYS') },
    auth: {
      keyEncryptionKey: read('AUTH_KEY_ENCRYPTION_KEY') ?? DEV_KEY_ENCRYPTION_KEY,
      // Filled from PUBLIC_URL below when unset (reading PUBLIC_URL twice would report it twice).
      issuer: read('AUTH_ISSUER') ?? '',
      audience: read('AUTH_AUDIENCE'),
      accessTokenTtlSeconds: read('ACCESS_TOKEN_TTL_SECONDS'),
      passwordHash: { concurrency: read('PASSWORD_HASH_CONCURRENCY') ?? defaultPasswordHashConcurrency(), queue: read('PASSWORD_HASH_QUEUE') },
      refreshTokenTtlSeconds: read('REFRESH_TOKEN_TTL_SECONDS'),
      sessionMaxAgeSeconds: read('SESSION_MAX_AGE_SECONDS'),
      requireVerifiedEmail: read('AUTH_REQUIRE_VERIFIED_EMAIL'),
      maxFailedAttempts: { perAccount: read('AUTH_MAX_FAILED_ATTEMPTS'), perIp: read('AUTH_MAX_FAILED_ATTEMPTS_PER_IP') },
      bootstrapToken: read('BOOTSTRAP_TOKEN'),
    },
  };

  if (config.database.ownerRole === config.database.appRole) {
    problems.push('DB_APP_ROLE must differ from DB_OWNER_ROLE (the app role must own nothing)');
  }
  if (config.database.appUrl && !config.database.url) {
    problems.push('DATABASE_APP_URL needs DATABASE_URL (the owner connection that runs migrations)');
  }
  config.auth.issuer ||= config.http.publicUrl;
  if (config.isProduction && config.auth.keyEncryptionKey === DEV_KEY_ENCRYPTION_KEY) {
    problems.push('AUTH_KEY_ENCRYPTION_KEY is required in production (and must not be the development key)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
