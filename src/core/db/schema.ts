/** Every table of the core, for drizzle-kit and for code that needs the whole schema. */
export * from '../tenancy/tenancy.table.js';
export * from '../audit/audit.table.js';
export * from '../events/events.table.js';
export * from '../http/idempotency.table.js';
export * from '../mail/mail.table.js';
