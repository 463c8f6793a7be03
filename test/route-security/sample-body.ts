/**
 * A small body that passes a route's JSON schema, derived from the schema itself, with every id field
 * pointing at the victim (`roleId` → the victim's custom role, `storeIds` → [store A], …). Another
 * tenant's owner sends it, so the matrix reaches past body validation into the lookups that must not
 * find the victim's rows — with `{}` most such requests would stop at a 400 and prove nothing.
 * Best effort: a property it cannot satisfy is left out (the request then answers 400, as with `{}`).
 */
import { uuidv7 } from '../../src/core/db/ids.js';
import { TEST_PASSWORD } from '../auth.js';
import type { Victim } from './victim.js';

type Schema = Record<string, unknown> & { $ref?: string; type?: string | string[] };

/** Strings tried against a `pattern` (codes, currencies, countries, phones, times, locales, slugs). */
const PATTERN_CANDIDATES = ['PROBE-1', 'Probe', 'probe-1', 'KES', 'KE', '+254712345678', '09:00', 'en-GB', 'Africa/Nairobi', 'A', '1'];

/** The victim id a field's name points at, if any. */
function victimIdFor(name: string, victim: Victim): string | undefined {
  const base = name.replace(/Ids?$/, '').toLowerCase();
  return { user: victim.target.id, role: victim.customRoleId, store: victim.storeA, tenant: victim.tenantId, invitation: victim.invitationId, session: victim.ownerSessionId, impersonation: victim.impersonationId }[base];
}

function sampleString(schema: Schema, name: string, victim: Victim): string | undefined {
  const minLength = (schema.minLength as number | undefined) ?? 0;
  const maxLength = (schema.maxLength as number | undefined) ?? Infinity;
  const fits = (value: string) => value.length >= minLength && value.length <= maxLength && (!schema.pattern || new RegExp(schema.pattern as string, 'u').test(value));
  switch (schema.format) {
    case 'uuid':
      return victimIdFor(name, victim) ?? uuidv7();
    case 'email':
      return `probe-${uuidv7().slice(-8)}@example.test`;
    case 'date-time':
      return new Date(Date.now() + 3600_000).toISOString();
    case 'uri':
      return 'https://example.test/probe';
  }
  // The fresh callers' real password, so a password-confirmed route goes on to its lookups.
  if ((name === 'password' || name === 'currentPassword') && fits(TEST_PASSWORD)) return TEST_PASSWORD;
  const padded = `Probe ${name} value`.padEnd(minLength, 'x');
  return [padded, ...PATTERN_CANDIDATES, 'x'.repeat(Math.max(minLength, 1))].find(fits);
}

/** A value for `schema`, or undefined when none could be made. */
export function sampleValue(schema: Schema, name: string, victim: Victim, schemas: Record<string, unknown>): unknown {
  if (schema.$ref) return sampleValue((schemas[schema.$ref.replace(/#.*$/, '')] ?? {}) as Schema, name, victim, schemas);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const options = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (options) {
    for (const option of options.filter((candidate) => candidate.type !== 'null')) {
      const value = sampleValue(option, name, victim, schemas);
      if (value !== undefined) return value;
    }
    return options.some((option) => option.type === 'null') ? null : undefined;
  }
  const type = Array.isArray(schema.type) ? schema.type.find((candidate) => candidate !== 'null') : schema.type;
  switch (type) {
    case 'string':
      return sampleString(schema, name, victim);
    case 'integer':
    case 'number':
      return (schema.minimum as number | undefined) ?? (schema.exclusiveMinimum !== undefined ? (schema.exclusiveMinimum as number) + 1 : 1);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const item = sampleValue((schema.items ?? {}) as Schema, name, victim, schemas);
      const count = Math.max((schema.minItems as number | undefined) ?? 0, 1);
      return item === undefined ? [] : Array.from({ length: count }, (_, index) => (index === 0 ? item : sampleValue((schema.items ?? {}) as Schema, name, victim, schemas)));
    }
    case 'object':
      return sampleObject(schema, victim, schemas);
    default:
      return undefined;
  }
}

function sampleObject(schema: Schema, victim: Victim, schemas: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const minProperties = (schema.minProperties as number | undefined) ?? 0;
  const body: Record<string, unknown> = {};
  // Required properties, optional ones that name the victim's rows (the point of the probe), then other
  // optional ones until minProperties is met.
  const namesVictim = (name: string) => victimIdFor(name, victim) !== undefined;
  const all = Object.keys(properties);
  const names = [...all.filter((name) => required.has(name) || namesVictim(name)), ...all.filter((name) => !required.has(name) && !namesVictim(name))];
  for (const name of names) {
    if (!required.has(name) && !namesVictim(name) && Object.keys(body).length >= minProperties) break;
    const value = sampleValue(properties[name]!, name, victim, schemas);
    if (value !== undefined) body[name] = value;
  }
  return body;
}

/** A body for a route with a body schema (`{}` when it has none or the schema is not an object). */
export function sampleBody(bodySchema: unknown, victim: Victim, schemas: Record<string, unknown>): unknown {
  if (!bodySchema) return {};
  const value = sampleValue(bodySchema as Schema, 'body', victim, schemas);
  return value === undefined || value === null ? {} : value;
}
