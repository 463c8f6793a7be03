/**
 * Request and response schemas of the role assignment routes (`/api/v1/users/:id/roles`) and of the
 * caller's effective permissions (`/api/v1/users/me/permissions`). Types are derived, never written twice.
 */
import { Type, type Static } from 'typebox';

const Uuid = (description: string) => Type.String({ format: 'uuid', description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const HeldRoleSchema = Type.Object(
  {
    role: Type.Object(
      {
        id: Uuid('Role id.'),
        key: Nullable(
          Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member'), Type.Literal('store_manager'), Type.Literal('store_staff')]),
          'The built-in role’s key; null for a custom role.',
        ),
        name: Type.String(),
        scope: Type.Union([Type.Literal('tenant'), Type.Literal('store')], { description: '`tenant`: held tenant-wide; `store`: held in one store.' }),
        builtIn: Type.Boolean({ description: 'A built-in role (its permissions come from the catalog and cannot be edited).' }),
      },
      { description: 'The role held.' },
    ),
    storeId: Nullable(Uuid('Store id.'), 'The store the role is held in; null for a tenant-wide role.'),
    source: Type.Union([Type.Literal('membership'), Type.Literal('store'), Type.Literal('assignment')], {
      description:
        '`membership`: the member’s built-in tenant role (exactly one); `store`: their built-in role in a store they are assigned to; `assignment`: a custom role.',
    }),
    assignedAt: Type.String({
      format: 'date-time',
      description: 'For the built-in tenant role, when the membership last changed; for a store role, when the person was assigned to the store; otherwise when the role was assigned.',
    }),
  },
  { $id: 'HeldRole', description: 'A role a member holds, and where.' },
);
export type HeldRoleView = Static<typeof HeldRoleSchema>;

export const EffectivePermissionsSchema = Type.Object(
  {
    tenantId: Nullable(Uuid('Tenant id.'), 'The tenant the token acts in; null when it acts in none (or its access there is revoked).'),
    storeId: Nullable(Uuid('Store id.'), 'The store asked about (`storeId`), whose store permissions are included; null for tenant-wide only.'),
    roles: Type.Array(Type.Ref('HeldRole'), { description: 'Every role the caller holds in the tenant (all stores).' }),
    permissions: Type.Array(Type.String(), { description: 'The permissions the caller holds (tenant-wide, plus those of `storeId`), in catalog order.' }),
  },
  { $id: 'EffectivePermissions', description: 'What the signed-in person may do: what the console uses to show or hide things.' },
);
export type EffectivePermissionsView = Static<typeof EffectivePermissionsSchema>;

export const MemberParams = Type.Object({ id: Uuid('The member’s user id.') });

export const AssignmentParams = Type.Object({ id: Uuid('The member’s user id.'), roleId: Uuid('Role id.') });

export const AssignRoleBody = Type.Object(
  {
    roleId: Uuid('The role to give: a built-in or custom role of this tenant.'),
    storeId: Type.Optional(Uuid('The store to hold a store-scope role in (required for those, refused for tenant-scope roles).')),
  },
  { additionalProperties: false },
);
export type AssignRoleInput = Static<typeof AssignRoleBody>;

export const RemoveRoleQuery = Type.Object(
  { storeId: Type.Optional(Uuid('The store the role is held in (required for store-scope roles).')) },
  { additionalProperties: false },
);

export const MyPermissionsQuery = Type.Object(
  { storeId: Type.Optional(Uuid('Include the permissions held in this store (one you are assigned to, or any with `stores.manage`).')) },
  { additionalProperties: false },
);

/** Registered once by the routes plugin, so `Type.Ref` resolves and OpenAPI names them. */
export const assignmentSchemas = [HeldRoleSchema, EffectivePermissionsSchema];
