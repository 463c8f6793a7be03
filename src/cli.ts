/**
 * The `atrium` command: serve | worker | migrate | seed | bootstrap | mail | keys. Each has --help.
 */
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { PasswordInputError, readNewPassword, type PasswordInput } from './cli-password.js';
import { createLogger } from './core/logger.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DataDirLockedError } from './core/db/data-dir-lock.js';
import { openDatabase } from './core/db/open.js';
import { AppError } from './core/http/errors.js';
import { getMail, listMail, type MailRecord } from './core/mail/mailer.js';
import { assertAdministratorInput, assertNotBootstrapped, createFirstAdministrator } from './modules/identity/bootstrap.service.js';
import { createPasswordHasher } from './modules/identity/passwords.js';
import { KeyEncryptionKeyError, rotateSigningKey, type RotationResult } from './modules/identity/signing-keys.js';
import { longestTokenLifetimeSeconds } from './modules/identity/tokens.js';
import { serve, work } from './server.js';
import { seedDemoData } from './seed.js';
import { formatSeedReport } from './seed-report.js';
import { VERSION } from './version.js';

interface Command {
  summary: string;
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; description: string }>;
  /** Takes positional arguments (a subcommand, an id), passed to run. */
  positionals?: boolean;
  run(config: Config, values: Record<string, string | boolean | undefined>, positionals: string[], io: CliIo): Promise<void>;
}

/** The streams a command may read from or prompt on (tests inject their own). */
export interface CliIo {
  stdin: PasswordInput;
  /** Prompts go here, so stdout stays clean for what the command prints. */
  stderr: Writable;
}

const commands: Record<string, Command> = {
  serve: {
    summary: 'Run the HTTP API (and, unless RUN_WORKER=false, the job worker).',
    usage: 'atrium serve',
    run: (config) => serve(config),
  },
  worker: {
    summary: 'Run only the job worker and outbox relay (scale these separately from the API).',
    usage: 'atrium worker',
    run: (config) => work(config),
  },
  migrate: {
    summary: 'Create the database roles and apply pending migrations (idempotent), then exit.',
    usage: 'atrium migrate',
    run: async (config) => {
      const db = await openDatabase(config, { migrate: true });
      await db.close();
      console.log(`Migrations applied (${config.database.url ? 'PostgreSQL' : `PGlite in ${config.dataDir}`}).`);
    },
  },
  seed: {
    summary: 'Create demo data (a platform admin, two tenants on different plans with stores and members) and print how to sign in. Idempotent. Refused in production unless --force.',
    usage: 'atrium seed [--force]',
    options: { force: { type: 'boolean', description: 'Allow seeding when NODE_ENV=production.' } },
    run: async (config, values) => {
      if (config.isProduction && !values.force) throw new UsageError('Refusing to seed demo data in production; pass --force if you mean it.');
      const db = await openDatabase(config);
      try {
        const passwords = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
        const result = await seedDemoData({ db, passwords, billing: config.billing });
        console.log(formatSeedReport(result, { publicUrl: config.http.publicUrl, production: config.isProduction }));
      } finally {
        await db.close();
      }
    },
  },
  bootstrap: {
    summary: 'Create the first platform administrator (only while none exists).',
    usage: 'atrium bootstrap --email <email> --name <name> [--password-stdin]   (password prompted without echo, or read from piped stdin)',
    options: {
      email: { type: 'string', description: 'Email of the administrator.' },
      name: { type: 'string', description: 'Display name.' },
      'password-stdin': { type: 'boolean', description: 'Read the password from stdin even on a terminal (automatic when stdin is a pipe).' },
    },
    run: (config, values, _positionals, io) => runBootstrapCommand(config, values, io),
  },
  mail: {
    summary: 'Read the mail kept in the database: the outbox in embedded mode (no SMTP_URL), else the delivery log.',
    usage: 'atrium mail list [--limit N]\n       atrium mail show <id>',
    positionals: true,
    options: { limit: { type: 'string', description: 'list: how many messages to print, newest first (1-100, default 20).' } },
    run: (config, values, positionals) => runMailCommand(config, values, positionals),
  },
  keys: {
    summary: 'Rotate the token signing key: new tokens get a new key; tokens already issued keep working until they expire.',
    usage: 'atrium keys rotate',
    positionals: true,
    run: (config, _values, positionals) => runKeysCommand(config, positionals),
  },
};

class UsageError extends Error {}

/** `atrium bootstrap`: the first platform administrator, as POST /api/v1/auth/bootstrap does it. */
async function runBootstrapCommand(config: Config, values: Record<string, string | boolean | undefined>, io: CliIo): Promise<void> {
  const { email, name } = values;
  if (typeof email !== 'string' || typeof name !== 'string') throw new UsageError('--email and --name are required. See `atrium bootstrap --help`.');
  assertAdministratorInput({ email, name });
  const db = await openDatabase(config);
  try {
    // Refused before asking for a password that could not be used.
    await assertNotBootstrapped(db);
    const password = await readNewPassword(io.stdin, io.stderr, { fromStdin: values['password-stdin'] === true });
    const passwords = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
    const { userId } = await createFirstAdministrator({ db, passwords }, { email, name, password });
    console.log(`Created platform administrator ${email} (${userId}). Sign in at ${config.http.publicUrl}/api/v1/auth/login.`);
  } finally {
    await db.close();
  }
}

/**
 * `atrium keys rotate`: the previous key keeps verifying as long as a token it signed may live (plus skew); running
 * servers sign with the new key after their next key reload (within a minute).
 */
async function runKeysCommand(config: Config, positionals: string[]): Promise<void> {
  if (positionals.length !== 1 || positionals[0] !== 'rotate') throw new UsageError('expected "rotate". See `atrium keys --help`.');
  const db = await openDatabase(config);
  try {
    const result = await rotateSigningKey({ db, encryptionKey: config.auth.keyEncryptionKey, accessTokenTtlSeconds: longestTokenLifetimeSeconds(config.auth.accessTokenTtlSeconds) });
    console.log(formatRotation(result));
  } catch (error) {
    if (error instanceof KeyEncryptionKeyError) throw new ConfigError([`${error.message}; nothing was rotated`]);
    throw error;
  } finally {
    await db.close();
  }
}

function formatRotation(result: RotationResult): string {
  const lines = [`New signing key: ${result.kid}`];
  if (result.previousKid) {
    lines.push(`Previous key ${result.previousKid} keeps verifying tokens until ${result.previousVerifiesUntil!.toISOString()}, then is retired.`);
  }
  if (result.retiredKids.length > 0) lines.push(`Retired (all their tokens have expired): ${result.retiredKids.join(', ')}`);
  lines.push('Running servers sign with the new key within a minute; no restart is needed.');
  return lines.join('\n');
}

/** `atrium mail list|show`: in embedded mode the outbox is the developer's mailbox (DESIGN §2). */
async function runMailCommand(config: Config, values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void> {
  const [action, ...args] = positionals;
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!(action === 'list' && args.length === 0) && !(action === 'show' && args.length === 1)) {
    throw new UsageError(`expected "list" or "show <id>". See \`atrium mail --help\`.`);
  }
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError('--limit must be an integer from 1 to 100.');
  const db = await openDatabase(config);
  try {
    if (action === 'list') console.log(formatMailList(await listMail(db, { limit })));
    else console.log(formatMail(await getMail(db, args[0]!)));
  } finally {
    await db.close();
  }
}

function formatMailList(rows: MailRecord[]): string {
  if (rows.length === 0) return 'No mail.';
  const toWidth = Math.max(2, ...rows.map((row) => row.to.length));
  const line = (id: string, created: string, status: string, to: string, subject: string) =>
    [id.padEnd(36), created.padEnd(24), status.padEnd(6), to.padEnd(toWidth), subject].join('  ');
  return [line('ID', 'CREATED', 'STATUS', 'TO', 'SUBJECT'), ...rows.map((row) => line(row.id, row.createdAt.toISOString(), row.status, row.to, row.subject))].join('\n');
}

function formatMail(row: MailRecord): string {
  const delivery = [row.status, row.transport, row.providerMessageId, row.error].filter(Boolean).join(', ');
  const headers = [`ID:       ${row.id}`, `Date:     ${row.createdAt.toISOString()}`, `From:     ${row.from}`, `To:       ${row.to}`, `Subject:  ${row.subject}`, `Delivery: ${delivery}`];
  return [...headers, '', row.text, ...(row.html ? ['', '--- HTML part ---', row.html] : [])].join('\n');
}

function help(): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`);
  return [`atrium ${VERSION}`, '', 'Usage: atrium <command> [options]', '', 'Commands:', ...lines, '', 'Run `atrium <command> --help` for details. Configuration comes from environment variables (see .env.example).'].join('\n');
}

function commandHelp(name: string, command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([option, spec]) => `  --${option.padEnd(10)} ${spec.description}`);
  return [`${command.usage}`, '', command.summary, '', 'Options:', ...options, `  --${'help'.padEnd(10)} Show this help.`].join('\n');
}

const processIo = (): CliIo => ({ stdin: process.stdin, stderr: process.stderr });

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`Unknown command "${name}".\n\n${help()}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { help: { type: 'boolean', short: 'h' }, ...(command.options ?? {}) },
      strict: true,
      allowPositionals: command.positionals ?? false,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${commandHelp(name, command)}`);
    return 2;
  }
  if (values.help) {
    console.log(commandHelp(name, command));
    return 0;
  }
  try {
    const config = loadConfig();
    await command.run(config, values, positionals, io);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof UsageError || error instanceof AppError || error instanceof PasswordInputError) {
      console.error(`atrium ${name}: ${error.message}`);
      return error instanceof UsageError ? 2 : 1;
    }
    createLogger(loadConfigOrDefault()).fatal({ err: error }, `atrium ${name} failed`);
    return 1;
  }
}

function loadConfigOrDefault(): Config {
  try {
    return loadConfig();
  } catch {
    return loadConfig({});
  }
}

/** Entry point of the `atrium` binary: serve and worker keep running until a signal; others exit. */
export async function runCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  const exitCode = await main(argv);
  if (exitCode !== 0 || !['serve', 'worker'].includes(argv[0] ?? '')) process.exit(exitCode);
}
