/** Request and response schemas of the invitation routes (types are derived from them, never written twice). */
import { Type, type Static } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { EmailSchema, OpaqueTokenSchema, PasswordSchema, PersonNameSchema } from '../identity/index.js';

/** The inviter's note, shown (as text) in the mail. */
export const INVITATION_MESSAGE_MAX = 1000;
export const INVITATION_STORES_MAX = 100;
export const INVITATION_ROLES_MAX = 50;

const DateTime = (description: string) => Type.String({ format: 'date-time', description });

const InvitableRole = Type.Union([Type.Literal('admin'), Type.Literal('member')], {
  description: 'The built-in tenant role the invitee gets (ownership moves only by transfer); the same as naming the built-in role’s id in `roleIds`. Default: member.',
});
/** As stored: `owner` only for the first owner of a tenant created by platform administration. */
const InvitedRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], {
  description: 'The built-in tenant role the invitee gets (`owner` only for the first owner of a tenant created by platform administration).',
});
const InvitationStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]);

export const InvitationSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String({ description: 'The invited address.' }),
    role: InvitedRole,
    roleIds: Type.Array(Type.String({ format: 'uuid' }), {
      description: 'Custom tenant roles the invitee gets on acceptance (those deleted by then are skipped); the built-in role is `role`.',
    }),
    storeIds: Type.Array(Type.String({ format: 'uuid' }), { description: 'Stores the invitee is assigned to on acceptance.' }),
    message: Type.Union([Type.String(), Type.Null()], { description: 'The inviter’s note, as sent in the mail.' }),
    status: { ...InvitationStatusSchema, description: '`pending` until accepted, revoked (or replaced by a new invitation) or past `expiresAt`.' },
    expiresAt: DateTime('When the link stops working (7 days after sending or resending).'),
    createdAt: DateTime('When the invitation was sent.'),
    invitedBy: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'The user id of the inviter (null once their account is gone).' }),
    acceptedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it was accepted.' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it was revoked or replaced.' }),
  },
  { $id: 'Invitation', description: 'An invitation to join the tenant. The token is only ever in the mail.' },
);

export const InviteBody = Type.Object(
  {
    email: EmailSchema,
    // No schema default: `role` left out must not disagree with a built-in role named in `roleIds`.
    role: Type.Optional(InvitableRole),
    roleIds: Type.Optional(
      Type.Array(Type.String({ format: 'uuid' }), {
        maxItems: INVITATION_ROLES_MAX,
        description:
          'Tenant-scope roles of this tenant (GET /api/v1/roles): at most one built-in (`admin` or `member`, default `member`; it agrees with `role` when both are given) plus any custom roles, held from acceptance on.',
      }),
    ),
    storeIds: Type.Optional(Type.Array(Type.String({ format: 'uuid' }), { maxItems: INVITATION_STORES_MAX, description: 'Live stores of this tenant to assign the invitee to.' })),
    message: Type.Optional(Type.String({ maxLength: INVITATION_MESSAGE_MAX, description: 'A personal note for the mail (plain text).' })),
  },
  { additionalProperties: false },
);
export type InviteBodyType = Static<typeof InviteBody>;

export const InvitationListQuery = Type.Object(
  {
    status: Type.Optional({ ...InvitationStatusSchema, description: 'Only invitations in this status.' }),
    ...paginationQuery,
  },
  { additionalProperties: false },
);

export const InvitationParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Invitation id.' }) });

export const AcceptInviteBody = Type.Object(
  {
    token: { ...OpaqueTokenSchema, description: 'The `token` of the link in the invitation mail.' },
    name: Type.Optional({ ...PersonNameSchema, description: 'Display name: required when no account has the invited address.' }),
    password: Type.Optional({ ...PasswordSchema, description: 'A new account’s password (policy as at registration), or the existing account’s password.' }),
  },
  { additionalProperties: false },
);
export type AcceptInviteBodyType = Static<typeof AcceptInviteBody>;
