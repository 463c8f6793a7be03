/**
 * Tenant settings over HTTP: defaults, validation of every value (each failure naming its field),
 * merging, what is stored, the audit row and event in the change's transaction, and the two settings
 * authentication enforces — `security.mfaRequired` (members without MFA may only enrol, then everything
 * works) and `security.sessionMaxAgeMinutes` (older sessions stop working in the tenant) — plus the
 * security matrix of both routes and unit checks of the validators.
 */
import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createPerson, createTenantFor, signedInMember, signedInOwner } from '../../../test/auth.js';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { baseCases, securityMatrix, sessionCases, tenantCases, tenantDigest } from '../../../test/security-matrix.js';
import { uuidv7 } from '../../core/db/ids.js';
import type { MembershipRole } from '../../core/tenancy/tenancy.table.js';
import { canonicalLocale, DEFAULT_TENANT_SETTINGS, isKnownCurrency, isKnownTimeZone, mergeSettings, resolveTenantSettings, settingsChanges } from './tenant-settings.js';

const SETTINGS = '/api/v1/tenants/current/settings';

let t: TestApp;
let victimTenantId: string;

beforeAll(async () => {
  t = await createTestApp();
  victimTenantId = (await createTenantFor(t.app, await createPerson(t.app))).id;
});
afterAll(() => t?.close());

const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const call = (method: InjectOptions['method'], url: string, token: string, payload?: unknown) =>
  t.app.inject({ method, url, remoteAddress: randomIp(), headers: bearer(token), payload: payload as InjectOptions['payload'] });
const patch = (token: string, payload: unknown) => call('PATCH', SETTINGS, token, payload);

const owner = () => signedInOwner(t.app);

async function memberOf(tenantId: string, role: MembershipRole = 'member') {
  const { person, login } = await signedInMember(t.app, tenantId, role);
  const claims = await t.app.accessTokens.verify(login.accessToken);
  return { person, token: login.accessToken, sessionId: claims.sid };
}

type Row = Record<string, unknown>;
const storedSettings = async (tenantId: string) => (await t.admin.query<{ settings: Row }>('SELECT settings FROM tenants WHERE id = $1', [tenantId]))[0]!.settings;
const auditRows = (tenantId: string) => t.admin.query<Row>(`SELECT *, xmin::text AS xid FROM audit_events WHERE tenant_id = $1 AND action = 'tenant.settings_updated' ORDER BY id`, [tenantId]);
const eventRows = (tenantId: string) => t.admin.query<Row>(`SELECT *, xmin::text AS xid FROM outbox_events WHERE tenant_id = $1 AND type = 'tenant.settings_updated' ORDER BY id`, [tenantId]);

const fields = (response: { json: () => { errors?: Array<{ field: string }> } }) => (response.json().errors ?? []).map((error) => error.field);

describe('GET /tenants/current/settings', () => {
  it('answers every key with its default for a tenant that set nothing, to any member', async () => {
    const { tenant, token } = await owner();
    const member = await memberOf(tenant.id);
    for (const caller of [token, member.token]) {
      const response = await call('GET', SETTINGS, caller);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        locale: 'en',
        timezone: 'UTC',
        currency: 'USD',
        dateFormat: 'YYYY-MM-DD',
        numberFormat: '1,234.56',
        branding: { primaryColor: null, logoFileId: null },
        security: { mfaRequired: false, sessionMaxAgeMinutes: null, allowedEmailDomains: [], allowImpersonation: true },
      });
    }
  });
});

describe('PATCH /tenants/current/settings', () => {
  it('validates, normalises and stores every setting; the audit row and event carry the changes and commit with them', async () => {
    const { person, tenant, token } = await owner();
    const logoFileId = uuidv7();
    const response = await patch(token, {
      locale: 'pt-br',
      timezone: 'Africa/Nairobi',
      currency: 'KES',
      dateFormat: 'DD/MM/YYYY',
      numberFormat: '1.234,56',
      branding: { primaryColor: '#1A2B3C', logoFileId },
      security: { mfaRequired: false, sessionMaxAgeMinutes: 600, allowedEmailDomains: ['Example.COM', 'example.com', 'shop.example.org', 'xn--bcher-kva.example'], allowImpersonation: true },
    });
    expect(response.statusCode).toBe(200);
    const expected = {
      locale: 'pt-BR',
      timezone: 'Africa/Nairobi',
      currency: 'KES',
      dateFormat: 'DD/MM/YYYY',
      numberFormat: '1.234,56',
      branding: { primaryColor: '#1a2b3c', logoFileId },
      security: { mfaRequired: false, sessionMaxAgeMinutes: 600, allowedEmailDomains: ['example.com', 'shop.example.org', 'xn--bcher-kva.example'], allowImpersonation: true },
    };
    expect(response.json()).toEqual(expected);
    expect((await call('GET', SETTINGS, token)).json()).toEqual(expected);
    expect(await storedSettings(tenant.id)).toEqual(expected);

    const [auditRow] = await auditRows(tenant.id);
    const before = { locale: 'en', timezone: 'UTC', currency: 'USD', dateFormat: 'YYYY-MM-DD', numberFormat: '1,234.56', branding: { primaryColor: null, logoFileId: null }, security: { sessionMaxAgeMinutes: null, allowedEmailDomains: [] } };
    const after = { ...expected, security: { sessionMaxAgeMinutes: 600, allowedEmailDomains: expected.security.allowedEmailDomains } };
    // mfaRequired did not change (false → false), so neither record names it.
    expect(auditRow).toMatchObject({ actor_type: 'user', actor_id: person.id, target_type: 'tenant', target_id: tenant.id, before, after });
    const [event] = await eventRows(tenant.id);
    expect(event!.payload).toEqual({ tenantId: tenant.id, before, after });
    const [{ xid }] = (await t.admin.query<{ xid: string }>('SELECT xmin::text AS xid FROM tenants WHERE id = $1', [tenant.id])) as [{ xid: string }];
    expect(auditRow!.xid).toBe(xid);
    expect(event!.xid).toBe(xid);
  });

  it('merges: keys left out keep their value, branding and security merge key by key, null clears a nullable key', async () => {
    const { tenant, token } = await owner();
    const logoFileId = uuidv7();
    await patch(token, { timezone: 'Europe/Paris', branding: { primaryColor: '#ffffff', logoFileId }, security: { allowedEmailDomains: ['acme.test'], sessionMaxAgeMinutes: 30 } });

    const second = await patch(token, { currency: 'EUR', branding: { primaryColor: null }, security: { sessionMaxAgeMinutes: 120 } });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({
      timezone: 'Europe/Paris',
      currency: 'EUR',
      branding: { primaryColor: null, logoFileId },
      security: { mfaRequired: false, sessionMaxAgeMinutes: 120, allowedEmailDomains: ['acme.test'] },
    });
    // Only what was ever set is stored; the rest keeps following the defaults.
    expect(await storedSettings(tenant.id)).toEqual({
      timezone: 'Europe/Paris',
      currency: 'EUR',
      branding: { primaryColor: null, logoFileId },
      security: { allowedEmailDomains: ['acme.test'], sessionMaxAgeMinutes: 120 },
    });
    const audits = await auditRows(tenant.id);
    expect(audits).toHaveLength(2);
    expect(audits[1]).toMatchObject({ before: { currency: 'USD', branding: { primaryColor: '#ffffff' }, security: { sessionMaxAgeMinutes: 30 } } });
  });

  it('writes nothing for a change that changes nothing (and answers the settings)', async () => {
    const { tenant, token } = await owner();
    const response = await patch(token, { timezone: 'UTC', security: {} });
    expect(response.statusCode).toBe(200);
    expect(response.json().timezone).toBe('UTC');
    expect(await auditRows(tenant.id)).toHaveLength(0);
    expect(await eventRows(tenant.id)).toHaveLength(0);
    expect(await storedSettings(tenant.id)).toEqual({});
  });

  it('accepts IANA zones ICU lists under an older name, and UTC', async () => {
    const { token } = await owner();
    for (const timezone of ['Asia/Kolkata', 'America/Argentina/Buenos_Aires', 'UTC', 'America/Port-au-Prince']) {
      const response = await patch(token, { timezone });
      expect(response.statusCode, timezone).toBe(200);
      expect(response.json().timezone).toBe(timezone);
    }
  });

  it.each([
    ['an unknown time zone', { timezone: 'Mars/Olympus_Mons' }, ['/timezone']],
    ['a time zone in the wrong case', { timezone: 'europe/paris' }, ['/timezone']],
    ['an offset instead of a zone', { timezone: '+03:00' }, ['/timezone']],
    ['an unknown currency', { currency: 'ABC' }, ['/currency']],
    ['a lowercase currency', { currency: 'usd' }, ['/currency']],
    ['an invalid locale', { locale: 'en_US' }, ['/locale']],
    ['a malformed locale', { locale: 'en--US' }, ['/locale']],
    ['an unknown date format', { dateFormat: 'YYYY' }, ['/dateFormat']],
    ['an unknown number format', { numberFormat: '1_234.56' }, ['/numberFormat']],
    ['a colour name', { branding: { primaryColor: 'red' } }, ['/branding/primaryColor']],
    ['a short colour', { branding: { primaryColor: '#fff' } }, ['/branding/primaryColor']],
    ['a logo id that is no UUID', { branding: { logoFileId: 'logo.png' } }, ['/branding/logoFileId']],
    ['a string for mfaRequired', { security: { mfaRequired: 'yes' } }, ['/security/mfaRequired']],
    ['a session age under 5 minutes', { security: { sessionMaxAgeMinutes: 4 } }, ['/security/sessionMaxAgeMinutes']],
    ['a session age over a year', { security: { sessionMaxAgeMinutes: 525_601 } }, ['/security/sessionMaxAgeMinutes']],
    ['a fractional session age', { security: { sessionMaxAgeMinutes: 7.5 } }, ['/security/sessionMaxAgeMinutes']],
    ['a domain that is not one', { security: { allowedEmailDomains: ['example.com', 'not a domain'] } }, ['/security/allowedEmailDomains/1']],
    ['an address instead of a domain', { security: { allowedEmailDomains: ['ann@example.com'] } }, ['/security/allowedEmailDomains/0']],
    ['a single-label domain', { security: { allowedEmailDomains: ['localhost'] } }, ['/security/allowedEmailDomains/0']],
    ['too many domains', { security: { allowedEmailDomains: Array.from({ length: 51 }, (_, i) => `d${i}.example`) } }, ['/security/allowedEmailDomains']],
    ['an unknown setting', { theme: 'dark' }, ['/theme']],
    ['an unknown security setting', { security: { passwordPolicy: 'strong' } }, ['/security/passwordPolicy']],
    ['null for a required value', { timezone: null }, ['/timezone']],
    ['a bad time zone and a bad currency', { timezone: 'Nowhere/Land', currency: 'ZZZ' }, ['/timezone', '/currency']],
  ])('refuses %s with 400 naming the field, changing nothing', async (_case, body, expectedFields) => {
    const { tenant, token } = await owner();
    const before = await tenantDigest(t.admin, tenant.id);
    const response = await patch(token, body);
    expect(response.statusCode).toBe(400);
    expect(response.json().code).toBe('request.validation_failed');
    for (const field of expectedFields) expect(fields(response)).toContain(field);
    expect(await tenantDigest(t.admin, tenant.id)).toEqual(before);
  });

  it('accepts the bounds of the session age, and 50 domains', async () => {
    const { token } = await owner();
    for (const minutes of [5, 525_600, null]) expect((await patch(token, { security: { sessionMaxAgeMinutes: minutes } })).json().security.sessionMaxAgeMinutes).toBe(minutes);
    const domains = Array.from({ length: 50 }, (_, i) => `d${i}.example`);
    expect((await patch(token, { security: { allowedEmailDomains: domains } })).json().security.allowedEmailDomains).toEqual(domains);
  });
});

describe('security.mfaRequired', () => {
  const AUTH = '/api/v1/auth';

  it('restricts members without MFA to enrolling; once TOTP is on, the same token works again', async () => {
    const { tenant, token } = await owner();
    const member = await memberOf(tenant.id);
    expect((await call('GET', '/api/v1/tenants/current', member.token)).statusCode).toBe(200);

    expect((await patch(token, { security: { mfaRequired: true } })).statusCode).toBe(200);
    const blocked = await call('GET', '/api/v1/tenants/current', member.token);
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().code).toBe('auth.mfa_enrollment_required');
    expect((await call('GET', SETTINGS, member.token)).json().code).toBe('auth.mfa_enrollment_required');

    // Enrolment is a `self` route: it works.
    const setup = await call('POST', `${AUTH}/mfa/totp/setup`, member.token);
    expect(setup.statusCode).toBe(200);
    const code = await generate({ secret: setup.json().secret, epoch: Math.floor(Date.now() / 1000) });
    expect((await call('POST', `${AUTH}/mfa/totp/enable`, member.token, { code })).statusCode).toBe(200);

    const allowed = await call('GET', '/api/v1/tenants/current', member.token);
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().id).toBe(tenant.id);
  });

  it('applies to the owner who turned it on too, and turning it off lifts it at once', async () => {
    const { tenant, token } = await owner();
    await patch(token, { security: { mfaRequired: true } });
    const blocked = await call('PATCH', SETTINGS, token, { security: { mfaRequired: false } });
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().code).toBe('auth.mfa_enrollment_required');
    // Another tenant's member is not affected.
    const elsewhere = await owner();
    expect((await call('GET', '/api/v1/tenants/current', elsewhere.token)).statusCode).toBe(200);

    await t.admin.query(`UPDATE tenants SET settings = jsonb_set(settings, '{security,mfaRequired}', 'false') WHERE id = $1`, [tenant.id]);
    expect((await call('GET', '/api/v1/tenants/current', token)).statusCode).toBe(200);
  });
});

describe('security.sessionMaxAgeMinutes', () => {
  it('ends sessions older than the limit in this tenant, while younger ones and other tenants are unaffected', async () => {
    const { tenant, token } = await owner();
    const old = await memberOf(tenant.id);
    const fresh = await memberOf(tenant.id);
    expect((await patch(token, { security: { sessionMaxAgeMinutes: 60 } })).statusCode).toBe(200);
    await t.admin.query(`UPDATE sessions SET created_at = now() - interval '61 minutes' WHERE id = $1`, [old.sessionId]);

    const cut = await call('GET', '/api/v1/tenants/current', old.token);
    expect(cut.statusCode).toBe(401);
    expect(cut.json().code).toBe('auth.unauthenticated');
    expect((await call('GET', '/api/v1/tenants/current', fresh.token)).statusCode).toBe(200);

    // It is the tenant's setting that cuts it: lifting the limit lets the same session in again.
    expect((await patch(token, { security: { sessionMaxAgeMinutes: null } })).statusCode).toBe(200);
    expect((await call('GET', '/api/v1/tenants/current', old.token)).statusCode).toBe(200);
  });

  it('keeps a session just under the limit', async () => {
    const { tenant, token } = await owner();
    const member = await memberOf(tenant.id);
    await patch(token, { security: { sessionMaxAgeMinutes: 60 } });
    await t.admin.query(`UPDATE sessions SET created_at = now() - interval '58 minutes' WHERE id = $1`, [member.sessionId]);
    expect((await call('GET', '/api/v1/tenants/current', member.token)).statusCode).toBe(200);
  });
});

describe('settings helpers', () => {
  it('knows time zones, currencies and locales from the runtime’s catalogs', () => {
    expect(isKnownTimeZone('Europe/Paris')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Europe/Atlantis')).toBe(false);
    expect(isKnownTimeZone('')).toBe(false);
    expect(isKnownCurrency('JPY')).toBe(true);
    expect(isKnownCurrency('JPX')).toBe(false);
    expect(canonicalLocale('zh-hant-tw')).toBe('zh-Hant-TW');
    expect(canonicalLocale('en-')).toBeNull();
  });

  it('reads a stored document with missing or mistyped keys as their defaults', () => {
    expect(resolveTenantSettings({})).toEqual(DEFAULT_TENANT_SETTINGS);
    expect(resolveTenantSettings(null)).toEqual(DEFAULT_TENANT_SETTINGS);
    expect(resolveTenantSettings({ timezone: 42, dateFormat: 'nope', security: { mfaRequired: 'yes', sessionMaxAgeMinutes: 30 } })).toEqual({
      ...DEFAULT_TENANT_SETTINGS,
      security: { ...DEFAULT_TENANT_SETTINGS.security, sessionMaxAgeMinutes: 30 },
    });
  });

  it('merges nested objects key by key and reports only changed keys', () => {
    const merged = mergeSettings({ locale: 'fr', security: { mfaRequired: true } }, { security: { sessionMaxAgeMinutes: 10 } });
    expect(merged).toEqual({ locale: 'fr', security: { mfaRequired: true, sessionMaxAgeMinutes: 10 } });
    const before = resolveTenantSettings({ locale: 'fr' });
    expect(settingsChanges(before, resolveTenantSettings(merged))).toEqual({
      before: { security: { mfaRequired: false, sessionMaxAgeMinutes: null } },
      after: { security: { mfaRequired: true, sessionMaxAgeMinutes: 10 } },
    });
    expect(settingsChanges(before, before)).toBeNull();
  });
});

describe('security matrix', () => {
  const getApp = () => t.app;
  const context = () => ({ app: t.app, admin: t.admin, victimTenantId });
  const signedIn = [...baseCases, ...sessionCases(getApp)];
  securityMatrix(context, { method: 'GET', url: SETTINGS }, [...signedIn, ...tenantCases(getApp)]);
  securityMatrix(context, { method: 'PATCH', url: SETTINGS, payload: { timezone: 'Europe/Paris' } }, [...signedIn, ...tenantCases(getApp, { lacking: 'member' })]);
});
