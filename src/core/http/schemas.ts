/** Schemas shared by every route: the problem document and its standard responses. */
import { Type } from 'typebox';

export const FieldErrorSchema = Type.Object(
  {
    in: Type.Union([Type.Literal('body'), Type.Literal('querystring'), Type.Literal('params'), Type.Literal('headers')]),
    field: Type.String({ description: 'JSON Pointer to the failing field within the request part.' }),
    message: Type.String(),
  },
  { $id: 'FieldError' },
);

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URI identifying the problem type.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable, namespaced error code, e.g. `auth.invalid_credentials`.' }),
    requestId: Type.String({ description: 'Echoes the X-Request-Id response header.' }),
    errors: Type.Optional(Type.Array(Type.Ref('FieldError'))),
  },
  { $id: 'Problem', additionalProperties: true, description: 'RFC 9457 problem details.' },
);

/**
 * An error response as it is served: `application/problem+json`. Declared under `content` so the
 * OpenAPI document (and clients generated from it) name the real media type, and Fastify serializes
 * problem replies with this schema.
 */
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: Type.Ref('Problem') } } });

/** Error responses every route can produce; spread into a route's `response` schema. */
export const standardErrors = {
  400: problem('Invalid request (one entry per failing field in `errors`).'),
  429: problem('Rate limit exceeded; see Retry-After.'),
  500: problem('Internal error (no internal detail is disclosed).'),
};

export const problemResponse = problem;
