/**
 * The `atrium` command: serve | worker | migrate | seed | bootstrap. Each has --help.
 */
import { parseArgs } from 'node:util';
import { createLogger } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DataDirLockedError } from './core/db/data-dir-lock.js';
import { openDatabase } from './core/db/open.js';
import { serve, work } from './server.js';
import { seedDemoData } from './seed.js';
import { VERSION } from './version.js';

interface Command {
  summary: string;
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; description: string }>;
  run(config: Config, values: Record<string, string | boolean | undefined>): Promise<void>;
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
    summary: 'Create demo data (a demo tenant, a person and their membership). Idempotent. Refused in production unless --force.',
    usage: 'atrium seed [--force]',
    options: { force: { type: 'boolean', description: 'Allow seeding when NODE_ENV=production.' } },
    run: async (config, values) => {
      if (config.isProduction && !values.force) throw new UsageError('Refusing to seed demo data in production; pass --force if you mean it.');
      const db = await openDatabase(config);
      try {
        const summary = await seedDemoData(db);
        console.log(summary);
      } finally {
        await db.close();
      }
    },
  },
  bootstrap: {
    summary: 'Create the first platform administrator (available once the identity module lands).',
    usage: 'atrium bootstrap --email <email> --name <name>   (password prompted, or read from stdin)',
    options: {
      email: { type: 'string', description: 'Email of the administrator.' },
      name: { type: 'string', description: 'Display name.' },
    },
    run: async () => {
      throw new UsageError('bootstrap needs the identity module, which is not part of this build yet.');
    },
  },
};

class UsageError extends Error {}

function help(): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`);
  return [`atrium ${VERSION}`, '', 'Usage: atrium <command> [options]', '', 'Commands:', ...lines, '', 'Run `atrium <command> --help` for details. Configuration comes from environment variables (see .env.example).'].join('\n');
}

function commandHelp(name: string, command: Command): string {
  const options = Object.entries(command.options ?? {}).map(([option, spec]) => `  --${option.padEnd(10)} ${spec.description}`);
  return [`${command.usage}`, '', command.summary, '', 'Options:', ...options, `  --${'help'.padEnd(10)} Show this help.`].join('\n');
}

export async function main(argv: string[]): Promise<number> {
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
  try {
    ({ values } = parseArgs({ args: rest, options: { help: { type: 'boolean', short: 'h' }, ...(command.options ?? {}) }, strict: true }));
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
    await command.run(config, values);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirLockedError || error instanceof UsageError) {
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
