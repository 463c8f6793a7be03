import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { twoTenants } from '../../../test/factories.js';
import { executionContext } from '../context.js';
import { PG, pgErrorCode } from '../db/errors.js';
import { uuidv7 } from '../db/ids.js';
import { audit } from './audit.js';
import { auditEvents } from './audit.table.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

/** The stored row, read past RLS. */
const readAuditRow = async (id: string) => (await t.admin.query(`SELECT * FROM audit_events WHERE id = $1`, [id]))[0];

describe('audit.record', () => {
  it('writes a row for the tenant of the unit of work with everything that was given', async () => {
    const { a } = await twoTenants(t.platform.db);
    const targetId = uuidv7();
    const id = await t.platform.db.withTenant(a.tenant.id, (tx) =>
      audit.record(tx, {
        actor: { type: 'user', id: a.user.id },
        action: 'store.renamed',
        target: { type: 'store', id: targetId },
        before: { name: 'Old' },
        after: { name: 'New', tags: ['x'] },
        ip: '203.0.113.9',
        userAgent: 'vitest/4',
        requestId: 'req-1',
      }),
    );
    const row = await readAuditRow(id);
    expect(row).toMatchObject({
      tenant_id: a.tenant.id,
      id,
      actor_type: 'user',
      actor_id: a.user.id,
      action: 'store.renamed',
      target_type: 'store',
      target_id: targetId,
      before: { name: 'Old' },
      after: { name: 'New', tags: ['x'] },
      ip: '203.0.113.9',
      user_agent: 'vitest/4',
      request_id: 'req-1',
    });
    expect(row!.occurred_at).toBeInstanceOf(Date);
  });

  it('defaults the request id to the current request and leaves optional fields null', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await executionContext.run({ requestId: 'req-from-context' }, () =>
      t.platform.db.withTenant(a.tenant.id, (tx) => audit.record(tx, { actor: { type: 'system' }, action: 'tenant.swept' })),
    );
    expect(await readAuditRow(id)).toMatchObject({
      tenant_id: a.tenant.id,
      actor_type: 'system',
      actor_id: null,
      target_type: null,
      target_id: null,
      before: null,
      after: null,
      ip: null,
      user_agent: null,
      request_id: 'req-from-context',
    });
  });

  it('leaves no row when the transaction fails after recording', async () => {
    const { a } = await twoTenants(t.platform.db);
    let recorded: string | undefined;
    const error = await t.platform.db
      .withTenant(a.tenant.id, async (tx) => {
        recorded = await audit.record(tx, { actor: { type: 'user', id: a.user.id }, action: 'store.deleted' });
        throw new Error('the change failed');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('the change failed');
    expect(recorded).toBeDefined(); // the insert itself succeeded inside the transaction
    expect(await readAuditRow(recorded!)).toBeUndefined();
  });

  it('fails without a tenant context and writes nothing', async () => {
    const action = `orphan.${uuidv7()}`;
    const error = await t.platform.db.transaction({}, (tx) => audit.record(tx, { actor: { type: 'system' }, action })).catch((e: unknown) => e);
    expect([PG.notNullViolation, PG.insufficientPrivilege]).toContain(pgErrorCode(error));
    expect(await t.admin.query(`SELECT 1 FROM audit_events WHERE action = $1`, [action])).toEqual([]);
  });
});

describe('audit rows', () => {
  async function recordFor(tenantId: string, action = 'member.invited') {
    return t.platform.db.withTenant(tenantId, (tx) => audit.record(tx, { actor: { type: 'system' }, action }));
  }

  it('cannot be updated, deleted or truncated by the app role, even by their own tenant', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await recordFor(a.tenant.id);
    const attempts = {
      update: (tenantId: string) => t.platform.db.withTenant(tenantId, (tx) => tx.update(auditEvents).set({ action: 'rewritten' }).where(eq(auditEvents.id, id))),
      delete: (tenantId: string) => t.platform.db.withTenant(tenantId, (tx) => tx.delete(auditEvents).where(eq(auditEvents.id, id))),
      truncate: (tenantId: string) => t.platform.db.withTenant(tenantId, (tx) => tx.execute(sql`TRUNCATE audit_events`)),
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      const error = await attempt(a.tenant.id).catch((e: unknown) => e);
      expect({ name, code: pgErrorCode(error) }).toEqual({ name, code: PG.insufficientPrivilege });
    }
    expect(await readAuditRow(id)).toMatchObject({ action: 'member.invited' });
  });

  it('of tenant A are invisible to tenant B', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const id = await recordFor(a.tenant.id, 'secret.rotated');
    await recordFor(b.tenant.id, 'secret.rotated');

    const seenByB = await t.platform.db.withTenant(b.tenant.id, (tx) => tx.select().from(auditEvents));
    expect(seenByB.length).toBeGreaterThan(0);
    expect(seenByB.every((row) => row.tenantId === b.tenant.id)).toBe(true);
    const lookupByB = await t.platform.db.withTenant(b.tenant.id, (tx) => tx.select().from(auditEvents).where(eq(auditEvents.id, id)));
    expect(lookupByB).toEqual([]);

    const seenByA = await t.platform.db.withTenant(a.tenant.id, (tx) => tx.select().from(auditEvents).where(eq(auditEvents.id, id)));
    expect(seenByA.map((row) => row.tenantId)).toEqual([a.tenant.id]);
  });

  it('cannot be written into another tenant', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const error = await t.platform.db
      .withTenant(b.tenant.id, (tx) => tx.insert(auditEvents).values({ tenantId: a.tenant.id, actorType: 'system', action: 'forged' }))
      .catch((e: unknown) => e);
    expect(pgErrorCode(error)).toBe(PG.insufficientPrivilege);
    expect(await t.admin.query(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND action = 'forged'`, [a.tenant.id])).toEqual([]);
  });
});

describe('audit.recordWithEvent', () => {
  it('writes the audit row and the outbox event together, in the unit of work’s tenant, in one statement', async () => {
    const { a } = await twoTenants(t.platform.db);
    const statements: string[] = [];
    await t.platform.db.withTenant(a.tenant.id, async (tx) => {
      const session = tx as unknown as { session: { prepareQuery: (query: { sql: string }, ...rest: unknown[]) => unknown } };
      const prepare = session.session.prepareQuery.bind(session.session);
      session.session.prepareQuery = (query, ...rest) => {
        statements.push(query.sql);
        return prepare(query, ...rest);
      };
      await audit.recordWithEvent(
        tx,
        { actor: { type: 'user', id: a.user.id }, action: 'thing.changed', target: { type: 'thing', id: 't1' }, after: { x: 1 } },
        { type: 'thing.changed', tenantId: a.tenant.id, payload: { x: 1 } },
      );
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^with "audited" as \(insert into "audit_events"/i);
    const audits = await t.admin.query(`SELECT tenant_id, action FROM audit_events WHERE tenant_id = $1 AND action = 'thing.changed'`, [a.tenant.id]);
    const events = await t.admin.query(`SELECT tenant_id, type, payload FROM outbox_events WHERE tenant_id = $1 AND type = 'thing.changed'`, [a.tenant.id]);
    expect(audits).toEqual([{ tenant_id: a.tenant.id, action: 'thing.changed' }]);
    expect(events).toEqual([{ tenant_id: a.tenant.id, type: 'thing.changed', payload: { x: 1 } }]);
  });

  it('writes neither when the event names another tenant (RLS refuses the statement as a whole)', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    await expect(
      t.platform.db.withTenant(a.tenant.id, (tx) =>
        audit.recordWithEvent(tx, { actor: { type: 'system' }, action: 'thing.crossed' }, { type: 'thing.crossed', tenantId: b.tenant.id, payload: {} }),
      ),
    ).rejects.toThrow();
    expect(await t.admin.query(`SELECT 1 FROM audit_events WHERE action = 'thing.crossed'`)).toEqual([]);
    expect(await t.admin.query(`SELECT 1 FROM outbox_events WHERE type = 'thing.crossed'`)).toEqual([]);
  });
});
