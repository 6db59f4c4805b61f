// Turns every error, validation failures and unknown routes included, into application/problem+json.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError, errorCatalog, isAppError, type ErrorCode, type ProblemExtras } from '../errors.js';
import type { ProblemBody } from '../schemas/problem.js';

function problemBody(code: ErrorCode, detail: string, extras: ProblemExtras = {}, requestId?: string): ProblemBody {
  const { status, title } = errorCatalog[code];
  return { type: `urn:gitlab-connect:problem:${code}`, title, status, detail, code, ...extras, ...(requestId ? { requestId } : {}) };
}

function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.extras.retryAfter !== undefined) reply.header('retry-after', String(error.extras.retryAfter));
  return reply
    .code(error.status)
    .type('application/problem+json')
    .send(problemBody(error.code, error.message, error.extras, reply.request.id));
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

function fieldOf(issue: ValidationIssue, context: string | undefined): string {
  const params = issue.params as Record<string, unknown>;
  const name = params.missingProperty ?? params.additionalProperty;
  const pointer = `${issue.instancePath}${typeof name === 'string' ? `/${name}` : ''}`;
  return `${context ?? 'request'}${pointer.replaceAll('/', '.')}`;
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
};

/** Maps an error that is not an AppError; undefined means it is ours to hide behind internal_error. */
function fastifyErrorToAppError(error: FastifyError): AppError | undefined {
  if (error.validation) {
    const errors = error.validation.map((issue) => ({ field: fieldOf(issue, error.validationContext), message: issue.message ?? 'is not valid' }));
    const summary = errors.map((issue) => `${issue.field} ${issue.message}`).join('; ');
    return new AppError('validation_failed', `The request is not valid: ${summary}`, { errors });
  }
  const mapped = error.code ? fastifyCodes[error.code] : undefined;
  if (mapped) return new AppError(mapped, error.message);
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return new AppError('validation_failed', error.message);
  return undefined;
}

export default fp(
  async function errorsPlugin(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const appError = isAppError(error) ? error : fastifyErrorToAppError(error);
      if (appError) {
        // An internal_error raised on purpose carries what caused it: that is what operators need.
        if (appError.code === 'internal_error') request.log.error({ err: appError.cause ?? appError }, appError.message);
        else if (appError.status >= 500) request.log.warn({ code: appError.code }, appError.message);
        return sendProblem(reply, appError);
      }
      request.log.error({ err: error }, 'unhandled error');
      return sendProblem(reply, new AppError('internal_error', 'An internal error occurred; quote the request id to support'));
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, new AppError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
    );
  },
  { name: 'errors' },
);
