/**
 * Domain events through a transactional outbox. `emit(tx, …)` writes the event in the caller's
 * transaction, so an event exists exactly when its change committed. The relay claims unpublished rows
 * (FOR UPDATE SKIP LOCKED, through `claim_outbox_events`) and, in the same transaction, enqueues one
 * job per subscribed consumer; consumers record a receipt in the transaction of their own effect, so a
 * redelivered event is handled once.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Database, SqlExecutor, Tx } from '../db/database.js';
import { uuidv7 } from '../db/ids.js';
import type { JobQueue } from '../jobs/jobs.js';
import { eventReceipts, outboxEvents } from './events.table.js';

export interface DomainEvent<P = Record<string, unknown>> {
  id: string;
  type: string;
  tenantId: string;
  payload: P;
  occurredAt: string;
}

export interface NewEvent<P = Record<string, unknown>> {
  type: string;
  tenantId: string;
  payload: P;
}

export type EventHandler = (event: DomainEvent, tx: Tx) => Promise<void>;

interface Subscription {
  consumer: string;
  types: readonly string[] | '*';
  handler: EventHandler;
}

const CONSUMER_NAME = /^[a-z][a-z0-9_.-]{0,60}$/;

/** The outbox row of a new event. */
export function outboxRow(event: NewEvent) {
  return { id: uuidv7(), tenantId: event.tenantId, type: event.type, payload: event.payload };
}

/** Writes an event to the outbox inside the caller's transaction. Returns the event id. */
export async function emit<P extends Record<string, unknown>>(tx: Tx, event: NewEvent<P>): Promise<string> {
  const row = outboxRow(event);
  await tx.insert(outboxEvents).values(row);
  return row.id;
}

export const consumerQueue = (consumer: string) => `event.${consumer}`;

const RELAY_BATCH = 100;

export class EventBus {
  private readonly subscriptions = new Map<string, Subscription>();
  private relayTimer: NodeJS.Timeout | undefined;
  private relaying: Promise<number> | undefined;
  private started = false;

  constructor(
    private readonly db: Database,
    private readonly jobs: JobQueue,
  ) {}

  /** `emit` is also available on the bus for callers holding it. */
  readonly emit = emit;

  /** Registers a consumer (a name unique across the app) for some event types, or all ('*'). */
  subscribe(consumer: string, types: readonly string[] | '*', handler: EventHandler): void {
    if (!CONSUMER_NAME.test(consumer)) throw new Error(`invalid consumer name "${consumer}"`);
    if (this.subscriptions.has(consumer)) throw new Error(`consumer "${consumer}" is already subscribed`);
    this.subscriptions.set(consumer, { consumer, types, handler });
  }

  private consumersOf(type: string): Subscription[] {
    return [...this.subscriptions.values()].filter((s) => s.types === '*' || s.types.includes(type));
  }

  /**
   * Publishes one batch of unpublished events; returns how many were claimed. Claiming, marking as
   * published and enqueueing happen in one transaction: a crash in between publishes nothing twice and
   * loses nothing.
   */
  relayOnce(batchSize = RELAY_BATCH): Promise<number> {
    // One relay pass at a time per process; other processes are kept apart by SKIP LOCKED.
    this.relaying ??= this.defineConsumerQueues()
      .then(() =>
        this.db.transaction({}, async (tx, executor: SqlExecutor) => {
          const claimed = await tx.execute<{ tenant_id: string; id: string; type: string; payload: Record<string, unknown>; created_at: string | Date }>(
            sql`SELECT tenant_id, id, type, payload, created_at FROM claim_outbox_events(${batchSize})`,
          );
          const rows = [...claimed.rows].sort((a, b) => (a.id < b.id ? -1 : 1));
          const byQueue = new Map<string, Array<{ id: string; data: DomainEvent }>>();
          for (const row of rows) {
            const event: DomainEvent = {
              id: row.id,
              type: row.type,
              tenantId: row.tenant_id,
              payload: row.payload,
              occurredAt: new Date(row.created_at).toISOString(),
            };
            for (const subscription of this.consumersOf(row.type)) {
              const queue = consumerQueue(subscription.consumer);
              const list = byQueue.get(queue) ?? [];
              list.push({ id: uuidv7(), data: event });
              byQueue.set(queue, list);
            }
          }
          for (const [queue, jobs] of byQueue) await this.jobs.insert(queue, jobs, executor);
          return rows.length;
        }),
      )
      .finally(() => {
        this.relaying = undefined;
      });
    return this.relaying;
  }

  /**
   * pg-boss silently drops jobs for a queue that does not exist (its insert joins the queue table), while
   * the relay marks the event published: a consumer whose queue was never created would lose the event.
   * So every pass first makes sure the queues exist (memoised: free after the first pass). Outside the
   * relay transaction, because on PGlite queue creation goes through the session that transaction holds.
   */
  private async defineConsumerQueues(): Promise<void> {
    for (const subscription of this.subscriptions.values()) await this.jobs.define({ name: consumerQueue(subscription.consumer) });
  }

  /** Runs in workers: processes the consumer queues and polls the outbox. Idempotent. */
  async start(pollMs: number, onError: (error: unknown) => void): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.defineConsumerQueues();
    for (const subscription of this.subscriptions.values()) {
      await this.jobs.work<DomainEvent>(consumerQueue(subscription.consumer), (job) => this.deliver(subscription, job.data), {
        batchSize: 10,
        pollingIntervalSeconds: 1,
      });
    }
    const tick = async () => {
      try {
        // Drain: keep going while full batches come back.
        while ((await this.relayOnce(RELAY_BATCH)) === RELAY_BATCH);
      } catch (error) {
        onError(error);
      }
      if (this.relayTimer) this.relayTimer = setTimeout(tick, pollMs);
    };
    this.relayTimer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    const timer = this.relayTimer;
    this.relayTimer = undefined;
    clearTimeout(timer);
    await this.relaying?.catch(() => undefined);
  }

  /** Handles one delivery: receipt and effect in one tenant transaction, so a redelivery is a no-op. */
  private async deliver(subscription: Subscription, event: DomainEvent): Promise<void> {
    await this.db.withTenant(event.tenantId, async (tx) => {
      const inserted = await tx
        .insert(eventReceipts)
        .values({ tenantId: event.tenantId, consumer: subscription.consumer, eventId: event.id })
        .onConflictDoNothing()
        .returning({ eventId: eventReceipts.eventId });
      if (inserted.length === 0) return; // already handled
      await subscription.handler(event, tx);
    });
  }

  /** Whether a consumer has handled an event (tests, diagnostics). */
  async hasHandled(consumer: string, tenantId: string, eventId: string): Promise<boolean> {
    return this.db.withTenant(tenantId, async (tx) => {
      const rows = await tx
        .select({ eventId: eventReceipts.eventId })
        .from(eventReceipts)
        .where(and(eq(eventReceipts.tenantId, tenantId), eq(eventReceipts.consumer, consumer), eq(eventReceipts.eventId, eventId)));
      return rows.length > 0;
    });
  }
}
