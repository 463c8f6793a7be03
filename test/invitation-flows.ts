/**
 * Shared set-up of the invitation tests: an app that delivers mail to a real SMTP server (worker
 * running), a `GET /test/context` route (permission `stores.view`, so it honours X-Store-ID) that tells
 * where a token acts, and helpers to invite, follow the mailed link and accept.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import { uuidv7 } from '../src/core/db/ids.js';
import { stores } from '../src/modules/organization/organization.table.js';
import { clientIp } from './account-flows.js';
import { addMembership, bearer, createPerson, createTenantFor, signInAs, type Person } from './auth.js';
import { createTestApp, type TestApp } from './harness.js';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from './smtp.js';

export const PUBLIC_URL = 'https://app.atrium.test';
export const INVITE_URL = '/api/v1/users/invite';
export const INVITATIONS_URL = '/api/v1/invitations';
export const ACCEPT_URL = '/api/v1/auth/accept-invite';
export const NEW_PASSWORD = 'Amber-glacier-58-compass';

export const uniqueEmail = (prefix = 'invitee') => `${prefix}-${randomBytes(5).toString('hex')}@example.test`;

export interface InvitationView {
  id: string;
  email: string;
  role: 'owner' | 'admin' | 'member';
  roleIds: string[];
  storeIds: string[];
  message: string | null;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
  expiresAt: string;
  createdAt: string;
  invitedBy: string | null;
  acceptedAt: string | null;
  revokedAt: string | null;
}

export interface Owner {
  person: Person;
  tenant: { id: string; name: string; slug: string };
  token: string;
}

type Headers = Record<string, string>;

export function useInvitationTestApp() {
  const context = {} as { t: TestApp; smtp: TestSmtpServer };

  beforeAll(async () => {
    context.smtp = await startSmtpServer();
    context.t = await createTestApp(
      { SMTP_URL: context.smtp.url, MAIL_FROM: 'Atrium <no-reply@atrium.test>', PUBLIC_URL },
      {
        configure: (app) => {
          app.get('/test/context', { config: { permission: 'stores.view' } }, async (request) => ({
            userId: request.actor?.userId ?? null,
            tenantId: request.actor?.tenantId ?? null,
            role: request.actor?.role ?? null,
            storeId: request.actor?.storeId ?? null,
          }));
        },
      },
    );
    await context.t.platform.startWorker();
  });
  afterAll(async () => {
    await context.t?.close();
    await context.smtp?.close();
  });

  const app = () => context.t.app;

  const request = (method: NonNullable<InjectOptions['method']>, url: string, token: string | null, payload?: unknown, headers: Headers = {}) =>
    app().inject({ method, url, payload: payload as InjectOptions['payload'], headers: { ...(token ? bearer(token) : {}), ...headers } });

  const kit = {
    context,
    app,
    request,
    /** A person owning a fresh tenant, signed in there. */
    owner: async (options: { name?: string } = {}): Promise<Owner> => {
      const person = await createPerson(app(), options);
      const tenant = await createTenantFor(app(), person);
      const login = await signInAs(app(), person, tenant.id);
      return { person, tenant, token: login.accessToken };
    },
    /** A new person with `role` in the tenant, signed in there. */
    member: async (tenantId: string, role: 'admin' | 'member' = 'member') => {
      const person = await createPerson(app());
      await addMembership(app(), tenantId, person, role);
      return { person, token: (await signInAs(app(), person, tenantId)).accessToken };
    },
    createStore: async (tenantId: string, options: { deleted?: boolean } = {}): Promise<string> => {
      const id = uuidv7();
      const code = `S${randomBytes(3).toString('hex')}`;
      await app().platform.db.withTenant(tenantId, (tx) => tx.insert(stores).values({ tenantId, id, name: `Store ${code}`, code, deletedAt: options.deleted ? new Date() : null }));
      return id;
    },
    invite: (token: string, body: Record<string, unknown>, headers: Headers = {}) => request('POST', INVITE_URL, token, body, headers),
    /** Invites and expects 201; returns the invitation. */
    invited: async (token: string, body: Record<string, unknown>): Promise<InvitationView> => {
      const response = await request('POST', INVITE_URL, token, body);
      expect(response.statusCode, response.body).toBe(201);
      return response.json<InvitationView>();
    },
    accept: (payload: Record<string, unknown>, headers: Headers = {}) =>
      app().inject({ method: 'POST', url: ACCEPT_URL, payload, headers, remoteAddress: clientIp() }),
    /** Invitation mails to `to`, in arrival order. */
    invitationMails: (to: string) => context.smtp.messagesTo(to).filter((mail) => mail.subject.includes('invited you to join')),
    /** Waits for the `count`-th invitation mail to `to` and returns it. */
    invitationMail: async (to: string, count = 1): Promise<ReceivedMail> => {
      await expect.poll(() => kit.invitationMails(to).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(count);
      return kit.invitationMails(to)[count - 1]!;
    },
    /** Moves an invitation's expiry into the past. */
    expire: (invitationId: string) => context.t.admin.query(`UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1`, [invitationId]),
    setTenant: (tenantId: string, change: 'suspended' | 'closed' | { allowedEmailDomains: string[] }) =>
      typeof change === 'object'
        ? context.t.admin.query(`UPDATE tenants SET settings = jsonb_set(settings, '{security}', $2::jsonb) WHERE id = $1`, [tenantId, JSON.stringify({ allowedEmailDomains: change.allowedEmailDomains })])
        : change === 'suspended'
          ? context.t.admin.query(`UPDATE tenants SET status = 'suspended', suspended_reason = 'test' WHERE id = $1`, [tenantId])
          : context.t.admin.query(`UPDATE tenants SET status = 'closed', closed_at = now() WHERE id = $1`, [tenantId]),
  };
  return kit;
}

/** The token of the accept-invite link in a mail: found in the text part; the HTML part links to the same URL. */
export function inviteToken(mail: ReceivedMail): string {
  const match = new RegExp(`${PUBLIC_URL.replace(/\./g, '\\.')}/auth/accept-invite\\?token=([A-Za-z0-9_.%-]+)`).exec(mail.text ?? '');
  expect(match, 'an accept-invite link in the text part').not.toBeNull();
  expect(mail.html).toContain(`href="${match![0]}"`);
  return decodeURIComponent(match![1]!);
}

/** The problem document's code, checked against the HTTP status and content type. */
export function problemOf(response: LightMyRequestResponse): { status: number; code: string; detail: string; errors?: Array<{ field: string }> } {
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json<{ status: number; code: string; detail: string; errors?: Array<{ field: string }> }>();
  expect(body.status).toBe(response.statusCode);
  return body;
}
