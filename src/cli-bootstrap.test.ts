/**
 * `atrium bootstrap` against a database of its own (a fresh PGlite data directory, or a fresh database on
 * the PostgreSQL server), with the password piped on stdin; and the password reader on a (fake) terminal:
 * no echo, typed twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { adminQuery } from '../test/global-setup.js';
import { TEST_PASSWORD } from '../test/auth.js';
import { PasswordInputError, readNewPassword, readPipedPassword, type PasswordInput } from './cli-password.js';
import { main, type CliIo } from './cli.js';
import { loadConfig } from './config.js';
import { openDatabase } from './core/db/open.js';
import { users } from './core/tenancy/tenancy.table.js';
import { createPasswordHasher } from './modules/identity/passwords.js';

/** A stderr that collects what is written to it. */
function collector(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return Object.assign(stream, { text: () => chunks.join('') });
}

/** Runs `atrium <argv>` in-process with `stdin`, capturing stdout/stderr. */
async function run(argv: string[], stdin: PasswordInput): Promise<{ code: number; stdout: string; stderr: string; prompts: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
  const prompts = collector();
  try {
    const io: CliIo = { stdin, stderr: prompts };
    const code = await main(argv, io);
    return { code, stdout: out.join('\n'), stderr: err.join('\n'), prompts: prompts.text() };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

const piped = (text: string) => Readable.from([Buffer.from(text, 'utf8')]);

/** A stdin that fails the test if anything reads it. */
function untouchable(): PasswordInput {
  return new Readable({
    read() {
      throw new Error('stdin must not be read');
    },
  });
}

const savedEnv = { ...process.env };
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

describe('atrium bootstrap', () => {
  const postgres = Boolean(inject('postgresTemplate'));
  let dataDir: string;
  let databaseUrl: string | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-cli-bootstrap-'));
    if (postgres) {
      const server = new URL(process.env.DATABASE_URL!);
      const name = `atrium_test_${inject('testRunId')}_clibootstrap_${process.pid}`;
      await adminQuery(server.toString(), `CREATE DATABASE ${name}`);
      databaseUrl = Object.assign(new URL(server), { pathname: `/${name}` }).toString();
    }
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const env = () => ({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, DATABASE_APP_URL: undefined, BOOTSTRAP_TOKEN: undefined });
  const setEnv = () => {
    for (const [name, value] of Object.entries(env())) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };

  it('needs --email and --name (exit 2, before touching any database)', async () => {
    setEnv();
    const result = await run(['bootstrap', '--email', 'ann@example.test'], untouchable());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--email and --name are required');
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('refuses an invalid email (exit 1) before reading the password', async () => {
    setEnv();
    const result = await run(['bootstrap', '--email', 'not-an-email', '--name', 'Ann'], untouchable());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('atrium bootstrap: Invalid input: email must be an email address.');
  });

  it('refuses a weak password, then creates the administrator from piped stdin, then is closed', { timeout: 120_000 }, async () => {
    setEnv();
    const weak = await run(['bootstrap', '--email', 'Ann@Example.test', '--name', 'Ann Admin'], piped('password123\n'));
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('atrium bootstrap: Password is too common');
    expect(weak.stdout).toBe('');

    const created = await run(['bootstrap', '--email', 'Ann@Example.test', '--name', 'Ann Admin'], piped(`${TEST_PASSWORD}\n`));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created platform administrator Ann@Example\.test \([0-9a-f-]{36}\)\. Sign in at http:\/\/localhost:3000\/api\/v1\/auth\/login\.$/);
    // A pipe is never prompted on.
    expect(created.prompts).toBe('');

    const db = await openDatabase(loadConfig(process.env), { migrate: false });
    try {
      const admins = await db.transaction({}, (tx) => tx.select().from(users).where(eq(users.platformRole, 'platform_admin')));
      expect(admins).toHaveLength(1);
      expect(admins[0]).toMatchObject({ email: 'Ann@Example.test', name: 'Ann Admin', platformRole: 'platform_admin', status: 'active' });
      expect(admins[0]!.emailVerifiedAt).toBeInstanceOf(Date);
      // The trailing newline of the pipe is not part of the password.
      const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
      expect(await hasher.verify(admins[0]!.passwordHash!, TEST_PASSWORD)).toBe(true);
    } finally {
      await db.close();
    }

    // Closed now: a clear message and exit 1, without reading a password.
    const again = await run(['bootstrap', '--email', 'bob@example.test', '--name', 'Bob'], untouchable());
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('atrium bootstrap: A platform administrator already exists; bootstrap is closed. Ask an administrator for access.');
  });
});

/** A terminal: raw mode recorded, and each prompt answered with the next line once it is shown. */
function fakeTerminal(lines: string[]): { stdin: PassThrough & PasswordInput; stderr: Writable & { text: () => string }; rawModes: boolean[] } {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[] }) as PassThrough & { isTTY: boolean; setRawMode: (mode: boolean) => void; rawModes: boolean[] };
  stdin.setRawMode = (mode: boolean) => void stdin.rawModes.push(mode);
  const prompts: string[] = [];
  const stderr = Object.assign(
    new Writable({
      write(chunk, _encoding, callback) {
        const text = String(chunk);
        prompts.push(text);
        // Typed one key at a time, as a terminal in raw mode delivers them.
        if (text.endsWith(': ') && lines.length > 0) {
          const line = lines.shift()!;
          setImmediate(() => {
            for (const key of line) stdin.write(key);
          });
        }
        callback();
      },
    }),
    { text: () => prompts.join('') },
  );
  return { stdin, stderr, rawModes: stdin.rawModes };
}

describe('readNewPassword', () => {
  it('on a terminal: prompts twice without echo, in raw mode, and restores the terminal', async () => {
    const terminal = fakeTerminal(['s3cret-phrase!\r', 's3cret-phrase!\r']);
    const password = await readNewPassword(terminal.stdin, terminal.stderr);
    expect(password).toBe('s3cret-phrase!');
    expect(terminal.stderr.text()).toBe('Password: \nRepeat password: \n');
    expect(terminal.rawModes).toEqual([true, false, true, false]);
  });

  it('on a terminal: honours backspace, and refuses two different entries', async () => {
    const backspace = fakeTerminal(['abcx\u007fd\r', 'abcd\r']);
    expect(await readNewPassword(backspace.stdin, backspace.stderr)).toBe('abcd');
    const mismatch = fakeTerminal(['one-password\r', 'another-password\r']);
    await expect(readNewPassword(mismatch.stdin, mismatch.stderr)).rejects.toThrow(new PasswordInputError('the passwords do not match'));
  });

  it('on a terminal: Ctrl-C cancels', async () => {
    const terminal = fakeTerminal(['abc\u0003']);
    await expect(readNewPassword(terminal.stdin, terminal.stderr)).rejects.toThrow('cancelled');
    expect(terminal.rawModes.at(-1)).toBe(false);
  });

  it('--password-stdin reads the whole input even on a terminal', async () => {
    const terminal = fakeTerminal([]);
    terminal.stdin.end('from-a-file  \n');
    expect(await readNewPassword(terminal.stdin, terminal.stderr, { fromStdin: true })).toBe('from-a-file  ');
    expect(terminal.stderr.text()).toBe('');
  });

  it('from a pipe: strips one trailing line break only, and refuses empty or oversized input', async () => {
    expect(await readPipedPassword(piped('two words \r\n'))).toBe('two words ');
    expect(await readPipedPassword(piped('line\n\n'))).toBe('line\n');
    await expect(readNewPassword(piped('\n'), collector())).rejects.toThrow('no password on stdin');
    await expect(readPipedPassword(piped('x'.repeat(5000)))).rejects.toThrow('too long');
  });
});
