/**
 * Use-cases of plans: the public catalog, and their administration by platform staff (list, read,
 * create, change, archive, unarchive).
 *
 * `plans` is a global table: every unit of work runs as the app role in no tenant
 * (`db.transaction({}, …)`). Every change writes its platform audit row, naming the acting administrator,
 * in the same transaction. Archiving only hides the plan from new choices; subscriptions (later) keep
 * the plan they are on.
 */
import { platformAudit, type RequestOrigin } from '../../core/audit/audit.js';
import type { Database, Tx } from '../../core/db/database.js';
import { PG, pgConstraint, pgErrorCode } from '../../core/db/errors.js';
import { isUuid } from '../../core/db/ids.js';
import { AppError } from '../../core/http/errors.js';
import { isKnownCurrency } from '../organization/index.js';
import { FEATURE_CODES, LIMIT_KEYS, type PlanLimits } from './features.js';
import { findPlan, findPlanByCode, insertPlan, listPlans, setPlanArchived, updatePlan, type PlanChanges, type PlanRow } from './plans.repository.js';
import { type CreatePlanInput, type ListAdminPlansInput, type PlanView, type UpdatePlanInput } from './plans.schemas.js';

export interface PlanDeps {
  db: Database;
}

/** The platform administrator (or operator, for reads) acting; the route's platform permission is checked. */
export interface PlanStaff {
  userId: string;
}

type FieldError = { in: 'body'; field: string; message: string };

const planNotFound = () => new AppError('plan.not_found', 'No plan has this id.');
const invalid = (errors: FieldError[]) =>
  new AppError('request.validation_failed', `The request is invalid: ${errors.map((error) => `body${error.field} ${error.message}`).join('; ')}.`, { errors });

/** Every limit of the catalog, in catalog order; a key the row lacks reads as unlimited. */
function limitsOf(stored: Partial<PlanLimits>): PlanLimits {
  return Object.fromEntries(LIMIT_KEYS.map((key) => [key, stored[key] ?? null])) as PlanLimits;
}

/** The plan as the API shows it: features in catalog order, every limit key present. */
export function presentPlan(row: PlanRow): PlanView {
  return {
    id: row.id,
    code: row.code,
    name: row.name,
    description: row.description,
    currency: row.currency,
    prices: { monthly: row.monthlyPrice, yearly: row.yearlyPrice },
    trialDays: row.trialDays,
    limits: limitsOf(row.limits),
    features: FEATURE_CODES.filter((code) => row.features.includes(code)),
    isPublic: row.isPublic,
    sortOrder: row.sortOrder,
    archived: row.archivedAt !== null,
    archivedAt: row.archivedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The fields a platform administrator sets, as the audit trail records them. */
type PlanFields = Pick<PlanView, 'name' | 'description' | 'currency' | 'prices' | 'trialDays' | 'limits' | 'features' | 'isPublic' | 'sortOrder'>;

const fieldsOf = (view: PlanView): PlanFields => ({
  name: view.name,
  description: view.description,
  currency: view.currency,
  prices: view.prices,
  trialDays: view.trialDays,
  limits: view.limits,
  features: view.features,
  isPublic: view.isPublic,
  sortOrder: view.sortOrder,
});

const toColumns = (fields: Partial<PlanFields>): PlanChanges => {
  const { prices, ...rest } = fields;
  return { ...rest, ...(prices ? { monthlyPrice: prices.monthly, yearlyPrice: prices.yearly } : {}) };
};

/** The errors of fields a schema cannot check: a blank name, an unknown currency, no cycle offered. */
function fieldErrors(fields: Partial<PlanFields>): FieldError[] {
  const errors: FieldError[] = [];
  if (fields.name !== undefined && fields.name === '') errors.push({ in: 'body', field: '/name', message: 'must not be blank' });
  if (fields.currency !== undefined && !isKnownCurrency(fields.currency)) errors.push({ in: 'body', field: '/currency', message: 'must be an ISO 4217 currency code, e.g. USD' });
  if (fields.prices && fields.prices.monthly === null && fields.prices.yearly === null) {
    errors.push({ in: 'body', field: '/prices', message: 'must offer at least one billing cycle (monthly or yearly)' });
  }
  return errors;
}

async function readPlan(tx: Tx, id: string, options: { forUpdate?: boolean } = {}): Promise<PlanRow> {
  const row = await findPlan(tx, id, options);
  if (!row) throw planNotFound();
  return row;
}

async function recordOnPlatform(tx: Tx, staff: PlanStaff, origin: RequestOrigin, action: string, planId: string, details: Record<string, unknown>): Promise<void> {
  await platformAudit.record(tx, {
    actorId: staff.userId,
    action,
    target: { type: 'plan', id: planId },
    details,
    ...origin,
  });
}

/** `GET /subscriptions/plans`: the public catalog (public, not archived), in catalog order. */
export async function listPublicPlans(deps: PlanDeps): Promise<PlanView[]> {
  const rows = await deps.db.transaction({}, (tx) => listPlans(tx, { publicOnly: true, archived: false }));
  return rows.map(presentPlan);
}

/**
 * `GET /subscriptions/plans/:id`: one plan of the public catalog, by id or by code (a UUID-shaped value
 * is an id: no code has that shape). A private or archived plan answers 404 `plan.not_found`, as an
 * unknown one does, so the public route discloses nothing beyond the catalog.
 */
export async function getPublicPlan(deps: PlanDeps, idOrCode: string): Promise<PlanView> {
  const row = await deps.db.transaction({}, (tx) => (isUuid(idOrCode) ? findPlan(tx, idOrCode) : findPlanByCode(tx, idOrCode)));
  if (!row || !row.isPublic || row.archivedAt !== null) throw planNotFound();
  return presentPlan(row);
}

/** `GET /admin/plans`: every plan, private and archived ones included, in catalog order. */
export async function listAdminPlans(deps: PlanDeps, query: ListAdminPlansInput): Promise<PlanView[]> {
  const rows = await deps.db.transaction({}, (tx) => listPlans(tx, { archived: query.archived }));
  return rows.map(presentPlan);
}

/** `GET /admin/plans/:id`: any plan. */
export async function getAdminPlan(deps: PlanDeps, id: string): Promise<PlanView> {
  return presentPlan(await deps.db.transaction({}, (tx) => readPlan(tx, id)));
}

/** 409 `plan.code_taken` for the unique violation of the code; anything else unchanged. */
function codeTakenOr(error: unknown): unknown {
  if (pgErrorCode(error) === PG.uniqueViolation && pgConstraint(error) === 'plans_code_key') {
    return new AppError('plan.code_taken', 'Another plan already uses this code; choose another.', { errors: [{ in: 'body', field: '/code', message: 'is taken' }] });
  }
  return error;
}

/**
 * `POST /admin/plans`: a new plan. Beyond its schema: a known ISO 4217 currency, a non-blank name, at
 * least one billing cycle offered, and a code not shaped like a UUID (GET /subscriptions/plans/:id reads
 * such a value as an id) — 400 naming each field. A taken code → 409 `plan.code_taken`.
 */
export async function createPlan(deps: PlanDeps, staff: PlanStaff, input: CreatePlanInput, origin: RequestOrigin): Promise<PlanView> {
  const fields: PlanFields = {
    name: input.name.trim(),
    description: (input.description ?? '').trim(),
    currency: input.currency,
    prices: { monthly: input.prices.monthly ?? null, yearly: input.prices.yearly ?? null },
    trialDays: input.trialDays ?? 0,
    limits: limitsOf(input.limits),
    features: FEATURE_CODES.filter((code) => input.features.includes(code)),
    isPublic: input.isPublic ?? true,
    sortOrder: input.sortOrder ?? 0,
  };
  const errors = fieldErrors(fields);
  if (isUuid(input.code)) errors.unshift({ in: 'body', field: '/code', message: 'must not be shaped like a UUID' });
  if (errors.length > 0) throw invalid(errors);
  try {
    return await deps.db.transaction({}, async (tx) => {
      const plan = presentPlan(await insertPlan(tx, { code: input.code, ...(toColumns(fields) as Required<PlanChanges>) }));
      await recordOnPlatform(tx, staff, origin, 'plan.created', plan.id, { code: plan.code, after: fields });
      return plan;
    });
  } catch (error) {
    throw codeTakenOr(error);
  }
}

/**
 * `PATCH /admin/plans/:id`: changes the fields given; `prices` and `limits` are merged into the plan's
 * (a key given replaces its value). An archived plan can be changed too (it stays archived). The result
 * is checked as a new plan is; a request that changes nothing writes nothing.
 */
export async function updateAdminPlan(deps: PlanDeps, staff: PlanStaff, id: string, input: UpdatePlanInput, origin: RequestOrigin): Promise<PlanView> {
  return deps.db.transaction({}, async (tx) => {
    const current = presentPlan(await readPlan(tx, id, { forUpdate: true }));
    const before = fieldsOf(current);
    const wanted: PlanFields = {
      name: input.name?.trim() ?? before.name,
      description: input.description?.trim() ?? before.description,
      currency: input.currency ?? before.currency,
      prices: { ...before.prices, ...input.prices },
      trialDays: input.trialDays ?? before.trialDays,
      limits: { ...before.limits, ...input.limits },
      features: input.features ? FEATURE_CODES.filter((code) => input.features!.includes(code)) : before.features,
      isPublic: input.isPublic ?? before.isPublic,
      sortOrder: input.sortOrder ?? before.sortOrder,
    };
    const changed = (Object.keys(wanted) as Array<keyof PlanFields>).filter((key) => JSON.stringify(wanted[key]) !== JSON.stringify(before[key]));
    if (changed.length === 0) return current;
    const errors = fieldErrors(Object.fromEntries(changed.map((key) => [key, wanted[key]])));
    if (errors.length > 0) throw invalid(errors);

    const pick = (fields: PlanFields) => Object.fromEntries(changed.map((key) => [key, fields[key]])) as Partial<PlanFields>;
    const plan = presentPlan(await updatePlan(tx, id, toColumns(pick(wanted))));
    await recordOnPlatform(tx, staff, origin, 'plan.updated', id, { code: plan.code, before: pick(before), after: pick(wanted) });
    return plan;
  });
}

/**
 * `POST /admin/plans/:id/archive` (`archived: true`) and `/unarchive` (`false`): nobody new can choose an
 * archived plan (it leaves the public catalog); subscribers on it keep it. Idempotent: a plan already in
 * that state is answered as it is, and nothing is written.
 */
export async function setAdminPlanArchived(deps: PlanDeps, staff: PlanStaff, id: string, archived: boolean, origin: RequestOrigin): Promise<PlanView> {
  return deps.db.transaction({}, async (tx) => {
    const current = await readPlan(tx, id, { forUpdate: true });
    if ((current.archivedAt !== null) === archived) return presentPlan(current);
    const plan = presentPlan(await setPlanArchived(tx, id, archived));
    await recordOnPlatform(tx, staff, origin, archived ? 'plan.archived' : 'plan.unarchived', id, {
      code: plan.code,
      before: { archivedAt: current.archivedAt?.toISOString() ?? null },
      after: { archivedAt: plan.archivedAt },
    });
    return plan;
  });
}
