import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestApp, type TestApp } from '../../../test/harness.js';
import { twoTenants } from '../../../test/factories.js';
import { audit } from '../audit/audit.js';
import type { Tx } from '../db/database.js';
import { JOB_SCHEMA } from '../db/roles.js';
import { consumerQueue, emit, EventBus, type DomainEvent } from './events.js';
import { outboxEvents } from './events.table.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const onPostgres = !!process.env.DATABASE_URL;
const unique = () => randomBytes(4).toString('hex');

/** Jobs enqueued for a consumer, per event id, read past RLS and past the JobQueue API. */
async function countJobsPerEvent(consumer: string): Promise<Map<string, number>> {
  const rows = await t.admin.query<{ event_id: string; n: number }>(
    `SELECT data->>'id' AS event_id, count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE name = $1 GROUP BY 1`,
    [consumerQueue(consumer)],
  );
  return new Map(rows.map((row) => [row.event_id, row.n]));
}

const readOutboxRow = async (id: string) => (await t.admin.query<{ published_at: Date | null; attempts: number }>(`SELECT published_at, attempts FROM outbox_events WHERE id = $1`, [id]))[0];

/** Relays until the outbox is empty, so a test starts from a clean slate. */
async function drain(bus: EventBus): Promise<number> {
  let total = 0;
  for (let claimed = await bus.relayOnce(); claimed > 0; claimed = await bus.relayOnce()) total += claimed;
  return total;
}

/** A promise and the function that settles it: holds a transaction open until the test says so. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('the outbox relay', () => {
  let bus: EventBus;
  let consumer: string;

  beforeEach(async () => {
    // A bus that is never started: each test drives relayOnce itself, and jobs stay in the queue to be
    // counted. Its consumer listens to everything, so every relayed event is visible as a job.
    consumer = `probe-${unique()}`;
    bus = new EventBus(t.platform.db, t.platform.jobs);
    bus.subscribe(consumer, '*', async () => undefined);
    await drain(bus);
  });

  it('publishes an event once its transaction has committed, and only once', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: { n: 1 } }));
    expect(await readOutboxRow(id)).toMatchObject({ published_at: null, attempts: 0 });

    expect(await bus.relayOnce()).toBe(1);
    expect(await bus.relayOnce()).toBe(0);
    expect((await countJobsPerEvent(consumer)).get(id)).toBe(1);
    expect((await readOutboxRow(id))?.published_at).toBeInstanceOf(Date);

    const [job] = await t.admin.query<{ data: DomainEvent }>(`SELECT data FROM ${JOB_SCHEMA}.job WHERE name = $1 AND data->>'id' = $2`, [consumerQueue(consumer), id]);
    expect(job!.data).toEqual({ id, type: 'thing.created', tenantId: a.tenant.id, payload: { n: 1 }, occurredAt: expect.any(String) });
  });

  it('never sees an event whose transaction rolled back', async () => {
    const { a } = await twoTenants(t.platform.db);
    let id: string | undefined;
    await t.platform.db
      .withTenant(a.tenant.id, async (tx) => {
        id = await emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: {} });
        throw new Error('rollback');
      })
      .catch(() => undefined);
    expect(id).toBeDefined();
    expect(await readOutboxRow(id!)).toBeUndefined();
    expect(await bus.relayOnce()).toBe(0);
    expect((await countJobsPerEvent(consumer)).has(id!)).toBe(false);
  });

  it('publishes an event that sorts before already-published ones (no high-water mark to skip it)', async () => {
    const { a } = await twoTenants(t.platform.db);
    const later = await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: { order: 2 } }));
    expect(await bus.relayOnce()).toBe(1);
    // What a slow transaction looks like once it commits: created (and ids) earlier than the above.
    const earlier = '00000000-0000-7000-8000-000000000001';
    await t.platform.db.withTenant(a.tenant.id, (tx) =>
      tx.insert(outboxEvents).values({ tenantId: a.tenant.id, id: earlier, type: 'thing.created', payload: { order: 1 }, createdAt: new Date(Date.now() - 60_000) }),
    );
    expect(await bus.relayOnce()).toBe(1);
    const jobs = await countJobsPerEvent(consumer);
    expect([jobs.get(later), jobs.get(earlier)]).toEqual([1, 1]);
  });

  it('hands events to consumers that were subscribed but never started (their queue is created first)', async () => {
    const { a } = await twoTenants(t.platform.db);
    const late = `late-${unique()}`;
    bus.subscribe(late, ['thing.created'], async () => undefined);
    const id = await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: {} }));
    expect(await bus.relayOnce()).toBe(1);
    expect((await countJobsPerEvent(late)).get(id)).toBe(1);
  });

  it('releases claimed events when the relaying transaction fails, and publishes them later', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: {} }));
    // A relay that claims and then crashes before committing (here: throws).
    const error = await t.platform.db
      .transaction({}, async (tx) => {
        const claimed = await tx.execute<{ id: string }>(sql`SELECT id FROM claim_outbox_events(100)`);
        expect(claimed.rows.map((row) => row.id)).toContain(id);
        throw new Error('relay crashed');
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('relay crashed');
    expect(await readOutboxRow(id)).toMatchObject({ published_at: null, attempts: 0 });

    expect(await bus.relayOnce()).toBe(1);
    expect((await countJobsPerEvent(consumer)).get(id)).toBe(1);
  });

  it('keeps the outbox invisible to units of work without a tenant (only the claim function crosses tenants)', async () => {
    const { a } = await twoTenants(t.platform.db);
    await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: {} }));
    const seenWithoutContext = await t.platform.db.transaction({}, (tx) => tx.select().from(outboxEvents));
    expect(seenWithoutContext).toEqual([]);
    expect(await bus.relayOnce()).toBe(1);
  });

  // On PostgreSQL the two relays overlap (SKIP LOCKED keeps them apart); on PGlite they take turns.
  it('never publishes the same event twice when two relays run at once', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const tenant = i % 2 === 0 ? a.tenant : b.tenant;
      ids.push(await t.platform.db.withTenant(tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: tenant.id, payload: { i } })));
    }
    // A second process's bus: same consumers, its own relay (the in-process guard does not apply).
    const otherBus = new EventBus(t.platform.db, t.platform.jobs);
    otherBus.subscribe(consumer, '*', async () => undefined);
    const relayAll = async (relay: EventBus) => {
      let total = 0;
      for (let claimed = await relay.relayOnce(5); claimed > 0; claimed = await relay.relayOnce(5)) total += claimed;
      return total;
    };
    const [mine, theirs] = await Promise.all([relayAll(bus), relayAll(otherBus)]);
    expect(mine + theirs).toBe(ids.length);
    const jobs = await countJobsPerEvent(consumer);
    expect(ids.filter((id) => jobs.get(id) !== 1)).toEqual([]);
  });

  describe.runIf(onPostgres)('with concurrent transactions (PostgreSQL)', () => {
    it('delivers events committed out of order', async () => {
      const { a, b } = await twoTenants(t.platform.db);
      const hold = gate();
      let firstId: string | undefined;
      const emitted = gate();
      // tx1 starts first and emits first, but commits last.
      const tx1 = t.platform.db.withTenant(a.tenant.id, async (tx) => {
        firstId = await emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: { tx: 1 } });
        emitted.open();
        await hold.promise;
      });
      await emitted.promise;
      const secondId = await t.platform.db.withTenant(b.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: b.tenant.id, payload: { tx: 2 } }));
      expect(firstId! < secondId).toBe(true);

      expect(await bus.relayOnce()).toBe(1); // only tx2's event is committed
      expect((await countJobsPerEvent(consumer)).has(firstId!)).toBe(false);

      hold.open();
      await tx1;
      expect(await bus.relayOnce()).toBe(1);
      const jobs = await countJobsPerEvent(consumer);
      expect([jobs.get(firstId!), jobs.get(secondId)]).toEqual([1, 1]);
    });

    it('skips events another relay has claimed and not yet committed', async () => {
      const { a } = await twoTenants(t.platform.db);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await t.platform.db.withTenant(a.tenant.id, (tx) => emit(tx, { type: 'thing.created', tenantId: a.tenant.id, payload: { i } })));

      const hold = gate();
      const claimedByOther = gate();
      let otherClaim: string[] = [];
      // Another relay's transaction: claims the three oldest and stays open.
      const other = t.platform.db.transaction({}, async (tx) => {
        otherClaim = (await tx.execute<{ id: string }>(sql`SELECT id FROM claim_outbox_events(3)`)).rows.map((row) => row.id);
        claimedByOther.open();
        await hold.promise;
      });
      await claimedByOther.promise;
      expect(otherClaim.sort()).toEqual(ids.slice(0, 3));

      expect(await bus.relayOnce()).toBe(3); // the other three, without waiting for the lock
      hold.open();
      await other;
      const jobs = await countJobsPerEvent(consumer);
      expect(ids.map((id) => jobs.get(id) ?? 0)).toEqual([0, 0, 0, 1, 1, 1]);
      expect(await bus.relayOnce()).toBe(0); // the other relay published its three
    });
  });
});

describe('consumers on a running bus', () => {
  let bus: EventBus;
  const recorder = `recorder-${unique()}`;
  const flaky = `flaky-${unique()}`;
  const relayErrors: unknown[] = [];

  interface Seen {
    event: DomainEvent;
    context: string | null;
    memberTenants: string[];
    tenants: string[];
  }
  const seenByRecorder: Seen[] = [];
  const flakyAttempts = new Map<string, number>();

  const inspect = async (event: DomainEvent, tx: Tx): Promise<Seen> => {
    const [context] = (await tx.execute<{ tenant: string | null }>(sql`SELECT current_setting('app.tenant_id', true) AS tenant`)).rows;
    const members = await tx.execute<{ tenant_id: string }>(sql`SELECT DISTINCT tenant_id FROM memberships`);
    const tenants = await tx.execute<{ id: string }>(sql`SELECT id FROM tenants`);
    return { event, context: context!.tenant, memberTenants: members.rows.map((r) => r.tenant_id), tenants: tenants.rows.map((r) => r.id) };
  };

  /** The consumer's effect: an audit row in the event's tenant, written in the delivery transaction. */
  const recordEffect = (tx: Tx, event: DomainEvent, consumer: string) =>
    audit.record(tx, { actor: { type: 'system' }, action: `${consumer}.handled`, target: { type: 'event', id: event.id } });

  const countEffects = async (consumer: string, eventId: string) =>
    (await t.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE action = $1 AND target_id = $2`, [`${consumer}.handled`, eventId]))[0]!.n;

  beforeAll(async () => {
    bus = new EventBus(t.platform.db, t.platform.jobs);
    bus.subscribe(recorder, ['order.placed'], async (event, tx) => {
      seenByRecorder.push(await inspect(event, tx));
      await recordEffect(tx, event, recorder);
    });
    bus.subscribe(flaky, ['order.placed'], async (event, tx) => {
      const attempt = (flakyAttempts.get(event.id) ?? 0) + 1;
      flakyAttempts.set(event.id, attempt);
      await recordEffect(tx, event, flaky);
      // The effect above rolls back with the failure: the retry must write it again, once.
      if (attempt === 1) throw new Error('downstream unavailable');
    });
    // Short retry delay for the test; start() keeps a queue that is already defined.
    await t.platform.jobs.define({ name: consumerQueue(flaky), retryLimit: 3, retryDelaySeconds: 1 });
    await bus.start(50, (error) => relayErrors.push(error));
  });
  afterAll(() => bus?.stop());

  async function placeOrder(tenantId: string): Promise<string> {
    return t.platform.db.withTenant(tenantId, (tx) => emit(tx, { type: 'order.placed', tenantId, payload: { total: 1200, currency: 'KES' } }));
  }

  const waitForEffect = (consumer: string, eventId: string) =>
    vi.waitFor(
      async () => {
        if ((await countEffects(consumer, eventId)) === 0) throw new Error(`${consumer} has not handled ${eventId} yet`);
      },
      { timeout: 20_000, interval: 50 },
    );

  it('delivers a committed event to its consumer exactly once, inside the event tenant', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const id = await placeOrder(a.tenant.id);
    await waitForEffect(recorder, id);

    expect(await countEffects(recorder, id)).toBe(1);
    expect(await bus.hasHandled(recorder, a.tenant.id, id)).toBe(true);
    expect(await bus.hasHandled(recorder, b.tenant.id, id)).toBe(false); // receipts are tenant rows too
    const deliveries = seenByRecorder.filter((seen) => seen.event.id === id);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toEqual({
      event: { id, type: 'order.placed', tenantId: a.tenant.id, payload: { total: 1200, currency: 'KES' }, occurredAt: expect.any(String) },
      context: a.tenant.id,
      memberTenants: [a.tenant.id],
      tenants: [a.tenant.id],
    });
    expect((await countJobsPerEvent(recorder)).get(id)).toBe(1);
    expect(relayErrors).toEqual([]);
  });

  it('handles a redelivered event once (the receipt makes the consumer idempotent)', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await placeOrder(a.tenant.id);
    await waitForEffect(recorder, id);
    const original = seenByRecorder.find((seen) => seen.event.id === id)!.event;

    // The same event again, as pg-boss would redeliver it after a lost acknowledgement.
    const jobId = await t.platform.jobs.send(consumerQueue(recorder), original);
    await vi.waitFor(
      async () => {
        const job = await t.platform.jobs.getJob(consumerQueue(recorder), jobId!);
        if (job?.state !== 'completed') throw new Error(`redelivery is ${job?.state}`);
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(await countEffects(recorder, id)).toBe(1);
    expect(seenByRecorder.filter((seen) => seen.event.id === id)).toHaveLength(1);
  });

  it('retries a consumer that throws, and its effect lands once', async () => {
    const { a } = await twoTenants(t.platform.db);
    const id = await placeOrder(a.tenant.id);
    await waitForEffect(flaky, id);

    expect(flakyAttempts.get(id)).toBe(2);
    expect(await countEffects(flaky, id)).toBe(1);
    expect(await bus.hasHandled(flaky, a.tenant.id, id)).toBe(true);
    // The job that failed once is the one that completed (a retry, not a second job).
    const job = await vi.waitFor(async () => {
      const rows = await t.admin.query<{ state: string; retry_count: number }>(`SELECT state, retry_count FROM ${JOB_SCHEMA}.job WHERE name = $1 AND data->>'id' = $2`, [
        consumerQueue(flaky),
        id,
      ]);
      if (rows.length !== 1 || rows[0]!.state !== 'completed') throw new Error(`job is ${JSON.stringify(rows)}`);
      return rows[0]!;
    });
    expect(job.retry_count).toBe(1);
  });

  it('keeps each consumer inside its own event tenant when tenants interleave', async () => {
    const { a, b } = await twoTenants(t.platform.db);
    const ids = [await placeOrder(a.tenant.id), await placeOrder(b.tenant.id), await placeOrder(a.tenant.id)];
    for (const id of ids) await waitForEffect(recorder, id);
    const deliveries = seenByRecorder.filter((seen) => ids.includes(seen.event.id));
    expect(deliveries).toHaveLength(3);
    for (const seen of deliveries) {
      expect(seen.context).toBe(seen.event.tenantId);
      expect(seen.memberTenants).toEqual([seen.event.tenantId]);
      expect(seen.tenants).toEqual([seen.event.tenantId]);
    }
  });

});
