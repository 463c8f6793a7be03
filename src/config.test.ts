import { availableParallelism } from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENV_EXAMPLE_PATH, renderEnvExample } from '../scripts/generate-env-example.js';
import { ConfigError, configVariables, DEV_KEY_ENCRYPTION_KEY, loadConfig } from './config.js';

/** The problems a ConfigError reports for `env`, or fails the test when loading succeeds. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('runs embedded with safe defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.isProduction).toBe(false);
    expect(config.http).toEqual({
      host: '0.0.0.0',
      port: 3000,
      publicUrl: 'http://localhost:3000',
      trustProxy: false,
      corsOrigins: [],
      bodyLimit: 1048576,
      shutdownTimeoutMs: 10000,
    });
    expect(config.log.level).toBe('info');
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.database).toEqual({
      url: undefined,
      appUrl: undefined,
      poolMax: 10,
      ownerRole: 'atrium_owner',
      appRole: 'atrium_app',
      appPassword: undefined,
      migrateOnStart: true,
    });
    expect(config.redisUrl).toBeUndefined();
    expect(config.mail).toEqual({ smtpUrl: undefined, from: 'Atrium <no-reply@localhost>' });
    expect(config.metricsToken).toBeUndefined();
    expect(config.worker).toEqual({ inProcess: true, outboxPollMs: 1000 });
    expect(config.idempotencyTtlHours).toBe(24);
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ http: { port: 3000 }, database: { url: undefined } });
  });

  it('reads set values and normalises them', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      PUBLIC_URL: 'https://api.example.com/',
      CORS_ORIGINS: ' https://a.example.com , https://b.example.com,,',
      DATABASE_URL: 'postgresql://owner@db:5432/atrium',
      DATA_DIR: 'relative/dir',
      AUTH_KEY_ENCRYPTION_KEY: 'a-production-secret-of-at-least-32-characters',
    });
    expect(config.isProduction).toBe(true);
    expect(config.auth.keyEncryptionKey).toBe('a-production-secret-of-at-least-32-characters');
    expect(config.auth.issuer).toBe('https://api.example.com');
    expect(config.http.port).toBe(8080);
    expect(config.http.publicUrl).toBe('https://api.example.com');
    expect(config.http.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(config.database.url).toBe('postgresql://owner@db:5432/atrium');
    expect(path.isAbsolute(config.dataDir)).toBe(true);
  });
});

describe('loadConfig refuses invalid values, naming the variable', () => {
  it.each([
    ['PORT', 'abc', /^PORT must be an integer \(got "abc"\)$/],
    ['PORT', '70000', /^PORT must be between 0 and 65535/],
    ['PORT', '80.5', /^PORT must be an integer/],
    ['DATABASE_URL', 'http://x', /^DATABASE_URL must use postgres: or postgresql:/],
    ['DATABASE_URL', 'not a url', /^DATABASE_URL must be a valid URL/],
    ['DATABASE_APP_URL', 'mysql://x', /^DATABASE_APP_URL must use postgres:/],
    ['REDIS_URL', 'http://localhost:6379', /^REDIS_URL must use redis: or rediss:/],
    ['SMTP_URL', 'mailto:x@example.com', /^SMTP_URL must use smtp: or smtps:/],
    ['PUBLIC_URL', 'localhost:3000', /^PUBLIC_URL must use http: or https:/],
    ['PUBLIC_URL', 'not a url', /^PUBLIC_URL must be a valid URL/],
    ['NODE_ENV', 'Production', /^NODE_ENV must be one of development, production, test/],
    ['LOG_LEVEL', 'verbose', /^LOG_LEVEL must be one of/],
    ['MIGRATE_ON_START', 'maybe', /^MIGRATE_ON_START must be true or false/],
    ['RUN_WORKER', '2', /^RUN_WORKER must be true or false/],
    ['BODY_LIMIT_BYTES', '10', /^BODY_LIMIT_BYTES must be between 1024/],
    ['DATABASE_POOL_MAX', '0', /^DATABASE_POOL_MAX must be between 1 and 1000/],
    ['DB_APP_ROLE', 'app; DROP TABLE x', /^DB_APP_ROLE must be a lowercase SQL identifier/],
    ['TRUST_PROXY', '1', /^TRUST_PROXY must list the proxy addresses \(hop counts are not supported\)/],
    ['TRUST_PROXY', 'yes', /^TRUST_PROXY must be true, false, or a list .*invalid: yes/],
    ['TRUST_PROXY', '10.0.0.0/33', /^TRUST_PROXY .*invalid: 10\.0\.0\.0\/33/],
    ['TRUST_PROXY', '127.0.0.1, proxy.internal', /^TRUST_PROXY .*invalid: proxy\.internal/],
  ])('%s=%s', (name, value, expected) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(expected);
  });

  it('reports every problem at once, including cross-variable ones', () => {
    const error = (() => {
      try {
        loadConfig({ PORT: 'abc', DATABASE_APP_URL: 'postgres://app@db/atrium', LOG_LEVEL: 'loud', DB_APP_ROLE: 'atrium_owner', PUBLIC_URL: 'nope' });
      } catch (caught) {
        return caught as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((problem) => problem.split(' ')[0])).toEqual(['PORT', 'PUBLIC_URL', 'LOG_LEVEL', 'DB_APP_ROLE', 'DATABASE_APP_URL']);
    // The message a person reads lists each problem on its own line.
    for (const problem of error.problems) expect(error.message).toContain(`\n  - ${problem}`);
  });
});

describe('auth settings', () => {
  it('defaults the issuer to PUBLIC_URL, the audience to atrium and access tokens to 15 minutes', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://id.example.com/' }).auth).toMatchObject({ issuer: 'https://id.example.com', audience: 'atrium', accessTokenTtlSeconds: 900 });
    expect(loadConfig({ AUTH_ISSUER: 'urn:atrium', AUTH_AUDIENCE: 'pos' }).auth).toMatchObject({ issuer: 'urn:atrium', audience: 'pos' });
  });

  it('uses the development key outside production only', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).auth.keyEncryptionKey).toBe(DEV_KEY_ENCRYPTION_KEY);
    for (const value of [undefined, '', DEV_KEY_ENCRYPTION_KEY]) {
      expect(() => loadConfig({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_KEY: value })).toThrow(/AUTH_KEY_ENCRYPTION_KEY is required in production/);
    }
  });

  it('refuses a key encryption key shorter than 32 characters', () => {
    expect(() => loadConfig({ AUTH_KEY_ENCRYPTION_KEY: 'short' })).toThrow(/AUTH_KEY_ENCRYPTION_KEY must be at least 32 characters/);
  });

  it('sizes password hashing from config', () => {
    // Unset: the cores minus one, within 1..3.
    expect(loadConfig({}).auth.passwordHash).toEqual({ concurrency: Math.min(3, Math.max(1, availableParallelism() - 1)), queue: 64 });
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '3', PASSWORD_HASH_QUEUE: '0' }).auth.passwordHash).toEqual({ concurrency: 3, queue: 0 });
  });
});

describe('errors never repeat a credential', () => {
  it('describes a bad secret by its length, and masks passwords inside URLs', () => {
    const error = (() => {
      try {
        loadConfig({ AUTH_KEY_ENCRYPTION_KEY: 'hunter2-short', DATABASE_URL: 'mysql://admin:s3cr3t-pw@db/x' });
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(error.message).toContain('AUTH_KEY_ENCRYPTION_KEY must be at least 32 characters (got a value of 13 characters)');
    expect(error.message).toContain('DATABASE_URL must use postgres: or postgresql:');
    expect(error.message).toContain('admin:***@db');
    expect(error.message).not.toMatch(/hunter2|s3cr3t/);
  });
});

describe('value parsing', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['on', true],
    ['false', false],
    ['0', false],
    [' No ', false],
    ['off', false],
  ])('boolean %j → %s', (raw, expected) => {
    expect(loadConfig({ MIGRATE_ON_START: raw }).database.migrateOnStart).toBe(expected);
  });

  it.each([
    ['false', false],
    ['true', true],
    ['True', true],
    ['loopback', ['loopback']],
    ['10.0.0.0/8, 172.16.0.0/12 ,192.168.1.1', ['10.0.0.0/8', '172.16.0.0/12', '192.168.1.1']],
    ['::1, fd00::/8', ['::1', 'fd00::/8']],
    ['10.0.0.0/255.0.0.0', ['10.0.0.0/255.0.0.0']],
    ['uniquelocal,linklocal', ['uniquelocal', 'linklocal']],
  ])('TRUST_PROXY %j', (raw, expected) => {
    expect(loadConfig({ TRUST_PROXY: raw }).http.trustProxy).toEqual(expected);
  });
});

describe('.env.example', () => {
  const text = fs.readFileSync(ENV_EXAMPLE_PATH, 'utf8');

  it('is exactly what scripts/generate-env-example.ts writes (run `npm run env:example` after changing config.ts)', () => {
    expect(text).toBe(renderEnvExample());
  });

  it('names every variable the configuration reads, with its description', () => {
    for (const variable of configVariables) {
      expect(text).toMatch(new RegExp(`^#? ?${variable.name}=`, 'm'));
      expect(text.replace(/\n# /g, ' ')).toContain(variable.description.split(/\s+/).slice(0, 4).join(' '));
    }
  });

  it('loads to the default configuration when used as-is', () => {
    const values = parseEnv(text);
    expect(Object.keys(values).sort()).toEqual(configVariables.filter((v) => v.default !== undefined).map((v) => v.name).sort());
    expect(loadConfig(values)).toEqual(loadConfig({}));
  });
});
