import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, PROBLEM_CONTENT_TYPE, toProblem, type ErrorCode, type FieldError } from './errors.js';

/** Methods that identify a resource's routes (HEAD follows GET; OPTIONS is answered for every path by CORS). */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Fastify's own error codes that map to a specific problem code. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'request.body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'request.unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'request.validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'request.malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'request.malformed_json',
  FST_ERR_BAD_URL: 'request.invalid_url',
  FST_ERR_MAX_PARAM_LENGTH: 'request.uri_too_long',
};

/** Any other client error keeps its status with a generic code. */
const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'request.validation_failed',
  401: 'auth.unauthenticated',
  403: 'auth.forbidden',
  404: 'resource.not_found',
  405: 'request.method_not_allowed',
  406: 'request.not_acceptable',
  409: 'resource.conflict',
  413: 'request.body_too_large',
  415: 'request.unsupported_media_type',
  429: 'rate_limit.exceeded',
  503: 'service.unavailable',
};

type AjvError = NonNullable<FastifyError['validation']>[number];

function fieldErrors(error: FastifyError): FieldError[] {
  const part = (error.validationContext ?? 'body') as FieldError['in'];
  return (error.validation ?? []).map((issue: AjvError) => {
    const missing = (issue.params as { missingProperty?: string; additionalProperty?: string }) ?? {};
    const child = missing.missingProperty ?? missing.additionalProperty;
    const field = child ? `${issue.instancePath}/${child}` : issue.instancePath || '/';
    const message = issue.keyword === 'additionalProperties' ? 'is not an allowed property' : (issue.message ?? 'is invalid');
    return { in: part, field, message };
  });
}

/** Turns anything thrown into an AppError; unknown errors become a 500 with no internal detail. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const errors = fieldErrors(fastifyError);
    const summary = errors.map((e) => `${e.in}${e.field === '/' ? '' : e.field} ${e.message}`).join('; ');
    return new AppError('request.validation_failed', `The request is invalid: ${summary}.`, { errors });
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped) return new AppError(mapped, fastifyError.message);
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return new AppError(STATUS_CODES[status] ?? 'request.validation_failed', fastifyError.message || 'The request cannot be processed.');
  }
  if (status === 503) return new AppError('service.unavailable', 'The service is temporarily unavailable; retry later.');
  return new AppError('internal.error', 'An unexpected error occurred. Quote the request id when reporting it.');
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  if (error.extras.headers) void reply.headers(error.extras.headers);
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(toProblem(error, request.id));
}

/**
 * Fastify `frameworkErrors`: failures found while routing (an undecodable URL, an over-long path
 * parameter), before any hook runs — so the request id header is set here too.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const appError = toAppError(error);
  if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
  void reply.header('x-request-id', request.id);
  return sendProblem(request, reply, appError);
}

/** Installs problem+json rendering for every error, unknown route and wrong method. */
export const errorHandlerPlugin = fp(async function errorHandler(app: FastifyInstance) {
  // While draining, requests still arriving on open keep-alive connections get a 503 problem document
  // with a request id (Fastify's own return503OnClosing answer is plain JSON without one; app.ts turns it
  // off), and `Connection: close` so the client takes its next request elsewhere.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    void reply.header('connection', 'close');
    done(new AppError('service.unavailable', 'The server is shutting down; retry the request.'));
  });

  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else if (!(error instanceof AppError)) request.log.info({ problem: appError.code, reason: (error as Error).message }, 'request rejected');
    return sendProblem(request, reply, appError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed: string[] = METHODS.filter((method) => method !== request.method && app.findRoute({ method, url: path }));
    if (allowed.length > 0) {
      if (allowed.includes('GET')) allowed.push('HEAD');
      return sendProblem(
        request,
        reply,
        new AppError('request.method_not_allowed', `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}.`, {
          headers: { allow: allowed.join(', ') },
        }),
      );
    }
    return sendProblem(request, reply, new AppError('route.not_found', `No route ${request.method} ${path}.`));
  });
});
