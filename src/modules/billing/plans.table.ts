/**
 * Plans: what a tenant can subscribe to. A global table (no tenant_id, DESIGN §5), managed by platform
 * administrators. Prices are integer minor units of `currency` (ISO 4217); a cycle whose price is null is
 * not offered. An archived plan keeps its subscribers, and nobody new can choose it.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, check, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, idColumn, updatedAt } from '../../core/db/columns.js';
import type { PlanLimits } from './features.js';

export const plans = pgTable(
  'plans',
  {
    id: idColumn().primaryKey(),
    /** Stable machine name (`free`, `pro`), lowercase; what configuration and code refer to. */
    code: text('code').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    currency: text('currency').notNull(),
    monthlyPrice: bigint('monthly_price', { mode: 'number' }),
    yearlyPrice: bigint('yearly_price', { mode: 'number' }),
    trialDays: integer('trial_days').notNull().default(0),
    limits: jsonb('limits').$type<PlanLimits>().notNull(),
    features: text('features').array().notNull().default(sql`'{}'::text[]`),
    isPublic: boolean('is_public').notNull().default(true),
    sortOrder: integer('sort_order').notNull().default(0),
    archivedAt: timestamp('archived_at', { withTimezone: true, mode: 'date' }),
    /** A new value of `entitlements_revision_seq` on every change (trigger): part of the entitlements cache key. */
    revision: bigint('revision', { mode: 'number' }).notNull().default(sql`nextval('entitlements_revision_seq')`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('plans_code_key').on(t.code),
    check('plans_code_format', sql`${t.code} ~ '^[a-z0-9][a-z0-9_-]{0,39}$'`),
    check('plans_name_length', sql`char_length(${t.name}) between 1 and 100`),
    check('plans_currency_format', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('plans_prices_check', sql`coalesce(${t.monthlyPrice}, 0) >= 0 and coalesce(${t.yearlyPrice}, 0) >= 0`),
    check('plans_trial_days_check', sql`${t.trialDays} between 0 and 365`),
  ],
);
