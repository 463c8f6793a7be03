/**
 * Process lifecycle for `atrium serve` and `atrium worker`: start, then on SIGTERM/SIGINT stop accepting,
 * let in-flight requests and jobs finish (bounded by SHUTDOWN_TIMEOUT_MS), close pools, exit 0.
 */
import type { Logger } from 'pino';
import { buildApp, startWorkers } from './app.js';
import { createLogger } from './core/logger.js';
import type { Config } from './config.js';
import { openPlatform } from './core/platform.js';

function onShutdownSignal(logger: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs + 2000);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** `atrium serve`: the HTTP API, with the job worker in-process unless RUN_WORKER=false. */
export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config);
  const app = await buildApp(config, { logger });
  if (config.worker.inProcess) await startWorkers(app.platform);
  onShutdownSignal(logger, config.http.shutdownTimeoutMs, () => app.close());
  await app.listen({ host: config.http.host, port: config.http.port });
  const mode = config.database.url ? 'PostgreSQL' : `embedded PGlite in ${config.dataDir}`;
  logger.info(`Atrium is listening on ${config.http.publicUrl} (${mode}); API docs at ${config.http.publicUrl}/docs`);
}

/** `atrium worker`: jobs and the outbox relay only, no HTTP. */
export async function work(config: Config): Promise<void> {
  const logger = createLogger(config);
  const platform = await openPlatform({ ...config, worker: { ...config.worker, inProcess: true } }, { logger });
  await startWorkers(platform);
  onShutdownSignal(logger, config.http.shutdownTimeoutMs, () => platform.close());
  logger.info('Atrium worker started');
}
