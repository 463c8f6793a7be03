/**
 * Request and response schemas of `/api/v1/stores` (types are derived from them, never written twice).
 * What a JSON schema cannot say — an IANA time zone, an ISO country code, opening hours in order — is
 * checked by store-settings.ts and answered as the same 400 with one entry per failing field.
 */
import { Type, type Static } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

/** The database's `stores_code_format` check, so a bad code is a 400 naming the field, never a 500. */
export const STORE_CODE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$';

const StoreName = Type.String({ minLength: 1, maxLength: 200, description: 'Display name.' });
const StoreCode = Type.String({
  pattern: STORE_CODE_PATTERN,
  description: 'Short code (1–32 letters, digits, `-` or `_`, starting with a letter or digit), unique among the tenant’s live stores, case-insensitively.',
});
/** E.164, like the profile phone: the one form every telephony and SMS provider takes. */
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$', description: 'Phone number in E.164 form, e.g. `+254712345678`.' });
const Email = Type.String({ format: 'email', maxLength: 254, pattern: '^[^\\s:@]+@[^\\s:@]+$', description: 'Contact email address.' });
export const TimeZoneSchema = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. `Africa/Nairobi`, or `UTC`.' });
const AddressLine = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 200, description }));

export const StoreAddressSchema = Type.Object(
  {
    line1: AddressLine('Street address.'),
    line2: AddressLine('Building, floor, unit.'),
    city: AddressLine('City or town.'),
    region: AddressLine('State, province, county.'),
    postalCode: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'Postal code.' })),
    country: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 country code (upper case), e.g. `KE`.' })),
  },
  { additionalProperties: false, description: 'Postal address; every part optional. A PATCH replaces the whole address.' },
);

export const StoreSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    code: Type.String(),
    address: StoreAddressSchema,
    phone: Nullable(Type.String(), 'E.164 phone number.'),
    email: Nullable(Type.String(), 'Contact email address.'),
    timezone: Nullable(Type.String(), 'The store’s IANA time zone; null: the tenant’s applies.'),
    isHeadquarters: Type.Boolean({ description: 'Exactly one live store of a tenant is its headquarters.' }),
    createdAt: DateTime('When the store was created.'),
    updatedAt: DateTime('When the store last changed.'),
    deletedAt: Nullable(DateTime('When the store was deleted.'), 'When the store was deleted (restorable); null while it is live.'),
  },
  { $id: 'Store', description: 'A store (branch, location) of the tenant.' },
);
export type StoreView = Static<typeof StoreSchema>;

export const CreateStoreBody = Type.Object(
  {
    name: StoreName,
    code: StoreCode,
    address: Type.Optional(StoreAddressSchema),
    phone: Type.Optional(Nullable(Phone, 'E.164 phone number.')),
    email: Type.Optional(Nullable(Email, 'Contact email address.')),
    timezone: Type.Optional(Nullable(TimeZoneSchema, 'IANA time zone; omit or null to follow the tenant’s.')),
    isHeadquarters: Type.Optional(
      Type.Boolean({ description: 'Make this store the headquarters (the flag moves from the current one). The tenant’s first store is always the headquarters.' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateStoreInput = Static<typeof CreateStoreBody>;

export const UpdateStoreBody = Type.Object(
  {
    name: Type.Optional(StoreName),
    code: Type.Optional(StoreCode),
    address: Type.Optional(StoreAddressSchema),
    phone: Type.Optional(Nullable(Phone, 'E.164 phone number; null clears it.')),
    email: Type.Optional(Nullable(Email, 'Contact email address; null clears it.')),
    timezone: Type.Optional(Nullable(TimeZoneSchema, 'IANA time zone; null: follow the tenant’s.')),
    isHeadquarters: Type.Optional(
      Type.Boolean({ description: '`true` moves the headquarters here; `false` on the headquarters is refused (`store.headquarters_required`): make another store the headquarters instead.' }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateStoreInput = Static<typeof UpdateStoreBody>;

export const StoreIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Store id.' }) });

const IncludeDeleted = Type.Optional(Type.Boolean({ default: false, description: 'Include deleted (restorable) stores.' }));

export const ListStoresQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Case-insensitive substring of the name or the code.' })),
    includeDeleted: IncludeDeleted,
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type ListStoresInput = Static<typeof ListStoresQuery>;

export const GetStoreQuery = Type.Object({ includeDeleted: IncludeDeleted }, { additionalProperties: false });

// ---- People of a store ----

/** The built-in store roles (organization.table.ts `storeRoles`); custom store roles are given by `roleId`. */
const StoreRole = (description: string) => Type.Union([Type.Literal('store_manager'), Type.Literal('store_staff')], { description });

export const StoreRoleSchema = StoreRole('The person’s built-in role in this store (custom roles they hold here: GET /api/v1/users/{id}/roles).');

export const StoreMemberSchema = Type.Object(
  {
    userId: Type.String({ format: 'uuid' }),
    name: Type.String(),
    email: Type.String(),
    role: StoreRoleSchema,
  },
  { $id: 'StoreMember', description: 'A member of the tenant assigned to the store.' },
);
export type StoreMemberView = Static<typeof StoreMemberSchema>;

export const StoreMemberParams = Type.Object({
  id: Type.String({ format: 'uuid', description: 'Store id.' }),
  userId: Type.String({ format: 'uuid', description: 'The assigned person’s user id.' }),
});

const UserIds = (description: string) =>
  Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 100, uniqueItems: true, description });

export const AssignStoreMembersBody = Type.Object(
  {
    userIds: UserIds('Active members of this tenant to assign (1–100). Already assigned people stay assigned.'),
    role: Type.Optional(
      StoreRole(
        'Their built-in role in the store. New assignments default to `store_staff`; when given, it is also set on people already assigned. Must agree with `roleId` when that names a built-in role.',
      ),
    ),
    roleId: Type.Optional(
      Type.String({
        format: 'uuid',
        description:
          'A store role of this tenant (GET /api/v1/roles): a built-in one (`store_manager`, `store_staff`) works as `role`; a custom one is given to the people in this store (those not yet assigned join as `store_staff`).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AssignStoreMembersInput = Static<typeof AssignStoreMembersBody>;

export const UnassignStoreMembersBody = Type.Object(
  { userIds: UserIds('People to unassign (1–100); people not assigned are skipped.') },
  { additionalProperties: false },
);

export const ListStoreMembersQuery = Type.Object({ ...paginationQuery }, { additionalProperties: false });

// ---- Store settings ----

const Time = (description: string) => Type.String({ pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$', description });

export const OpeningIntervalSchema = Type.Object(
  {
    open: Time('Opening time, `HH:MM` (24-hour, store-local).'),
    close: Time('Closing time, `HH:MM`, after `open` (`24:00` for midnight).'),
  },
  { additionalProperties: false },
);

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const MAX_INTERVALS_PER_DAY = 4;

const DayHours = Type.Optional(
  Type.Array(OpeningIntervalSchema, { maxItems: MAX_INTERVALS_PER_DAY, description: `Up to ${MAX_INTERVALS_PER_DAY} intervals in time order, not overlapping; an empty list: closed that day.` }),
);

export const OpeningHoursSchema = Type.Object(Object.fromEntries(WEEKDAYS.map((day) => [day, DayHours])) as Record<Weekday, typeof DayHours>, {
  additionalProperties: false,
  description: 'Opening hours per weekday (store-local time). A day left out is unspecified.',
});
export type OpeningHours = Static<typeof OpeningHoursSchema>;

export const RECEIPT_TEXT_MAX = 2000;
const ReceiptText = (description: string) => Type.String({ maxLength: RECEIPT_TEXT_MAX, description });

const overridable = {
  currency: Nullable(Type.String({ pattern: '^[A-Z]{3}$' }), 'ISO 4217 currency code; null: the tenant’s applies.'),
  timezone: Nullable(Type.String(), 'IANA time zone (the store’s `timezone`); null: the tenant’s applies.'),
  locale: Nullable(Type.String(), 'BCP 47 locale; null: the tenant’s applies.'),
};

export const StoreSettingsSchema = Type.Object(
  {
    overrides: Type.Object(
      {
        ...overridable,
        receiptHeader: Nullable(Type.String(), 'Text printed at the top of receipts.'),
        receiptFooter: Nullable(Type.String(), 'Text printed at the bottom of receipts.'),
        openingHours: Nullable(OpeningHoursSchema, 'Opening hours per weekday.'),
      },
      { description: 'What the store sets itself; null: not set.' },
    ),
    effective: Type.Object(
      {
        currency: Type.String({ description: 'The store’s, else the tenant’s, else the default.' }),
        timezone: Type.String({ description: 'The store’s, else the tenant’s, else the default.' }),
        locale: Type.String({ description: 'The store’s, else the tenant’s, else the default.' }),
        receiptHeader: Nullable(Type.String(), 'Store-only.'),
        receiptFooter: Nullable(Type.String(), 'Store-only.'),
        openingHours: Nullable(OpeningHoursSchema, 'Store-only.'),
      },
      { description: 'The values in force for the store.' },
    ),
  },
  { $id: 'StoreSettings', description: 'The store’s own settings and the values in force.' },
);
export type StoreSettingsView = Static<typeof StoreSettingsSchema>;

export const UpdateStoreSettingsBody = Type.Object(
  {
    currency: Type.Optional(Nullable(Type.String({ pattern: '^[A-Z]{3}$' }), 'ISO 4217 currency code, e.g. `KES`; null: follow the tenant’s.')),
    timezone: Type.Optional(Nullable(TimeZoneSchema, 'IANA time zone; null: follow the tenant’s. The same value as the store’s `timezone`.')),
    locale: Type.Optional(Nullable(Type.String({ minLength: 2, maxLength: 35 }), 'BCP 47 locale, e.g. `sw-KE`; null: follow the tenant’s.')),
    receiptHeader: Type.Optional(Nullable(ReceiptText('Receipt header (≤ 2000 characters).'), 'Receipt header; null clears it.')),
    receiptFooter: Type.Optional(Nullable(ReceiptText('Receipt footer (≤ 2000 characters).'), 'Receipt footer; null clears it.')),
    openingHours: Type.Optional(Nullable(OpeningHoursSchema, 'Opening hours; replaces the whole week. null clears them.')),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateStoreSettingsInput = Static<typeof UpdateStoreSettingsBody>;

/** Registered once by the routes plugin, so `Type.Ref` resolves and OpenAPI names them. */
export const storeSchemas = [StoreSchema, StoreMemberSchema, StoreSettingsSchema];

// ---- Responses shared by the store routes ----

/** Responses every store route can give besides its own. */
export const storeRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse(
    'The role does not allow this (`auth.forbidden`); the membership is deactivated or the tenant suspended or closed (`auth.tenant_access_revoked`); the tenant requires MFA (`auth.mfa_enrollment_required`); or `X-Store-ID` names a store the caller may not act in (`store.access_denied`).',
  ),
};
export const storeNotFoundResponse = problemResponse('No live store of this tenant has this id (`store.not_found`); another tenant’s store answers the same.');
export const bearer = [{ bearerAuth: [] }];
