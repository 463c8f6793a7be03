/**
 * Tenant settings: what they are, their defaults, and how a change is validated and merged.
 *
 * `tenants.settings` (jsonb) stores only the keys a tenant has set; reads fill in the defaults, so a
 * default changed later reaches every tenant that never chose otherwise. Authentication reads
 * `security.mfaRequired`, `security.sessionMaxAgeMinutes` and `security.allowImpersonation` straight from
 * the column (session_actor), which is why those names and shapes are fixed.
 *
 * Formats are enums of display patterns rather than free-form strings, so every client renders them the
 * same way:
 * - `dateFormat`: `YYYY-MM-DD` (ISO 8601, default), `DD/MM/YYYY`, `MM/DD/YYYY`, `DD.MM.YYYY`,
 *   `DD-MM-YYYY`, `YYYY/MM/DD`, `D MMM YYYY`, `MMM D, YYYY` (tokens as in Unicode/moment: `MMM` is the
 *   short month name in the tenant's locale).
 * - `numberFormat`: one thousand two hundred thirty-four and 56 hundredths as written in that style —
 *   `1,234.56` (default), `1.234,56`, `1 234,56`, `1'234.56`, `1234.56`.
 */
import { Type, type Static } from 'typebox';
import { AppError, type FieldError } from '../../core/http/errors.js';

export const DATE_FORMATS = ['YYYY-MM-DD', 'DD/MM/YYYY', 'MM/DD/YYYY', 'DD.MM.YYYY', 'DD-MM-YYYY', 'YYYY/MM/DD', 'D MMM YYYY', 'MMM D, YYYY'] as const;
export const NUMBER_FORMATS = ['1,234.56', '1.234,56', '1 234,56', "1'234.56", '1234.56'] as const;

export const SESSION_MAX_AGE_MINUTES = { min: 5, max: 525_600 } as const;
export const MAX_ALLOWED_EMAIL_DOMAINS = 50;

/** A DNS name of two or more labels (IDNs in their `xn--` form); case is folded by the service. */
const DOMAIN_PATTERN = '^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})$';

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(schema: T, description: string) =>
  Type.Union([schema, Type.Null()], { description });

const fields = {
  locale: Type.String({ minLength: 2, maxLength: 35, description: 'BCP 47 language tag, e.g. `en`, `pt-BR`; stored in canonical case (`en-us` → `en-US`).' }),
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. `Europe/Paris`, or `UTC`.' }),
  currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code, e.g. `USD`, `KES`.' }),
  dateFormat: Type.Enum(DATE_FORMATS, { description: 'How dates are shown: one of the listed patterns (`MMM` is the short month name in the tenant’s locale).' }),
  numberFormat: Type.Enum(NUMBER_FORMATS, { description: 'Grouping and decimal separators, shown as 1234.56 written in that style.' }),
};

const brandingFields = {
  primaryColor: Nullable(Type.String({ pattern: '^#[0-9A-Fa-f]{6}$' }), 'Brand colour as `#RRGGBB` (stored lowercase); null: the product’s default.'),
  logoFileId: Nullable(Type.String({ format: 'uuid' }), 'The uploaded file holding the logo; null: none.'),
};

const securityFields = {
  mfaRequired: Type.Boolean({ description: 'Members without two-factor authentication may only set it up until they do (403 `auth.mfa_enrollment_required`).' }),
  sessionMaxAgeMinutes: Nullable(
    Type.Integer({ minimum: SESSION_MAX_AGE_MINUTES.min, maximum: SESSION_MAX_AGE_MINUTES.max }),
    `Sessions older than this (${SESSION_MAX_AGE_MINUTES.min}–${SESSION_MAX_AGE_MINUTES.max} minutes) stop working in this tenant; null: the platform’s lifetime.`,
  ),
  allowedEmailDomains: Type.Array(Type.String({ pattern: DOMAIN_PATTERN, maxLength: 253 }), {
    maxItems: MAX_ALLOWED_EMAIL_DOMAINS,
    description: `Invitations go only to addresses at these domains (lowercase, at most ${MAX_ALLOWED_EMAIL_DOMAINS}); empty: any domain.`,
  }),
  allowImpersonation: Type.Boolean({
    description:
      'Whether platform administrators may act as a member of this tenant (governed impersonation: a reason, at most 60 minutes, written to this tenant’s audit trail); false: refused with 403 `impersonation.forbidden_by_tenant`. Turning it off also cuts running impersonations off at their next request.',
  }),
};

export const TenantSettingsSchema = Type.Object(
  {
    ...fields,
    branding: Type.Object(brandingFields, { additionalProperties: false }),
    security: Type.Object(securityFields, { additionalProperties: false }),
  },
  { $id: 'TenantSettings', additionalProperties: false, description: 'Every setting of the tenant, defaults filled in.' },
);
export type TenantSettings = Static<typeof TenantSettingsSchema>;

const partial = <T extends Record<string, Parameters<typeof Type.Optional>[0]>>(properties: T) =>
  Object.fromEntries(Object.entries(properties).map(([name, schema]) => [name, Type.Optional(schema)])) as { [K in keyof T]: ReturnType<typeof Type.Optional<T[K]>> };

export const TenantSettingsPatchSchema = Type.Object(
  {
    ...partial(fields),
    branding: Type.Optional(Type.Object(partial(brandingFields), { additionalProperties: false })),
    security: Type.Optional(Type.Object(partial(securityFields), { additionalProperties: false })),
  },
  {
    additionalProperties: false,
    description: 'The settings to change; keys left out keep their value, and `branding` and `security` are merged key by key.',
  },
);
export type TenantSettingsPatch = Static<typeof TenantSettingsPatchSchema>;

export const DEFAULT_TENANT_SETTINGS: TenantSettings = {
  locale: 'en',
  timezone: 'UTC',
  currency: 'USD',
  dateFormat: 'YYYY-MM-DD',
  numberFormat: '1,234.56',
  branding: { primaryColor: null, logoFileId: null },
  security: { mfaRequired: false, sessionMaxAgeMinutes: null, allowedEmailDomains: [], allowImpersonation: true },
};

let timeZones: ReadonlySet<string> | undefined;
let currencies: ReadonlySet<string> | undefined;

/** IANA spelling: `Area/Location[/Sub]`, each part capitalised (`America/Port-au-Prince`, `Etc/GMT+5`). */
const IANA_ZONE_SHAPE = /^[A-Z][A-Za-z0-9_+-]*(?:\/[A-Z][A-Za-z0-9_+-]*){0,2}$/;

/**
 * Whether `zone` is an IANA time zone this runtime knows: one of `Intl.supportedValuesOf('timeZone')`,
 * `UTC`, or an IANA link to one of them in its exact spelling. The links matter because ICU lists some
 * zones only under their older name: Node 20 has `Asia/Calcutta` but not `Asia/Kolkata`.
 */
export function isKnownTimeZone(zone: string): boolean {
  timeZones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  if (timeZones.has(zone)) return true;
  if (!IANA_ZONE_SHAPE.test(zone)) return false;
  try {
    return timeZones.has(new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone);
  } catch {
    return false;
  }
}

/** Whether `code` is an ISO 4217 currency this runtime knows. */
export function isKnownCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

/** The canonical form of a BCP 47 language tag (`en-us` → `en-US`), or null when it is not one. */
export function canonicalLocale(tag: string): string | null {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical ?? null;
  } catch {
    return null;
  }
}

type Stored = Record<string, unknown>;

const isObject = (value: unknown): value is Stored => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The stored value of a key when it has the default's type (anything else reads as unset). */
function pick<T>(stored: Stored, key: string, fallback: T, accepts: (value: unknown) => boolean): T {
  return key in stored && accepts(stored[key]) ? (stored[key] as T) : fallback;
}

const isString = (value: unknown) => typeof value === 'string';
const isStringOrNull = (value: unknown) => value === null || typeof value === 'string';

/** The full settings of a tenant from its stored document: every key present, defaults where unset. */
export function resolveTenantSettings(stored: unknown): TenantSettings {
  const doc = isObject(stored) ? stored : {};
  const branding = isObject(doc.branding) ? doc.branding : {};
  const security = isObject(doc.security) ? doc.security : {};
  const defaults = DEFAULT_TENANT_SETTINGS;
  return {
    locale: pick(doc, 'locale', defaults.locale, isString),
    timezone: pick(doc, 'timezone', defaults.timezone, isString),
    currency: pick(doc, 'currency', defaults.currency, isString),
    dateFormat: pick(doc, 'dateFormat', defaults.dateFormat, (value) => (DATE_FORMATS as readonly unknown[]).includes(value)),
    numberFormat: pick(doc, 'numberFormat', defaults.numberFormat, (value) => (NUMBER_FORMATS as readonly unknown[]).includes(value)),
    branding: {
      primaryColor: pick(branding, 'primaryColor', defaults.branding.primaryColor, isStringOrNull),
      logoFileId: pick(branding, 'logoFileId', defaults.branding.logoFileId, isStringOrNull),
    },
    security: {
      mfaRequired: pick(security, 'mfaRequired', defaults.security.mfaRequired, (value) => typeof value === 'boolean'),
      sessionMaxAgeMinutes: pick(security, 'sessionMaxAgeMinutes', defaults.security.sessionMaxAgeMinutes, (value) => value === null || Number.isInteger(value)),
      allowedEmailDomains: pick(security, 'allowedEmailDomains', defaults.security.allowedEmailDomains, (value) => Array.isArray(value) && value.every(isString)),
      allowImpersonation: pick(security, 'allowImpersonation', defaults.security.allowImpersonation, (value) => typeof value === 'boolean'),
    },
  };
}

/**
 * Checks what the schema cannot (the runtime's time zone, currency and locale catalogs) and normalises a
 * change: canonical locale, lowercase colour, lowercase and de-duplicated domains. Every failing field is
 * reported at once as 400 `request.validation_failed`, each by its JSON Pointer (`/timezone`).
 */
export function normalizeSettingsPatch(patch: TenantSettingsPatch): TenantSettingsPatch {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ in: 'body', field, message });
  const normalized: TenantSettingsPatch = { ...patch };

  if (patch.locale !== undefined) {
    const canonical = canonicalLocale(patch.locale);
    if (canonical === null) fail('/locale', 'must be a BCP 47 language tag, e.g. en or pt-BR');
    else normalized.locale = canonical;
  }
  if (patch.timezone !== undefined && !isKnownTimeZone(patch.timezone)) fail('/timezone', 'must be an IANA time zone, e.g. Europe/Paris, or UTC');
  if (patch.currency !== undefined && !isKnownCurrency(patch.currency)) fail('/currency', 'must be an ISO 4217 currency code, e.g. USD');
  if (patch.branding) {
    normalized.branding = { ...patch.branding };
    if (typeof patch.branding.primaryColor === 'string') normalized.branding.primaryColor = patch.branding.primaryColor.toLowerCase();
    if (typeof patch.branding.logoFileId === 'string') normalized.branding.logoFileId = patch.branding.logoFileId.toLowerCase();
  }
  if (patch.security) {
    normalized.security = { ...patch.security };
    if (patch.security.allowedEmailDomains) normalized.security.allowedEmailDomains = [...new Set(patch.security.allowedEmailDomains.map((domain) => domain.toLowerCase()))];
  }

  if (errors.length > 0) {
    throw new AppError('request.validation_failed', `The request is invalid: ${errors.map((e) => `${e.in}${e.field} ${e.message}`).join('; ')}.`, { errors });
  }
  return normalized;
}

/** The stored document after a change: top-level keys replaced, `branding` and `security` merged key by key. */
export function mergeSettings(stored: unknown, patch: TenantSettingsPatch): Stored {
  const doc: Stored = isObject(stored) ? { ...stored } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'branding' || key === 'security') doc[key] = { ...(isObject(doc[key]) ? doc[key] : {}), ...stripUndefined(value as Stored) };
    else doc[key] = value;
  }
  return doc;
}

function stripUndefined(value: Stored): Stored {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined));
}

/**
 * The settings that differ between two resolved versions, as partial documents (for the audit row and
 * the event): `{ before: { timezone: 'UTC' }, after: { timezone: 'Europe/Paris' } }`.
 */
export function settingsChanges(before: TenantSettings, after: TenantSettings): { before: Stored; after: Stored } | null {
  const changedBefore: Stored = {};
  const changedAfter: Stored = {};
  for (const key of Object.keys(after) as Array<keyof TenantSettings>) {
    const was: unknown = before[key];
    const now: unknown = after[key];
    if (isObject(now) && isObject(was)) {
      for (const inner of Object.keys(now)) {
        if (JSON.stringify(was[inner]) === JSON.stringify(now[inner])) continue;
        ((changedBefore[key] ??= {}) as Stored)[inner] = was[inner];
        ((changedAfter[key] ??= {}) as Stored)[inner] = now[inner];
      }
    } else if (JSON.stringify(was) !== JSON.stringify(now)) {
      changedBefore[key] = was;
      changedAfter[key] = now;
    }
  }
  return Object.keys(changedAfter).length > 0 ? { before: changedBefore, after: changedAfter } : null;
}
