/**
 * Request and response schemas of `/api/v1/users` (the signed-in person and the members of the current
 * tenant), and the check of profile values a schema cannot express (BCP 47 locales, IANA time zones).
 * Types are derived from the schemas, never written twice.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { AppError, type FieldError } from '../../core/http/errors.js';
import { paginationQuery } from '../../core/http/pagination.js';
import { EmailSchema, PasswordSchema, PersonNameSchema, UserSchema } from '../identity/index.js';
// The profile takes locales and time zones exactly as the tenant settings do.
import { canonicalLocale, isKnownTimeZone } from './tenant-settings.js';

const Uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const MembershipRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], {
  description: 'The member’s built-in tenant role (their other roles: GET /api/v1/users/{id}/roles).',
});
/** Roles a member can be given here: ownership moves only by transfer (POST /tenants/current/transfer-ownership). */
const AssignableRoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')], {
  description: '`admin` or `member`; ownership is never granted or taken here (it moves by transfer).',
});
const MembershipStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('deactivated')]);
const TitleSchema = Type.String({ minLength: 1, maxLength: 200, description: 'Job title in this tenant.' });

// ---------------------------------------------------------------------------------------------------------
// Profile values
// ---------------------------------------------------------------------------------------------------------

export const LocaleSchema = Type.String({ minLength: 2, maxLength: 35, pattern: '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$', description: 'BCP 47 language tag, e.g. `en-GB`.' });
export const TimeZoneSchema = Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. `Europe/Berlin`, or `UTC`.' });
export const PhoneSchema = Type.String({ pattern: '^\\+[1-9]\\d{6,14}$', description: 'E.164 phone number, e.g. `+254712345678`.' });

const invalidField = (field: string, message: string): FieldError => ({ in: 'body', field, message });

/**
 * Checks and normalises a profile change: the name trimmed (blank refused), the locale canonicalised, the
 * time zone known. 400 `request.validation_failed` naming every failing field.
 */
export function normaliseProfileChange(input: ProfileChange): ProfileChange {
  const errors: FieldError[] = [];
  const output: ProfileChange = { ...input };
  if (input.name !== undefined) {
    output.name = input.name.trim();
    if (output.name === '') errors.push(invalidField('/name', 'must not be blank'));
  }
  if (typeof input.locale === 'string') {
    const locale = canonicalLocale(input.locale);
    if (locale === null) errors.push(invalidField('/locale', 'must be a BCP 47 language tag, e.g. en-GB'));
    else output.locale = locale;
  }
  if (typeof input.timezone === 'string' && !isKnownTimeZone(input.timezone)) errors.push(invalidField('/timezone', 'must be an IANA time zone, e.g. Europe/Berlin'));
  if (errors.length > 0) throw new AppError('request.validation_failed', 'Some profile values are not valid.', { errors });
  return output;
}

// ---------------------------------------------------------------------------------------------------------
// The signed-in person: /me
// ---------------------------------------------------------------------------------------------------------

export const MeSchema = Type.Object(
  {
    user: Type.Object(
      {
        ...UserSchema.properties,
        locale: Nullable(Type.String(), 'BCP 47 language tag, or null (the tenant’s default applies).'),
        timezone: Nullable(Type.String(), 'IANA time zone, or null (the tenant’s default applies).'),
        phone: Nullable(Type.String(), 'E.164 phone number, or null.'),
      },
      { description: 'The person and their profile.' },
    ),
    tenant: Type.Union([Type.Ref('Tenant'), Type.Null()], { description: 'The tenant the token acts in; null when it acts in none (or access to it was revoked).' }),
    membership: Type.Union(
      [Type.Object({ role: MembershipRoleSchema, status: MembershipStatusSchema, title: Nullable(Type.String(), 'Job title in this tenant, or null.') }), Type.Null()],
      { description: 'The person’s membership in `tenant`.' },
    ),
    roles: Type.Array(Type.String(), {
      description:
        'The key of the person’s built-in tenant role in `tenant` (the membership role); empty without a tenant. ' +
        'Store and custom roles, and the effective permissions: GET /api/v1/users/me/permissions.',
    }),
    mfa: Type.Object(
      {
        enabled: Type.Boolean({ description: 'The person has two-factor authentication (TOTP) on.' }),
        required: Type.Boolean({ description: 'The tenant requires it of its members (`security.mfaRequired`).' }),
        verifiedThisSession: Type.Boolean({ description: 'This session’s sign-in presented a second factor.' }),
      },
      { description: 'Two-factor authentication state.' },
    ),
  },
  { $id: 'Me', description: 'The signed-in person, where they act, and their MFA state.' },
);
export type MeView = Static<typeof MeSchema>;

export const ProfileChangeSchema = Type.Object(
  {
    name: Type.Optional(PersonNameSchema),
    locale: Type.Optional(Nullable(LocaleSchema, 'BCP 47 language tag (stored canonicalised); null clears it.')),
    timezone: Type.Optional(Nullable(TimeZoneSchema, 'IANA time zone; null clears it.')),
    phone: Type.Optional(Nullable(PhoneSchema, 'E.164 phone number; null clears it.')),
  },
  { additionalProperties: false, description: 'Profile fields to change; omitted fields stay as they are.' },
);
export type ProfileChange = Static<typeof ProfileChangeSchema>;

export const OwnTenantSchema = Type.Object(
  {
    tenantId: Uuid(),
    tenantName: Type.String(),
    tenantSlug: Type.String(),
    role: MembershipRoleSchema,
    status: { ...MembershipStatusSchema, description: 'The membership’s status.' },
    tenantStatus: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')], { description: 'The tenant’s status.' }),
    current: Type.Boolean({ description: 'Whether the access token acts in this tenant.' }),
  },
  { $id: 'OwnTenant', description: 'One of the signed-in person’s memberships, with its tenant.' },
);
export type OwnTenantView = Static<typeof OwnTenantSchema>;

export const OwnTenantsQuery = Type.Object({ ...paginationQuery }, { additionalProperties: false });
export type OwnTenantsQuery = Static<typeof OwnTenantsQuery>;

export const DeleteAccountBody = Type.Object({ password: { ...PasswordSchema, description: 'The current password.' } }, { additionalProperties: false });
export type DeleteAccountBody = Static<typeof DeleteAccountBody>;

// ---------------------------------------------------------------------------------------------------------
// Members of the current tenant
// ---------------------------------------------------------------------------------------------------------

export const MemberSchema = Type.Object(
  {
    id: Uuid('The person’s user id.'),
    email: Type.String(),
    name: Type.String(),
    role: MembershipRoleSchema,
    status: { ...MembershipStatusSchema, description: 'A deactivated member keeps the membership but cannot act in the tenant.' },
    title: Nullable(Type.String(), 'Job title in this tenant, or null.'),
    createdAt: Type.String({ format: 'date-time', description: 'When the person became a member.' }),
    storeIds: Type.Array(Uuid(), { description: 'The live stores the member is assigned to.' }),
  },
  { $id: 'Member', description: 'A person’s membership in the current tenant.' },
);
export type MemberView = Static<typeof MemberSchema>;

export const MemberParams = Type.Object({ id: Uuid('The member’s user id.') });

export const MemberListQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Part of the name or email address (case-insensitive).' })),
    status: Type.Optional(MembershipStatusSchema),
    role: Type.Optional({ ...MembershipRoleSchema, description: 'Only members with this built-in tenant role.' }),
    roleId: Type.Optional(
      Uuid(
        'Only members holding this role: a built-in tenant role as their membership role, a built-in store role in any live store, a custom role tenant-wide or in a live store. An id that is no role of this tenant matches nobody.',
      ),
    ),
    storeId: Type.Optional(Uuid('Only members assigned to this store.')),
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type MemberListQuery = Static<typeof MemberListQuery>;

export const CreateMemberBody = Type.Object(
  {
    email: EmailSchema,
    name: PersonNameSchema,
    password: Type.Optional({ ...PasswordSchema, description: 'The new person’s password; without it they get a link by mail to choose one.' }),
    role: Type.Optional({ ...AssignableRoleSchema, description: '`admin` or `member` (default); the same as naming the built-in role’s id in `roleIds`, with which it must agree.' }),
    roleIds: Type.Optional(
      Type.Array(Uuid(), {
        maxItems: 50,
        description: 'Tenant-scope roles of this tenant (GET /api/v1/roles): at most one built-in (`admin` or `member`) plus any custom roles.',
      }),
    ),
    storeIds: Type.Optional(Type.Array(Uuid(), { maxItems: 100, description: 'Live stores of this tenant to assign the member to.' })),
  },
  { additionalProperties: false },
);
export type CreateMemberBody = Static<typeof CreateMemberBody>;

export const UpdateMemberBody = Type.Object(
  {
    status: Type.Optional({ ...MembershipStatusSchema, description: '`deactivated` cuts the member’s access to this tenant at once; `active` restores it.' }),
    title: Type.Optional(Nullable(TitleSchema, 'Job title; null clears it.')),
    role: Type.Optional(AssignableRoleSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateMemberBody = Static<typeof UpdateMemberBody>;

/** Shared schemas the routes reference by `$ref`; registered once with `app.addSchema`. */
export const memberSchemas = [MeSchema, OwnTenantSchema, MemberSchema];
