/**
 * The real `atrium` process in embedded mode: it serves, owns its data directory (a second process is
 * refused), drains an in-flight request on SIGTERM and exits 0, and a restart finds its data again.
 * Embedded mode only: the data-directory lock and the on-disk PGlite are what is under test.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STARTUP_DEADLINE_MS = 90_000;

interface RunningProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: RunningProcess[] = [];

/** Runs `atrium <args>` from the sources (tsx, so no build is needed) with a controlled environment. */
function runAtrium(args: string[], env: Record<string, string>): RunningProcess {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !['DATABASE_URL', 'DATABASE_APP_URL', 'REDIS_URL', 'SMTP_URL', 'METRICS_TOKEN', 'NODE_OPTIONS'].includes(name)),
  ) as Record<string, string>;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin.ts', ...args], {
    cwd: ROOT,
    env: { ...base, NODE_ENV: 'test', LOG_LEVEL: 'debug', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_MS: '10000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const running = { child, output: () => output, exited };
  started.push(running);
  return running;
}

/** A port nothing listens on right now (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; fails with the process output if it exits first or the deadline passes. */
async function waitUntil(running: RunningProcess, what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_DEADLINE_MS;
  let exited = false;
  void running.exited.then(() => (exited = true));
  while (!(await check())) {
    if (exited) throw new Error(`process exited before ${what}:\n${running.output()}`);
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${running.output()}`);
    await sleep(100);
  }
}

async function isHealthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).status === 200;
  } catch {
    return false;
  }
}

/** Runs a command to completion (bounded) and returns its exit code and output. */
async function runToEnd(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const running = runAtrium(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), STARTUP_DEADLINE_MS);
  const { code } = await running.exited;
  clearTimeout(timer);
  return { code, output: running.output() };
}

describe.runIf(!inject('postgresTemplate'))('the atrium process (embedded mode)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-server-'));
  });
  afterAll(async () => {
    // Whatever a failed assertion left running is stopped, by its own pid only.
    for (const running of started) if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    await Promise.all(started.map((running) => running.exited));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves, refuses a second process on its data directory, drains on SIGTERM and keeps its data', { timeout: 300_000 }, async () => {
    const port = await freePort();
    const env = { DATA_DIR: dataDir, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` };

    // 1. It starts (migrating a fresh data directory) and answers.
    const server = runAtrium(['serve'], env);
    await waitUntil(server, '/health to answer', () => isHealthy(port));
    const health = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(fs.readFileSync(path.join(dataDir, 'atrium.lock'), 'utf8')).toBe(String(server.child.pid));
    expect(server.output()).toContain(`Atrium is listening on http://127.0.0.1:${port}`);

    // 2. A second process on the same data directory is refused, naming the holder.
    const second = await runToEnd(['serve'], { ...env, PORT: String(await freePort()) });
    expect(second.code).toBe(1);
    expect(second.output).toContain(`atrium serve: Another Atrium process (pid ${server.child.pid}) is using the data directory ${dataDir}`);
    expect(await isHealthy(port)).toBe(true);

    // 3. SIGTERM while a request is in flight: the request completes, then the process exits 0.
    const body = JSON.stringify({ name: 'in-flight request body' });
    const inFlight = new Promise<{ status: number; contentType: string; body: string }>((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/health', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => resolve({ status: response.statusCode!, contentType: String(response.headers['content-type']), body: text }));
      });
      request.on('error', reject);
      // Half the body now; the server cannot answer before the rest arrives.
      request.write(body.slice(0, 10));
      void waitUntil(server, 'the shutdown to begin', () => server.output().includes('"msg":"shutting down"')).then(
        () => request.end(body.slice(10)),
        reject,
      );
    });
    await waitUntil(server, 'the request to reach the server', () => server.output().includes('"msg":"incoming request"') && server.output().includes('"method":"POST"'));
    server.child.kill('SIGTERM');
    const answered = await inFlight;
    expect(answered.status).toBe(405); // POST /health: the request ran to completion through the app
    expect(answered.contentType).toMatch(/^application\/problem\+json/);
    const stopped = await server.exited;
    expect(stopped).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('"msg":"stopped"');
    expect(fs.existsSync(path.join(dataDir, 'atrium.lock'))).toBe(false);
    expect(await isHealthy(port)).toBe(false);

    // 4. Data written between runs survives a restart on the same directory.
    const seeded = await runToEnd(['seed'], env);
    expect(seeded.code).toBe(0);
    expect(seeded.output).toMatch(/^Demo data created: /m);
    const tenantId = /Demo Retail \(demo-retail, id ([0-9a-f-]{36})\)/.exec(seeded.output)![1];

    const restarted = runAtrium(['serve'], env);
    await waitUntil(restarted, '/health to answer after a restart', () => isHealthy(port));
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toEqual({ code: 0, signal: null });

    const reseeded = await runToEnd(['seed'], env);
    expect(reseeded.code).toBe(0);
    expect(reseeded.output).toContain('Demo data already present; nothing changed.');
    expect(reseeded.output).toContain(`Demo Retail (demo-retail, id ${tenantId})`);
  });
});
