/** Request and response schemas of `/api/v1/auth` (types are derived from them, never written twice). */
import { Type, type Static } from 'typebox';
import { PASSWORD_MAX_LENGTH } from './passwords.js';

const DateTime = (description?: string) => Type.String({ format: 'date-time', ...(description ? { description } : {}) });

/**
 * An email address: one `@`, no spaces, no colon (it also names the account in otpauth URLs), at most
 * 254 characters (RFC 5321).
 */
export const EmailSchema = Type.String({ format: 'email', maxLength: 254, pattern: '^[^\\s:@]+@[^\\s:@]+$', description: 'Email address.' });

/**
 * The form in which addresses are compared: the users table is unique on `lower(email)`, and the attempt
 * guard counts "Ann@x.io" and "ann@x.io" as one account.
 */
export function normalizeEmail(email: string): string {
  return email.normalize('NFC').toLowerCase();
}

/**
 * A password as typed. Length rules (8–256) are checked by the password policy after Unicode
 * normalisation, so the schema only caps the size of what reaches the hasher.
 */
export const PasswordSchema = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH * 4, description: 'Password, 8 to 256 characters.' });

export const PersonNameSchema = Type.String({ minLength: 1, maxLength: 200, description: 'Display name.' });

/** Opaque tokens (refresh, email, MFA): 43 base64url characters; a generous cap keeps junk out. */
export const OpaqueTokenSchema = Type.String({ minLength: 1, maxLength: 200 });

export const TotpCodeSchema = Type.String({ minLength: 6, maxLength: 12, description: 'Six-digit code from the authenticator app.' });

export const RecoveryCodeSchema = Type.String({ minLength: 12, maxLength: 32, description: 'One of the recovery codes (`XXXX-XXXX-XXXX`).' });

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    name: Type.String(),
    emailVerified: Type.Boolean(),
    mfaEnabled: Type.Boolean(),
    platformRole: Type.Union([Type.Literal('platform_admin'), Type.Literal('platform_operator'), Type.Null()]),
    createdAt: DateTime(),
  },
  { $id: 'User', description: 'A person (one global identity, many memberships).' },
);
export type UserView = Static<typeof UserSchema>;

export const TenantSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    slug: Type.String(),
    status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('closed')]),
  },
  { $id: 'Tenant' },
);
export type TenantView = Static<typeof TenantSchema>;

export const MembershipSchema = Type.Object(
  {
    tenantId: Type.String({ format: 'uuid' }),
    tenantName: Type.String(),
    tenantSlug: Type.String(),
    role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
    status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  },
  { $id: 'Membership' },
);
export type MembershipView = Static<typeof MembershipSchema>;

const tokenFields = {
  accessToken: Type.String({ description: 'EdDSA-signed JWT; send as `Authorization: Bearer <token>`.' }),
  refreshToken: Type.String({ description: 'Opaque, single-use; exchange at POST /api/v1/auth/refresh.' }),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires.' }),
};

export const TokenPairSchema = Type.Object(tokenFields, { $id: 'TokenPair' });
export type TokenPair = Static<typeof TokenPairSchema>;

export const LoginResponseSchema = Type.Object(
  {
    user: Type.Ref('User'),
    tenant: Type.Union([Type.Ref('Tenant'), Type.Null()], { description: 'The tenant the tokens act in; null for a person with no active membership.' }),
    memberships: Type.Array(Type.Ref('Membership')),
    ...tokenFields,
  },
  { $id: 'LoginResponse' },
);
export interface LoginResponse extends TokenPair {
  user: UserView;
  tenant: TenantView | null;
  memberships: MembershipView[];
}

export const MfaChallengeSchema = Type.Object(
  {
    mfaRequired: Type.Literal(true),
    mfaToken: Type.String({ description: 'Single-use, 5 minutes: send it with a code to POST /api/v1/auth/mfa/verify.' }),
  },
  { $id: 'MfaChallenge' },
);

/** Shared schemas the routes reference by `$ref`; registered once with `app.addSchema`. */
export const identitySchemas = [UserSchema, TenantSchema, MembershipSchema, TokenPairSchema, LoginResponseSchema, MfaChallengeSchema];
