/**
 * Store use-cases: list, read, create, change, delete (soft) and restore the tenant's stores.
 *
 * Invariants kept here, under the tenant's store lock (`lockTenantStores`), so concurrent requests cannot
 * break them:
 * - `code` is unique among the tenant's live stores, case-insensitively (409 `store.code_taken`; the
 *   `stores_code_key` index is the backstop and is answered the same way).
 * - Once the tenant has a store, exactly one live store is its headquarters: the first store becomes it,
 *   making another one the headquarters moves the flag (the old one is unset first: the
 *   `stores_one_headquarters` index allows at most one), unsetting it is refused (409
 *   `store.headquarters_required`) and so is deleting it (409 `store.last_headquarters`) — move the flag to
 *   another store first.
 * Each change writes its audit row and its event (`store.created`, `store.updated`, `store.deleted`,
 * `store.restored`) in the same transaction.
 *
 * Creating and restoring a store count against the plan's `maxStores` (402 `plan.limit_reached`) in the
 * transaction of the write, before it: the check's locks make parallel creates count one after the other.
 * Lock order: the store lock (when taken) first, then the check's — subscription changes and the other
 * creates take no store lock after those, so no cycle can form.
 */
import { audit, type RequestOrigin } from '../../core/audit/audit.js';
import type { ActorType } from '../../core/audit/audit.table.js';
import type { Tx } from '../../core/db/database.js';
import { PG, pgConstraint, pgErrorCode } from '../../core/db/errors.js';
import { isUuid } from '../../core/db/ids.js';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage, type Page } from '../../core/http/pagination.js';
import type { Actor } from '../../core/http/request-context.js';
import type { OrganizationDeps } from './deps.js';
import { assertNoFieldErrors, checkTimeZone, isCountryCode, isSameValue } from './store-values.js';
import {
  findHeadquartersAndCodeHolder,
  findStore,
  insertStore,
  noHeadquartersYet,
  listStores,
  lockTenantStores,
  updateStore,
  type StoreChanges,
  type StoreListKey,
  type StoreRow,
} from './stores.repository.js';
import type { CreateStoreInput, ListStoresInput, StoreView, UpdateStoreInput } from './stores.schemas.js';

/** Who acts on the tenant's stores: the tenant comes from the verified credential, never the request. */
export interface StoreActor {
  tenantId: string;
  /** The person acting (null for a credential that is not a person's, e.g. an API key). */
  userId: string | null;
  audit: { type: ActorType; id: string | null };
}

/** The store actor of an authenticated, tenant-scoped request (the route guard ran before). */
export function storeActorOf(actor: Actor | undefined): StoreActor {
  if (!actor?.tenantId) throw new AppError('auth.tenant_access_revoked', 'This route acts in a tenant, and the credential names none.');
  const type: ActorType = actor.kind === 'api_key' ? 'api_key' : 'user';
  return { tenantId: actor.tenantId, userId: actor.userId ?? null, audit: { type, id: actor.userId ?? actor.apiKeyId ?? null } };
}

export const storeNotFound = () => new AppError('store.not_found', 'No store of this tenant has this id.');
const codeTaken = (code?: string) =>
  new AppError('store.code_taken', `Another live store of this tenant already uses ${code === undefined ? 'this code' : `the code "${code}"`} (codes compare case-insensitively).`);

export function presentStore(row: StoreRow): StoreView {
  return {
    id: row.id,
    name: row.name,
    code: row.code,
    address: row.address,
    phone: row.phone,
    email: row.email,
    timezone: row.timezone,
    isHeadquarters: row.isHeadquarters,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    deletedAt: row.deletedAt ? row.deletedAt.toISOString() : null,
  };
}

/**
 * Writes the audit row and the event of a store change, in the change's transaction. The event carries
 * the store as it is now; a `store.updated` one also names the fields that changed (the keys of `after`).
 */
export async function recordStoreChange(
  tx: Tx,
  actor: StoreActor,
  origin: RequestOrigin,
  action: 'store.created' | 'store.updated' | 'store.deleted' | 'store.restored',
  store: StoreRow,
  before: unknown,
  after: unknown,
): Promise<void> {
  const changed = action === 'store.updated' && after !== null && typeof after === 'object' ? { changed: Object.keys(after) } : {};
  await audit.recordWithEvent(
    tx,
    { actor: actor.audit, action, target: { type: 'store', id: store.id }, before, after, ...origin },
    { type: action, tenantId: actor.tenantId, payload: { store: presentStore(store), ...changed } },
  );
}

/** Another request set a headquarters at the same time (409 if it reaches the client). */
class HeadquartersRaceError extends AppError {
  constructor() {
    super('resource.conflict', 'The headquarters changed at the same time; retry.');
  }
}

/**
 * Runs a unit of work that writes stores — under the tenant's store lock unless `lock: false` (the work
 * then takes it itself when it must) — answering a lost race on a unique index as the rule it broke.
 */
async function writeStores<T>(
  deps: OrganizationDeps,
  actor: StoreActor,
  code: string | undefined,
  work: (tx: Tx) => Promise<T>,
  options: { lock?: boolean } = {},
): Promise<T> {
  try {
    return await deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, async (tx) => {
      if (options.lock !== false) await lockTenantStores(tx, actor.tenantId);
      return work(tx);
    });
  } catch (error) {
    if (pgErrorCode(error) === PG.uniqueViolation) {
      const constraint = pgConstraint(error) ?? String((error as Error).message);
      if (constraint.includes('stores_code_key')) throw codeTaken(code);
      if (constraint.includes('stores_one_headquarters')) throw new HeadquartersRaceError();
    }
    throw error;
  }
}

/** Trims the name and checks what the schema cannot (time zone, country); 400 naming every field. */
function normalizeStoreInput<T extends Partial<CreateStoreInput>>(input: T): T {
  const errors: FieldError[] = [];
  const normalized = { ...input };
  if (input.name !== undefined) {
    normalized.name = input.name.trim();
    if (normalized.name === '') errors.push({ in: 'body', field: '/name', message: 'must not be blank' });
  }
  checkTimeZone(input.timezone, '/timezone', errors);
  const country = input.address?.country;
  if (country !== undefined && !isCountryCode(country)) errors.push({ in: 'body', field: '/address/country', message: 'is not an ISO 3166-1 alpha-2 country code (e.g. KE)' });
  assertNoFieldErrors(errors);
  return normalized;
}

/** `GET /stores`: one page of the tenant's stores by name, optionally searched and with deleted ones. */
export async function listTenantStores(deps: OrganizationDeps, actor: StoreActor, query: ListStoresInput): Promise<Page<StoreView>> {
  const after = decodeCursor(query.cursor, isStoreListKey);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const rows = await deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, (tx) =>
    listStores(tx, actor.tenantId, { search: query.search, includeDeleted: query.includeDeleted === true, after, limit }),
  );
  return toPage(rows, limit, presentStore, (row) => ({ n: row.sortName, id: row.id }));
}

function isStoreListKey(value: unknown): value is StoreListKey {
  const key = value as StoreListKey | null;
  return typeof key === 'object' && key !== null && typeof key.n === 'string' && isUuid(key.id);
}

/** `GET /stores/:id`: a live store (a deleted one only with `includeDeleted`); otherwise 404. */
export async function getStore(deps: OrganizationDeps, actor: StoreActor, storeId: string, includeDeleted: boolean): Promise<StoreView> {
  const row = await deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, (tx) => findStore(tx, actor.tenantId, storeId, { includeDeleted }));
  if (!row) throw storeNotFound();
  return presentStore(row);
}

/**
 * Unsets the current headquarters (when it is not `storeId`) so another store can take the flag; the
 * old one's change is audited and announced on its own.
 */
async function unsetHeadquarters(tx: Tx, actor: StoreActor, origin: RequestOrigin, headquarters: StoreRow | null, storeId: string | null): Promise<void> {
  if (!headquarters || headquarters.id === storeId) return;
  const previous = (await updateStore(tx, actor.tenantId, headquarters.id, { isHeadquarters: false }))!;
  await recordStoreChange(tx, actor, origin, 'store.updated', previous, { isHeadquarters: true }, { isHeadquarters: false });
}

/** Refuses (402 `plan.limit_reached`) one more live store than the plan allows (see Entitlements.assertWithinLimit). */
const assertStoreAllowed = (deps: OrganizationDeps, tx: Tx, tenantId: string) => deps.platform.entitlements.assertWithinLimit(tx, tenantId, 'maxStores', 1);

/** `POST /stores`: a new store; the tenant's first is its headquarters whatever `isHeadquarters` says. */
export async function createStore(deps: OrganizationDeps, actor: StoreActor, origin: RequestOrigin, input: CreateStoreInput): Promise<StoreView> {
  const store = normalizeStoreInput(input);
  const fields = {
    name: store.name,
    code: store.code,
    address: store.address ?? {},
    phone: store.phone ?? null,
    email: store.email ?? null,
    timezone: store.timezone ?? null,
  };
  const record = async (tx: Tx, row: StoreRow) => {
    const view = presentStore(row);
    await recordStoreChange(tx, actor, origin, 'store.created', row, null, view);
    return view;
  };

  if (store.isHeadquarters !== true) {
    // An ordinary branch takes no lock and reads nothing first: it is the headquarters exactly when the
    // tenant has none yet (decided in the INSERT), a taken code ends at the unique index (409), and two
    // concurrent first stores meet at the one-headquarters index — the loser retries once and becomes a
    // branch of the winner's headquarters.
    const attempt = () =>
      writeStores(
        deps,
        actor,
        store.code,
        async (tx) => {
          await assertStoreAllowed(deps, tx, actor.tenantId);
          return record(tx, await insertStore(tx, actor.tenantId, { ...fields, isHeadquarters: noHeadquartersYet(actor.tenantId) }));
        },
        { lock: false },
      );
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof HeadquartersRaceError) return attempt();
      throw error;
    }
  }

  // A new headquarters: writers of the flag queue on the tenant's lock; the old one is unset first.
  return writeStores(deps, actor, store.code, async (tx) => {
    // Before any store row is written: while it waits for the limit's locks, this transaction holds only
    // the store lock, which no holder of those locks ever waits for.
    await assertStoreAllowed(deps, tx, actor.tenantId);
    const { headquarters, codeTaken: taken } = await findHeadquartersAndCodeHolder(tx, actor.tenantId, store.code);
    if (taken) throw codeTaken(store.code);
    await unsetHeadquarters(tx, actor, origin, headquarters, null);
    return record(tx, await insertStore(tx, actor.tenantId, { ...fields, isHeadquarters: true }));
  });
}

const EDITABLE = ['name', 'code', 'address', 'phone', 'email', 'timezone'] as const;

/**
 * `PATCH /stores/:id`: changes the named fields of a live store (another tenant's or a deleted one → 404).
 * Moving the headquarters here is a decision about the whole tenant: it needs `stores.manage` tenant-wide
 * (`mayMoveHeadquarters`), beyond the route's `stores.update`, which a store manager holds in their store.
 */
export async function updateStoreDetails(
  deps: OrganizationDeps,
  actor: StoreActor,
  origin: RequestOrigin,
  storeId: string,
  input: UpdateStoreInput,
  options: { mayMoveHeadquarters: boolean },
): Promise<StoreView> {
  const patch = normalizeStoreInput(input);
  return writeStores(deps, actor, patch.code, async (tx) => {
    const store = await findStore(tx, actor.tenantId, storeId);
    if (!store) throw storeNotFound();
    if (patch.isHeadquarters === false && store.isHeadquarters) {
      throw new AppError('store.headquarters_required', 'A tenant with stores always has a headquarters: make another store the headquarters (isHeadquarters: true) instead.');
    }
    const changes: StoreChanges = {};
    for (const field of EDITABLE) {
      const value = patch[field];
      if (value !== undefined && !isSameValue(value, store[field])) Object.assign(changes, { [field]: value });
    }
    const becomesHeadquarters = patch.isHeadquarters === true && !store.isHeadquarters;
    if (becomesHeadquarters && !options.mayMoveHeadquarters) {
      throw new AppError('auth.forbidden', 'Moving the headquarters needs stores.manage tenant-wide; your roles allow changing this store’s details only.');
    }
    const codeToCheck = changes.code !== undefined && changes.code.toLowerCase() !== store.code.toLowerCase() ? changes.code : null;
    if (codeToCheck !== null || becomesHeadquarters) {
      const { headquarters, codeTaken: taken } = await findHeadquartersAndCodeHolder(tx, actor.tenantId, codeToCheck, store.id);
      if (taken) throw codeTaken(codeToCheck!);
      if (becomesHeadquarters) {
        await unsetHeadquarters(tx, actor, origin, headquarters, store.id);
        changes.isHeadquarters = true;
      }
    }
    // Nothing differs: no write, no audit row, no event.
    if (Object.keys(changes).length === 0) return presentStore(store);
    const updated = (await updateStore(tx, actor.tenantId, store.id, changes))!;
    const before = Object.fromEntries(Object.keys(changes).map((field) => [field, store[field as keyof StoreChanges]]));
    await recordStoreChange(tx, actor, origin, 'store.updated', updated, before, changes);
    return presentStore(updated);
  });
}

/** `DELETE /stores/:id`: soft delete (restorable); the headquarters is refused (move the flag first). */
export async function deleteStore(deps: OrganizationDeps, actor: StoreActor, origin: RequestOrigin, storeId: string): Promise<void> {
  await writeStores(deps, actor, undefined, async (tx) => {
    const store = await findStore(tx, actor.tenantId, storeId);
    if (!store) throw storeNotFound();
    if (store.isHeadquarters) {
      throw new AppError(
        'store.last_headquarters',
        'The headquarters cannot be deleted: make another store the headquarters first (PATCH /api/v1/stores/{id} with isHeadquarters: true). A tenant’s only store stays its headquarters.',
      );
    }
    const deleted = (await updateStore(tx, actor.tenantId, store.id, { deletedAt: new Date() }))!;
    await recordStoreChange(tx, actor, origin, 'store.deleted', deleted, presentStore(store), presentStore(deleted));
  });
}

/**
 * `POST /stores/:id/restore`: brings a deleted store back (its people's assignments were kept), unless
 * its code has been taken by a live store meanwhile (409 `store.code_taken`: change that store's code
 * first). It becomes the headquarters only if the tenant has none. Restoring a live store changes nothing;
 * restoring a deleted one counts against `maxStores` (402 `plan.limit_reached`).
 */
export async function restoreStore(deps: OrganizationDeps, actor: StoreActor, origin: RequestOrigin, storeId: string): Promise<StoreView> {
  return writeStores(deps, actor, undefined, async (tx) => {
    const store = await findStore(tx, actor.tenantId, storeId, { includeDeleted: true });
    if (!store) throw storeNotFound();
    if (store.deletedAt === null) return presentStore(store);
    await assertStoreAllowed(deps, tx, actor.tenantId);
    const { headquarters, codeTaken: taken } = await findHeadquartersAndCodeHolder(tx, actor.tenantId, store.code, store.id);
    if (taken) throw codeTaken(store.code);
    const restored = (await updateStore(tx, actor.tenantId, store.id, { deletedAt: null, isHeadquarters: headquarters === null }))!;
    await recordStoreChange(tx, actor, origin, 'store.restored', restored, presentStore(store), presentStore(restored));
    return presentStore(restored);
  });
}
