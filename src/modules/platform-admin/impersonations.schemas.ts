/**
 * Request and response schemas of `/api/v1/admin/impersonations` (types are derived from them, never
 * written twice).
 */
import { Type, type Static } from 'typebox';
import { paginationQuery } from '../../core/http/pagination.js';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';

/** An impersonation lasts at most an hour; a longer need is a new one, with its own reason. */
export const IMPERSONATION_MAX_MINUTES = 60;
export const IMPERSONATION_DEFAULT_MINUTES = 15;
/** The database's `impersonations_reason_length` check, so a bad reason is a 400, never a 500. */
export const IMPERSONATION_REASON = { min: 3, max: 500 } as const;

const Uuid = (description: string) => Type.String({ format: 'uuid', description });
const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const ImpersonationSchema = Type.Object(
  {
    id: Uuid('The impersonation.'),
    tenantId: Uuid('The tenant the administrator acts in.'),
    userId: Uuid('The member the administrator acts as.'),
    adminId: Uuid('The platform administrator who started it.'),
    reason: Type.String({ description: 'Why, as given when it started (shown in both audit trails).' }),
    createdAt: DateTime('When it started.'),
    expiresAt: DateTime('When its token and session end on their own.'),
    endedAt: Nullable(DateTime('When it was ended early.'), 'When it was ended early (DELETE, or its session revoked otherwise); null while it runs or once it simply expired.'),
    endedBy: Nullable(Uuid('Who ended it.'), 'The administrator who ended it through DELETE; null otherwise.'),
    active: Type.Boolean({ description: 'Whether its token still works: not ended, not expired, session live.' }),
  },
  { $id: 'Impersonation', description: 'A platform administrator acting as a member of a tenant, for a reason and a bounded time.' },
);
export type ImpersonationView = Static<typeof ImpersonationSchema>;

export const StartImpersonationBody = Type.Object(
  {
    tenantId: Uuid('An active tenant.'),
    userId: Uuid('An active member of that tenant who holds no platform role.'),
    reason: Type.String({
      minLength: IMPERSONATION_REASON.min,
      maxLength: IMPERSONATION_REASON.max,
      pattern: '\\S',
      description: `Why (${IMPERSONATION_REASON.min}–${IMPERSONATION_REASON.max} characters), e.g. the support ticket; written to the platform’s and the tenant’s audit trails.`,
    }),
    minutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: IMPERSONATION_MAX_MINUTES,
        default: IMPERSONATION_DEFAULT_MINUTES,
        description: `How long the token works (1–${IMPERSONATION_MAX_MINUTES} minutes, default ${IMPERSONATION_DEFAULT_MINUTES}).`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type StartImpersonationInput = Static<typeof StartImpersonationBody>;

export const StartedImpersonationSchema = Type.Object(
  {
    impersonation: Type.Ref('Impersonation'),
    accessToken: Type.String({
      description: 'Access token (JWT) acting as the member: `sub` is the member, `tid` the tenant, `act.sub` the administrator (RFC 8693); `exp` is `expiresAt`.',
    }),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ description: 'Seconds until the token expires. There is no refresh token: it cannot be extended.' }),
  },
  { description: 'The impersonation and its only token.' },
);

export const ImpersonationIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'The impersonation.' }) });

export const ListImpersonationsQuery = Type.Object(
  {
    active: Type.Optional(Type.Boolean({ description: '`true`: only those whose token still works; `false`: only those that are over.' })),
    tenantId: Type.Optional(Uuid('Only those in this tenant.')),
    userId: Type.Optional(Uuid('Only those acting as this person.')),
    adminId: Type.Optional(Uuid('Only those started by this administrator.')),
    ...paginationQuery,
  },
  { additionalProperties: false },
);
export type ListImpersonationsFilter = Static<typeof ListImpersonationsQuery>;

export const bearer = [{ bearerAuth: [] }];

/** The errors every impersonation route can answer. */
export const impersonationRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token (`auth.unauthenticated`).'),
  403: problemResponse('Not a platform role that allows this, or an impersonation token (`auth.forbidden`).'),
};
