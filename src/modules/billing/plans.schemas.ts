/**
 * Request and response schemas of the plans routes (`/api/v1/subscriptions/plans`, public, and
 * `/api/v1/admin/plans`, platform); types are derived from them, never written twice. What a schema cannot
 * say — a currency ISO 4217 knows, at least one billing cycle offered, a non-blank name — the service
 * checks and answers as 400 `request.validation_failed` naming the field.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { problemResponse, standardErrors } from '../../core/http/schemas.js';
import { FEATURE_CODES, FEATURES, LIMIT_KEYS, LIMITS, type LimitKey } from './features.js';

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

/** What the `plans_code_format` check of the table accepts. */
export const PLAN_CODE_PATTERN = '^[a-z0-9][a-z0-9_-]{0,39}$';

/** Minor units are exact integers: bigint in the table, read as a JS number, so no more than this. */
const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

/**
 * An integer ≥ 0 or null, as one schema with a type list: the app's Ajv coerces types, and an `anyOf` of
 * integer and null would turn a null into 0 (or a 0 into null) before the right branch is tried.
 */
const AmountOrNull = (description: string) => Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0, maximum: MAX_AMOUNT, description });
const Price = (cycle: string) => AmountOrNull(`Price per ${cycle} in minor units of \`currency\` (cents for USD); null: this cycle is not offered.`);
const LimitValue = (key: LimitKey) => AmountOrNull(`${LIMITS[key]} Null: unlimited.`);
const featureList = FEATURE_CODES.map((code) => `\`${code}\` (${FEATURES[code]})`).join(', ');

const limitProperties = Object.fromEntries(LIMIT_KEYS.map((key) => [key, LimitValue(key)])) as Record<LimitKey, ReturnType<typeof LimitValue>>;

export const LimitsSchema = Type.Object(limitProperties, { additionalProperties: false, description: 'Every limit of the catalog; an integer ≥ 0, or null for unlimited.' });
const PricesSchema = Type.Object(
  { monthly: Price('month'), yearly: Price('year') },
  { additionalProperties: false, description: 'Price per billing cycle in minor units; null: the cycle is not offered.' },
);
export const Features = (description: string) => Type.Array({ ...Type.Enum(FEATURE_CODES), type: 'string' }, { uniqueItems: true, maxItems: FEATURE_CODES.length, description });

export const PlanSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    code: Type.String({ description: 'Stable machine name (`free`, `pro`), unique; cannot change.' }),
    name: Type.String(),
    description: Type.String({ description: 'What the plan is for (may be empty).' }),
    currency: Type.String({ description: 'ISO 4217 code of the prices, e.g. `USD`.' }),
    prices: PricesSchema,
    trialDays: Type.Integer({ minimum: 0, maximum: 365, description: 'Days of free trial a new subscription starts with (0: none).' }),
    limits: LimitsSchema,
    features: Type.Array(Type.String(), { description: `Feature codes the plan includes, in catalog order: ${featureList}.` }),
    isPublic: Type.Boolean({ description: 'Listed in the public catalog (GET /api/v1/subscriptions/plans); a private plan is given by platform administration only.' }),
    sortOrder: Type.Integer({ description: 'Position in the catalog (ascending; then by code).' }),
    archived: Type.Boolean({ description: 'Nobody new can choose an archived plan; its existing subscribers keep it.' }),
    archivedAt: Nullable(DateTime('When it was archived.'), 'When it was archived; null while it is not.'),
    createdAt: DateTime('When the plan was created.'),
    updatedAt: DateTime('When the plan last changed.'),
  },
  { $id: 'Plan', description: 'A plan a tenant can subscribe to.' },
);
export type PlanView = Static<typeof PlanSchema>;

export const planSchemas = [PlanSchema];

export const PlanListSchema = (description: string) =>
  Type.Object({ data: Type.Array(Type.Ref('Plan')) }, { description: `${description} Plans are few, so the list is served whole (no pages).` });

export const PublicPlanParams = Type.Object({
  id: Type.Union([Type.String({ format: 'uuid' }), Type.String({ pattern: PLAN_CODE_PATTERN })], { description: 'The plan’s id, or its code (e.g. `pro`).' }),
});

export const AdminPlanParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Plan id.' }) });

export const ListAdminPlansQuery = Type.Object(
  { archived: Type.Optional(Type.Boolean({ description: '`true`: archived plans only; `false`: plans not archived; omitted: every plan.' })) },
  { additionalProperties: false },
);
export type ListAdminPlansInput = Static<typeof ListAdminPlansQuery>;

const PlanName = Type.String({ minLength: 1, maxLength: 100, description: 'Display name (trimmed; 1–100 characters).' });
const PlanDescription = Type.String({ maxLength: 1000, description: 'What the plan is for (up to 1000 characters).' });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code of the prices, uppercase, e.g. `USD`, `KES`.' });
const TrialDays = Type.Integer({ minimum: 0, maximum: 365, description: 'Days of free trial (0–365).' });
const SortOrder = Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, description: 'Position in the catalog (ascending; ties by code).' });
const IsPublic = Type.Boolean({ description: 'Listed in the public catalog.' });

const PricesInput = (description: string) =>
  Type.Object({ monthly: Type.Optional(Price('month')), yearly: Type.Optional(Price('year')) }, { additionalProperties: false, description });

export const CreatePlanBody = Type.Object(
  {
    code: Type.String({ pattern: PLAN_CODE_PATTERN, description: 'Unique machine name: lowercase letters, digits, `_` and `-`, up to 40 characters, not shaped like a UUID. Cannot change later.' }),
    name: PlanName,
    description: Type.Optional(PlanDescription),
    currency: Currency,
    prices: PricesInput('Price per billing cycle in minor units; an omitted or null cycle is not offered. At least one cycle must be offered.'),
    trialDays: Type.Optional({ ...TrialDays, default: 0 }),
    limits: LimitsSchema,
    features: Features(`Feature codes of the catalog, each once: ${featureList}.`),
    isPublic: Type.Optional({ ...IsPublic, default: true }),
    sortOrder: Type.Optional({ ...SortOrder, default: 0 }),
  },
  { additionalProperties: false },
);
export type CreatePlanInput = Static<typeof CreatePlanBody>;

export const UpdatePlanBody = Type.Object(
  {
    name: Type.Optional(PlanName),
    description: Type.Optional(PlanDescription),
    currency: Type.Optional(Currency),
    prices: Type.Optional(PricesInput('The cycles given replace theirs (null: no longer offered); the others are kept. At least one cycle must stay offered.')),
    trialDays: Type.Optional(TrialDays),
    limits: Type.Optional(Type.Partial(LimitsSchema, { additionalProperties: false, description: 'The limits given replace theirs; the others are kept.' })),
    features: Type.Optional(Features('The new feature list, replacing the old one.')),
    isPublic: Type.Optional(IsPublic),
    sortOrder: Type.Optional(SortOrder),
  },
  { additionalProperties: false, minProperties: 1, description: 'The fields to change. `code` cannot change (400 naming `/code`); archiving has its own routes.' },
);
export type UpdatePlanInput = Static<typeof UpdatePlanBody>;

export const bearer = [{ bearerAuth: [] }];

export const planNotFound = problemResponse('No plan has this id (`plan.not_found`).');

/** Errors every admin plans route can answer. */
export const adminPlanRouteErrors = {
  ...standardErrors,
  401: problemResponse('Missing, invalid or expired access token, or the session has ended (`auth.unauthenticated`).'),
  403: problemResponse('No platform role allowing this (`auth.forbidden`): reads need `platform.view` (administrators and operators), changes `platform.plans.manage` (administrators only).'),
};
