/**
 * A store's settings: overrides of the tenant's currency, time zone and locale, plus what only a store
 * has (receipt header and footer, opening hours). The time zone override is the store's own `timezone`
 * column — one value, whether set through the store or its settings — and the rest live in the store's
 * `settings` document. Reading them answers the overrides and the values in force (store, else tenant,
 * else the default).
 */
import type { RequestOrigin } from '../../core/audit/audit.js';
import type { FieldError } from '../../core/http/errors.js';
import type { OrganizationDeps } from './deps.js';
import { assertNoFieldErrors, checkTimeZone, isSameValue, openingHoursErrors } from './store-values.js';
import { findStore, findTenantSettings, lockTenantStores, updateStore, type StoreRow } from './stores.repository.js';
import type { OpeningHours, StoreSettingsView, UpdateStoreSettingsInput } from './stores.schemas.js';
import { recordStoreChange, storeNotFound, type StoreActor } from './stores.service.js';
import { canonicalLocale, isKnownCurrency, resolveTenantSettings } from './tenant-settings.js';

/** The store-only and override keys kept in `stores.settings`. */
interface StoredSettings {
  currency?: string;
  locale?: string;
  receiptHeader?: string;
  receiptFooter?: string;
  openingHours?: OpeningHours;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

/** The overrides and values in force for a store, given the tenant's stored settings document. */
export function presentStoreSettings(store: Pick<StoreRow, 'settings' | 'timezone'>, tenantSettings: unknown): StoreSettingsView {
  // The tenant's values with its defaults filled in: "store, else tenant, else default" in one step.
  const tenant = resolveTenantSettings(tenantSettings);
  const own = store.settings as StoredSettings;
  const overrides = {
    currency: text(own.currency),
    timezone: store.timezone,
    locale: text(own.locale),
    receiptHeader: text(own.receiptHeader),
    receiptFooter: text(own.receiptFooter),
    openingHours: own.openingHours ?? null,
  };
  return {
    overrides,
    effective: {
      currency: overrides.currency ?? tenant.currency,
      timezone: overrides.timezone ?? tenant.timezone,
      locale: overrides.locale ?? tenant.locale,
      receiptHeader: overrides.receiptHeader,
      receiptFooter: overrides.receiptFooter,
      openingHours: overrides.openingHours,
    },
  };
}

/** `GET /stores/:id/settings`: a live store's overrides and effective values; another tenant's id → 404. */
export async function getStoreSettings(deps: OrganizationDeps, actor: StoreActor, storeId: string): Promise<StoreSettingsView> {
  return deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, async (tx) => {
    const store = await findStore(tx, actor.tenantId, storeId);
    if (!store) throw storeNotFound();
    return presentStoreSettings(store, await findTenantSettings(tx, actor.tenantId));
  });
}

/** Validates and canonicalises a settings patch (400 naming every failing field). */
function normalizeSettingsPatch(input: UpdateStoreSettingsInput): UpdateStoreSettingsInput {
  const errors: FieldError[] = [];
  const patch: UpdateStoreSettingsInput = { ...input };
  if (typeof input.currency === 'string' && !isKnownCurrency(input.currency)) errors.push({ in: 'body', field: '/currency', message: 'must be an ISO 4217 currency code, e.g. KES' });
  checkTimeZone(input.timezone, '/timezone', errors);
  if (typeof input.locale === 'string') {
    const locale = canonicalLocale(input.locale);
    if (locale === null) errors.push({ in: 'body', field: '/locale', message: 'must be a BCP 47 language tag, e.g. sw-KE' });
    else patch.locale = locale;
  }
  if (input.openingHours) errors.push(...openingHoursErrors(input.openingHours, '/openingHours'));
  assertNoFieldErrors(errors);
  return patch;
}

/**
 * `PATCH /stores/:id/settings`: sets (a value) or clears (null) each named override; the rest stay.
 * Audited and announced as `store.updated` (with the settings before and after).
 */
export async function updateStoreSettings(
  deps: OrganizationDeps,
  actor: StoreActor,
  origin: RequestOrigin,
  storeId: string,
  input: UpdateStoreSettingsInput,
): Promise<StoreSettingsView> {
  const { timezone, ...documentPatch } = normalizeSettingsPatch(input);
  return deps.platform.db.transaction({ tenantId: actor.tenantId, userId: actor.userId }, async (tx) => {
    await lockTenantStores(tx, actor.tenantId);
    const store = await findStore(tx, actor.tenantId, storeId);
    if (!store) throw storeNotFound();
    const settings: Record<string, unknown> = { ...store.settings };
    for (const [key, value] of Object.entries(documentPatch)) {
      if (value === null) delete settings[key];
      else if (value !== undefined) settings[key] = value;
    }
    const tenantSettings = await findTenantSettings(tx, actor.tenantId);
    const before = presentStoreSettings(store, tenantSettings);
    const proposed = presentStoreSettings({ settings, timezone: timezone === undefined ? store.timezone : timezone }, tenantSettings);
    // Nothing differs: no write, no audit row, no event.
    if (isSameValue(proposed.overrides, before.overrides)) return before;
    const updated = (await updateStore(tx, actor.tenantId, storeId, { settings, ...(timezone !== undefined ? { timezone } : {}) }))!;
    await recordStoreChange(tx, actor, origin, 'store.updated', updated, { settings: before.overrides }, { settings: proposed.overrides });
    return proposed;
  });
}
