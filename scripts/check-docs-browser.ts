/**
 * Opens the docs UI in a real browser (Debian's chromium through playwright-core) and checks that it
 * renders every operation with no failed request, console error or Content-Security-Policy violation.
 * Not part of `npm test` (it needs a browser); run it after touching helmet, CSP or the docs setup:
 *
 *   npm run docs:browser-check -- [--host 127.0.0.1] [--chromium /usr/bin/chromium]
 *
 * `--host` chooses the address the app listens on and the browser uses: try a LAN address too, since
 * browsers treat loopback as secure and would hide an http→https upgrade problem there.
 */
import type net from 'node:net';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { chromium } from 'playwright-core';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migratePglite } from '../src/core/db/migrate.js';
import { listOperations } from './validate-openapi.js';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { host: { type: 'string', default: '127.0.0.1' }, chromium: { type: 'string', default: '/usr/bin/chromium' } } });
  const host = values.host!;
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', RUN_WORKER: 'false', HOST: host });
  const pglite = await PGlite.create();
  await migratePglite(pglite, config.database);
  const app = await buildApp(config, { pglite, migrate: false });
  await app.listen({ host, port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const operations = listOperations(app.swagger() as unknown as Record<string, unknown>).length;

  const browser = await chromium.launch({ executablePath: values.chromium, args: ['--no-sandbox', '--headless=new'] });
  const problems: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('console', (message) => {
      // Over plain http on a non-loopback address Chrome reports that it ignores COOP; that is expected.
      if (message.type() === 'error' && !message.text().includes('Cross-Origin-Opener-Policy header has been ignored')) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    // CSP violations are reported to the page as events; collect them where the test can read them.
    await page.addInitScript(() => {
      // Runs in the page (this file is compiled without the DOM types, hence the local shape).
      type Violation = { violatedDirective: string; blockedURI: string; sample: string };
      const page = globalThis as unknown as { cspViolations: string[]; document: { addEventListener(type: string, listener: (event: Violation) => void): void } };
      page.cspViolations = [];
      page.document.addEventListener('securitypolicyviolation', (event) =>
        page.cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}${event.sample ? ` ("${event.sample}")` : ''}`),
      );
    });

    const response = await page.goto(`${origin}/docs`, { waitUntil: 'networkidle' });
    if (response?.status() !== 200) problems.push(`GET /docs answered ${response?.status()}`);
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 15_000 }).catch(() => problems.push('no operation rendered within 15 s'));
    const rendered = await page.locator('.swagger-ui .opblock').count();
    if (rendered !== operations) problems.push(`rendered ${rendered} operations, the document has ${operations}`);
    const title = (await page.locator('.swagger-ui .info .title').textContent().catch(() => null)) ?? '';
    if (!title.includes('Atrium API')) problems.push(`title shown: "${title}"`);
    const violations = await page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations);
    for (const violation of violations) problems.push(`CSP violation: ${violation}`);

    if (problems.length > 0) {
      console.error(`The docs UI at ${origin}/docs has problems:\n  - ${problems.join('\n  - ')}`);
      return 1;
    }
    console.log(`The docs UI at ${origin}/docs renders all ${operations} operations with no CSP violation or failed request.`);
    return 0;
  } finally {
    await browser.close();
    await app.close();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  return 1;
});
