/**
 * The audit recorder. A row is written in the caller's transaction, so a change that rolls back leaves
 * no audit row, and one that commits always has one. The tenant is the transaction's own tenant context
 * (no context: the insert fails, it never lands in another tenant).
 */
import { sql } from 'drizzle-orm';
import { executionContext } from '../context.js';
import type { Tx } from '../db/database.js';
import { outboxRow, type NewEvent } from '../events/events.js';
import { outboxEvents } from '../events/events.table.js';
import { auditEvents, platformAuditEvents, type ActorType } from './audit.table.js';

export interface AuditEntry {
  actor: { type: ActorType; id?: string | null };
  /** Namespaced verb, e.g. `tenant.updated`, `member.invited`. */
  action: string;
  target?: { type: string; id: string };
  before?: unknown;
  after?: unknown;
  ip?: string | null;
  userAgent?: string | null;
  /** Defaults to the current request's id. */
  requestId?: string | null;
  /** The platform administrator behind the actor, when acting through an impersonation session. */
  impersonatorId?: string | null;
}

/** Where a request came from: kept on audit rows (and sessions). */
export interface RequestOrigin {
  ip: string;
  userAgent: string | null;
  requestId: string;
  /** Set when the request comes through an impersonation session: lands on every audit row it writes. */
  impersonatorId?: string;
}

/** Where the request came from, for audit entries: `audit.record(tx, { ...requestOrigin(request), … })`. */
export function requestOrigin(request: {
  ip: string;
  id: string;
  headers: Record<string, string | string[] | undefined>;
  actor?: { impersonatorId?: string };
}): RequestOrigin {
  const userAgent = request.headers['user-agent'];
  const origin: RequestOrigin = { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null, requestId: request.id };
  if (request.actor?.impersonatorId) origin.impersonatorId = request.actor.impersonatorId;
  return origin;
}

function auditRow(entry: AuditEntry) {
  return {
    tenantId: sql`app_current_tenant_id()`,
    actorType: entry.actor.type,
    actorId: entry.actor.id ?? null,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
    ip: entry.ip ?? null,
    userAgent: entry.userAgent ?? null,
    requestId: entry.requestId ?? executionContext.current()?.requestId ?? null,
    impersonatorId: entry.impersonatorId ?? null,
  };
}

/** An entry of the platform's own audit trail (platform administration, impersonation). */
export interface PlatformAuditEntry {
  /** The acting platform administrator or operator (null: the system). */
  actorId: string | null;
  /** Namespaced verb, e.g. `platform.tenant_suspended`, `impersonation.started`. */
  action: string;
  target?: { type: string; id: string };
  /** The tenant the action concerns, if any. */
  tenantId?: string | null;
  details?: unknown;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export const platformAudit = {
  /** Appends to the platform audit trail in `tx` (any unit of work: the table is global); returns its id. */
  async record(tx: Tx, entry: PlatformAuditEntry): Promise<string> {
    const [row] = await tx
      .insert(platformAuditEvents)
      .values({
        actorId: entry.actorId,
        action: entry.action,
        targetType: entry.target?.type ?? null,
        targetId: entry.target?.id ?? null,
        targetTenantId: entry.tenantId ?? null,
        details: entry.details ?? null,
        ip: entry.ip ?? null,
        userAgent: entry.userAgent ?? null,
        requestId: entry.requestId ?? executionContext.current()?.requestId ?? null,
      })
      .returning({ id: platformAuditEvents.id });
    return row!.id;
  },
};

export const audit = {
  /** Appends an audit event in `tx`; returns its id. */
  async record(tx: Tx, entry: AuditEntry): Promise<string> {
    const [row] = await tx.insert(auditEvents).values(auditRow(entry)).returning({ id: auditEvents.id });
    return row!.id;
  },

  /**
   * The audit row and the domain event of one change, written together in one statement (a
   * data-modifying CTE): one round trip instead of two on every audited write that also emits.
   */
  async recordWithEvent(tx: Tx, entry: AuditEntry, event: NewEvent): Promise<void> {
    const audited = tx.$with('audited').as(tx.insert(auditEvents).values(auditRow(entry)).returning({ id: auditEvents.id }));
    await tx.with(audited).insert(outboxEvents).values(outboxRow(event));
  },
};
