/**
 * Request and response schemas of the platform's people routes (`/api/v1/admin/users`,
 * `/api/v1/admin/platform-users`) and of `/api/v1/admin/stats`. Types are derived from the schemas, never
 * written twice.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';

const Uuid = (description?: string) => Type.String({ format: 'uuid', ...(description ? { description } : {}) });
const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

const PlatformRoleSchema = Type.Union([Type.Literal('platform_admin'), Type.Literal('platform_operator')], {
  description: '`platform_admin` (everything here) or `platform_operator` (read-only support).',
});
const UserStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('disabled')], {
  description: '`disabled`: the person cannot sign in anywhere on the platform.',
});

export const AdminMembershipSchema = Type.Object(
  {
    tenantId: Uuid(),
    tenantName: Type.String(),
    tenantSlug: Type.String(),
    tenantStatus: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
    role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], { description: 'The built-in tenant role.' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  },
  { $id: 'AdminMembership', description: 'One of a person’s memberships, with its tenant.' },
);
export type AdminMembershipView = Static<typeof AdminMembershipSchema>;

const adminUserFields = {
  id: Uuid(),
  email: Type.String(),
  name: Type.String(),
  status: UserStatusSchema,
  platformRole: Nullable(PlatformRoleSchema, 'The person’s platform role; null: none.'),
  createdAt: DateTime('When the person signed up (or was created).'),
  memberships: Type.Array(Type.Ref('AdminMembership'), { description: 'Every membership, in every tenant, by tenant name.' }),
};

export const AdminUserSchema = Type.Object(adminUserFields, { $id: 'AdminUser', description: 'A person, as platform administration sees them.' });
export type AdminUserView = Static<typeof AdminUserSchema>;

export const AdminUserDetailSchema = Type.Object(
  {
    ...adminUserFields,
    emailVerified: Type.Boolean(),
    mfaEnabled: Type.Boolean(),
    lastSignInAt: Nullable(DateTime('When the person last signed in.'), 'When the latest session opened (impersonations excluded); null: never.'),
    activeSessions: Type.Integer({ minimum: 0, description: 'Live sessions (not revoked, not expired; impersonations excluded).' }),
  },
  { $id: 'AdminUserDetail', description: 'A person with their sign-in standing.' },
);
export type AdminUserDetailView = Static<typeof AdminUserDetailSchema>;

export const ListAdminUsersQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Case-insensitive substring of the email address or the name.' })),
    status: Type.Optional(UserStatusSchema),
    platformRole: Type.Optional(
      Type.Union([Type.Literal('platform_admin'), Type.Literal('platform_operator'), Type.Literal('none')], {
        description: 'Only holders of this platform role; `none`: only people without one.',
      }),
    ),
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type ListAdminUsersInput = Static<typeof ListAdminUsersQuery>;

export const AdminUserIdParams = Type.Object({ id: Uuid('The person’s user id.') });

export const DisableUserBody = Type.Object(
  { reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'Why (kept in the platform audit trail).' })) },
  { additionalProperties: false },
);
export type DisableUserInput = Static<typeof DisableUserBody>;

// ---- Platform staff ----

export const PlatformUserSchema = Type.Object(
  {
    id: Uuid(),
    email: Type.String(),
    name: Type.String(),
    status: UserStatusSchema,
    platformRole: PlatformRoleSchema,
    createdAt: DateTime('When the person signed up (or was created).'),
  },
  { $id: 'PlatformUser', description: 'A holder of a platform role.' },
);
export type PlatformUserView = Static<typeof PlatformUserSchema>;

export const ListPlatformUsersQuery = Type.Object({ ...paginationQuery }, { additionalProperties: false });

export const GrantPlatformRoleBody = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: 'The person’s email address (any capitalisation). Give this or `userId`.' })),
    userId: Type.Optional(Uuid('The person’s user id. Give this or `email`.')),
    role: PlatformRoleSchema,
  },
  { additionalProperties: false, description: 'Exactly one of `email` and `userId`, and the role to hold.' },
);
export type GrantPlatformRoleInput = Static<typeof GrantPlatformRoleBody>;

export const PlatformUserIdParams = Type.Object({ userId: Uuid('The person’s user id.') });

// ---- Statistics ----

export const PlatformStatsSchema = Type.Object(
  {
    tenants: Type.Object({
      active: Type.Integer({ minimum: 0 }),
      suspended: Type.Integer({ minimum: 0 }),
      closed: Type.Integer({ minimum: 0, description: 'Closed and not yet purged (restorable).' }),
      total: Type.Integer({ minimum: 0 }),
    }),
    users: Type.Object({ total: Type.Integer({ minimum: 0 }), disabled: Type.Integer({ minimum: 0 }) }),
    stores: Type.Object({ live: Type.Integer({ minimum: 0, description: 'Stores not deleted, of tenants not closed.' }) }),
    signupsPerDay: Type.Array(
      Type.Object({ date: Type.String({ format: 'date', description: 'UTC day, `YYYY-MM-DD`.' }), count: Type.Integer({ minimum: 0 }) }),
      { description: 'People created per UTC day over the last 30 days, oldest first, today last; days without sign-ups count 0.' },
    ),
  },
  { $id: 'PlatformStats', description: 'The platform in numbers.' },
);
export type PlatformStatsView = Static<typeof PlatformStatsSchema>;

/** Registered once by the people routes plugin, so `Type.Ref` resolves and OpenAPI names them. */
export const adminUserSchemas = [AdminMembershipSchema, AdminUserSchema, AdminUserDetailSchema];

// ---- Responses shared by these routes ----

export const adminRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse('The caller holds no platform role allowing this, or acts through an impersonation (`auth.forbidden`).'),
};
export const userNotFoundResponse = problemResponse('No person has this id (`platform.user_not_found`).');
export const bearer = [{ bearerAuth: [] }];
