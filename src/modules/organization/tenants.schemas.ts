/** Request and response schemas of `/api/v1/tenants` (types are derived from them, never written twice). */
import { Type, type Static } from 'typebox';
import { PasswordSchema } from '../identity/index.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

/** A tenant name as typed: surrounding spaces are trimmed by the service, and a blank name is refused. */
export const TenantNameSchema = Type.String({ minLength: 1, maxLength: 200, description: 'Display name, 1–200 characters.' });

export const TenantSlugSchema = Type.String({
  minLength: 3,
  maxLength: 63,
  description: 'Address of the tenant: 3–63 lowercase letters, digits and single hyphens, not starting or ending with one; reserved names (`admin`, `api`, `www`, …) are refused.',
});

export const TenantProfileSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    slug: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
    createdAt: DateTime('When the tenant was created.'),
    updatedAt: DateTime('When its name, slug, settings or status last changed.'),
  },
  { $id: 'TenantProfile', description: 'A tenant.' },
);
export type TenantProfile = Static<typeof TenantProfileSchema>;

export const UpdateTenantBody = Type.Object(
  { name: Type.Optional(TenantNameSchema), slug: Type.Optional(TenantSlugSchema) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateTenantInput = Static<typeof UpdateTenantBody>;

export const CreateTenantBody = Type.Object({ name: TenantNameSchema }, { additionalProperties: false });
export type CreateTenantInput = Static<typeof CreateTenantBody>;

export const TransferOwnershipBody = Type.Object(
  {
    userId: Type.String({ format: 'uuid', description: 'The active member who becomes the owner.' }),
    password: { ...PasswordSchema, description: 'The current owner’s password.' },
  },
  { additionalProperties: false },
);
export type TransferOwnershipInput = Static<typeof TransferOwnershipBody>;

export const OwnershipTransferSchema = Type.Object(
  {
    ownerUserId: Type.String({ format: 'uuid', description: 'The new owner.' }),
    previousOwnerUserId: Type.String({ format: 'uuid', description: 'The former owner, now an admin.' }),
  },
  { $id: 'OwnershipTransfer', description: 'Who owns the tenant now.' },
);
export type OwnershipTransfer = Static<typeof OwnershipTransferSchema>;

export const CloseTenantBody = Type.Object(
  {
    password: { ...PasswordSchema, description: 'The owner’s password.' },
    confirm: Type.String({ minLength: 1, maxLength: 63, description: 'The tenant’s slug, typed out to confirm.' }),
  },
  { additionalProperties: false },
);
export type CloseTenantInput = Static<typeof CloseTenantBody>;

export const TenantClosureSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Literal('closed'),
    closedAt: DateTime('When the tenant was closed.'),
    restorableUntil: DateTime('Until when a platform administrator can restore it; after that it and all its data are purged.'),
  },
  { $id: 'TenantClosure', description: 'A closed tenant.' },
);
export type TenantClosure = Static<typeof TenantClosureSchema>;
