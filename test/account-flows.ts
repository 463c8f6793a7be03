/**
 * Shared set-up of the email-flow tests: an app that delivers mail to a real SMTP server (worker
 * running), a `GET /test/whoami` route with permission `self` to tell whether an access token still
 * works, and helpers to follow the links the mails carry.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { bearer } from './auth.js';
import { createTestApp, type TestApp } from './harness.js';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from './smtp.js';
import { settleAccountMailWork } from '../src/modules/identity/account.routes.js';
import { hashSecretToken } from '../src/modules/identity/secrets.js';

export const AUTH = '/api/v1/auth';
/** AUTH_MAX_FAILED_ATTEMPTS in these tests: low, so locks are reached quickly (delays start after 3). */
export const MAX_FAILED_ATTEMPTS = 5;

/**
 * A client address of its own for every request that counts something per address: with REDIS_URL the
 * counters are shared with other test files and earlier runs. Random in 2001:db8::/32, distinct /64.
 */
export const clientIp = () => `2001:db8:${[...randomBytes(6)].map((byte) => byte.toString(16).padStart(2, '0')).join('').replace(/(.{4})(?!$)/g, '$1:')}::1`;
export const uniqueEmail = (prefix = 'flow') => `${prefix}-${randomBytes(5).toString('hex')}@example.test`;

type RequestOptions = Omit<InjectOptions, 'method' | 'url' | 'payload'>;

export function useAccountTestApp() {
  const context = {} as { t: TestApp; smtp: TestSmtpServer };

  beforeAll(async () => {
    context.smtp = await startSmtpServer();
    context.t = await createTestApp(
      { SMTP_URL: context.smtp.url, MAIL_FROM: 'Atrium <no-reply@atrium.test>', PUBLIC_URL: 'https://app.atrium.test', AUTH_MAX_FAILED_ATTEMPTS: String(MAX_FAILED_ATTEMPTS) },
      {
        configure: (app) => {
          app.get('/test/whoami', { config: { permission: 'self' } }, async (request) => ({ userId: request.actor?.userId ?? null }));
        },
      },
    );
    await context.t.platform.startWorker();
  });
  afterAll(async () => {
    await context.t?.close();
    await context.smtp?.close();
  });

  const post = (path: string, payload: unknown, options: RequestOptions = {}) =>
    context.t.app.inject({ method: 'POST', url: `${AUTH}${path}`, payload: payload as InjectOptions['payload'], remoteAddress: clientIp(), ...options });

  return {
    context,
    post,
    login: (email: string, password: string) => post('/login', { email, password }),
    /** The status GET /test/whoami answers with this access token: 200 while its session lives. */
    whoamiStatus: async (accessToken: string) => (await context.t.app.inject({ url: '/test/whoami', headers: bearer(accessToken) })).statusCode,
    /** The first mail to `to` with this subject (waits for the worker to deliver it). */
    mailTo: (to: string, subject: string) => context.smtp.waitForMail((mail) => mail.envelope.to.includes(to) && mail.subject === subject),
    mailsTo: (to: string, subject: string) => context.smtp.messagesTo(to).filter((mail) => mail.subject === subject),
    /** Waits for the work forgot-password and resend-verification do after answering. */
    settle: () => settleAccountMailWork(context.t.app.identity),
    /** Moves a token's expiry into the past. */
    expire: (token: string) => context.t.admin.query(`UPDATE one_time_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [hashSecretToken(token)]),
    user: async (id: string) =>
      (await context.t.admin.query<{ email: string; email_verified_at: Date | null; password_hash: string; totp_enabled_at: Date | null }>('SELECT * FROM users WHERE id = $1', [id]))[0]!,
  };
}

/**
 * The token of the `action` link in a mail: found in the text part, and the HTML part links to the same
 * URL.
 */
export function linkToken(mail: ReceivedMail, action: 'reset-password' | 'verify-email' | 'confirm-email'): string {
  const pattern = new RegExp(`https://app\\.atrium\\.test/auth/${action}\\?token=([A-Za-z0-9_%-]+)`);
  const match = pattern.exec(mail.text ?? '');
  expect(match, `a ${action} link in the text part`).not.toBeNull();
  expect(mail.html).toContain(`href="${match![0]}"`);
  return decodeURIComponent(match![1]!);
}

/** The problem document's code and status, checked against the HTTP status and content type. */
export function problemOf(response: LightMyRequestResponse): { status: number; code: string; errors?: Array<{ field: string }> } {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json<{ status: number; code: string; errors?: Array<{ field: string }> }>();
  expect(body.status).toBe(response.statusCode);
  return body;
}
