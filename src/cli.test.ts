import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { adminQuery } from '../test/global-setup.js';
import { main } from './cli.js';
import { DEMO_PASSWORD } from './seed.js';

/** Runs `atrium <argv>` in-process and captures what it prints. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  try {
    const code = await main(argv);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** The CLI reads process.env (through loadConfig); each test sets what it needs and gets the rest back. */
/** Production refuses to start without a key encryption key of its own. */
const PRODUCTION_KEY = 'a-production-key-encryption-secret-for-tests';
const savedEnv = { ...process.env };
function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

describe('help and usage', () => {
  it('prints the command list for --help, -h, help and no command', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], []]) {
      const result = await run(argv);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: atrium <command> [options]');
      for (const command of ['serve', 'worker', 'migrate', 'seed', 'bootstrap']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
  });

  it.each(['serve', 'worker', 'migrate', 'seed', 'bootstrap'])('%s --help prints its usage without running it', async (command) => {
    // An invalid configuration proves --help never loads it (nor opens a database or a port).
    setEnv({ PORT: 'not-a-port' });
    const result = await run([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^atrium ${command}`));
    expect(result.stdout).toContain('--help');
    expect(result.stderr).toBe('');
  });

  it('documents the options of a command', async () => {
    expect((await run(['seed', '-h'])).stdout).toMatch(/--force\s+Allow seeding when NODE_ENV=production/);
  });

  it('prints the version', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers an unknown command with exit code 2 and the command list', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Unknown command "frobnicate"');
    expect(result.stderr).toContain('Usage: atrium <command>');
  });

  it('answers an unknown option with exit code 2 and the command usage', async () => {
    const result = await run(['migrate', '--frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Unknown option '--frobnicate'/);
    expect(result.stderr).toContain('atrium migrate');
  });

  it('stops with exit code 1 and names the variable when the configuration is invalid', async () => {
    setEnv({ PORT: 'abc', LOG_LEVEL: 'loud' });
    const result = await run(['migrate']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('atrium migrate: Invalid configuration');
    expect(result.stderr).toContain('PORT must be an integer');
    expect(result.stderr).toContain('LOG_LEVEL must be one of');
  });

  it('refuses to seed in production without --force, before touching any database', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-cli-'));
    try {
      setEnv({ NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_KEY: PRODUCTION_KEY, DATA_DIR: dataDir, DATABASE_URL: undefined });
      const result = await run(['seed']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('Refusing to seed demo data in production; pass --force');
      expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keys: --help documents rotate; a missing or unknown subcommand is a usage error (exit 2)', async () => {
    setEnv({ PORT: 'not-a-port' });
    const help = await run(['keys', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^atrium keys rotate/);
    setEnv({ PORT: undefined });
    for (const argv of [['keys'], ['keys', 'frobnicate'], ['keys', 'rotate', 'extra']]) {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('expected "rotate"');
    }
  });
});

/**
 * migrate and seed against a database of their own: a fresh PGlite data directory, or — in the
 * PostgreSQL pass — a fresh, empty database on the server (dropped by the global teardown).
 */
describe('migrate and seed', () => {
  const postgres = Boolean(inject('postgresTemplate'));
  let dataDir: string;
  let databaseUrl: string | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-cli-'));
    if (postgres) {
      const server = new URL(process.env.DATABASE_URL!);
      const name = `atrium_test_${inject('testRunId')}_cli_${process.pid}`;
      await adminQuery(server.toString(), `CREATE DATABASE ${name}`);
      databaseUrl = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
    }
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const env = () => ({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, DATABASE_APP_URL: undefined });

  it('migrate applies the schema, and a second run is a no-op that also succeeds', { timeout: 120_000 }, async () => {
    setEnv(env());
    const first = await run(['migrate']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain(postgres ? 'Migrations applied (PostgreSQL)' : `Migrations applied (PGlite in ${dataDir})`);
    if (!postgres) {
      expect(fs.existsSync(path.join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
      // The lock is released on exit, so the next command (or server) can open the directory.
      expect(fs.existsSync(path.join(dataDir, 'atrium.lock'))).toBe(false);
    }
    const second = await run(['migrate']);
    expect(second).toMatchObject({ code: 0, stderr: '' });
  });

  it('seed creates the demo data once and prints how to sign in; running it again changes nothing and prints the same', { timeout: 120_000 }, async () => {
    setEnv(env());
    const first = await run(['seed']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^Demo data created: 11 people, 2 tenants, 5 stores/);
    expect(first.stdout).toMatch(new RegExp(`^  sam@demo\\.example +${DEMO_PASSWORD} +demo-retail`, 'm'));
    expect(first.stdout).toMatch(/^ {2}curl -s -X POST https?:\/\/\S+\/api\/v1\/auth\/login -H 'content-type: application\/json' -d '\{"email":"sam@demo\.example"/m);
    expect(first.stdout).not.toContain('WARNING');

    const second = await run(['seed']);
    expect(second.code).toBe(0);
    const [headline, ...details] = second.stdout.split('\n');
    expect(headline).toBe('Demo data already present; nothing changed.');
    expect(details.join('\n')).toBe(first.stdout.split('\n').slice(1).join('\n'));
  });

  it('seed in production proceeds with --force', { timeout: 120_000 }, async () => {
    setEnv({ ...env(), NODE_ENV: 'production', AUTH_KEY_ENCRYPTION_KEY: PRODUCTION_KEY });
    const result = await run(['seed', '--force']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Demo data already present');
    expect(result.stdout).toContain('WARNING: these accounts share a published password');
  });

  it('keys rotate makes a new signing key and prints its kid; the previous one keeps verifying', { timeout: 120_000 }, async () => {
    setEnv(env());
    const kidOf = (stdout: string) => /^New signing key: ([0-9a-f-]{36})$/m.exec(stdout)?.[1];
    const first = await run(['keys', 'rotate']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    const firstKid = kidOf(first.stdout);
    expect(firstKid).toBeDefined();

    const second = await run(['keys', 'rotate']);
    expect(second).toMatchObject({ code: 0, stderr: '' });
    const secondKid = kidOf(second.stdout);
    expect(secondKid).not.toBe(firstKid);
    expect(second.stdout).toMatch(new RegExp(`^Previous key ${firstKid} keeps verifying tokens until \\d{4}-\\d\\d-\\d\\dT`, 'm'));

    // Another key encryption key cannot decrypt the active key: refused, and nothing changes.
    setEnv({ ...env(), AUTH_KEY_ENCRYPTION_KEY: PRODUCTION_KEY });
    const refused = await run(['keys', 'rotate']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`AUTH_KEY_ENCRYPTION_KEY cannot decrypt the active signing key ${secondKid}`);
    expect(refused.stdout).toBe('');

    setEnv({ ...env(), AUTH_KEY_ENCRYPTION_KEY: savedEnv.AUTH_KEY_ENCRYPTION_KEY });
    const third = await run(['keys', 'rotate']);
    expect(third).toMatchObject({ code: 0, stderr: '' });
    expect(third.stdout).toContain(`Previous key ${secondKid} keeps verifying`);
    if (!postgres) expect(fs.existsSync(path.join(dataDir, 'atrium.lock'))).toBe(false);
  });
});
