// Turns every error into application/problem+json: validation failures, unknown routes, wrong methods,
// an unreachable database, and HTTP so malformed that Fastify never builds a request from it.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable } from '../services/readiness.service.js';
import { adviseDetail } from '../diagnoses.js';
import { AppError, errorCatalog, isAppError, type ErrorCode } from '../errors.js';
import type { ProblemBody } from '../schemas/problem.js';

/** Seconds a caller should wait before retrying while the database is unavailable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** The problem document: the detail of the occurrence followed by the diagnoses table's advice for its code and reason. */
function problemBody(error: AppError, requestId?: string): ProblemBody {
  const { title } = errorCatalog[error.code];
  const { code, status, extras } = error;
  const detail = adviseDetail(code, error.message, extras.reason);
  return { type: `urn:gitlab-connect:problem:${code}`, title, status, detail, code, ...extras, ...(requestId ? { requestId } : {}) };
}

function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.extras.retryAfter !== undefined) reply.header('retry-after', String(error.extras.retryAfter));
  return reply.code(error.status).type('application/problem+json').send(problemBody(error, reply.request.id));
}

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

function fieldOf(issue: ValidationIssue, context: string | undefined): string {
  const params = issue.params;
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

/** Catalogue codes that own a 4xx status; any other 4xx is `client_error` keeping its status. */
const codeByStatus = new Map<number, ErrorCode>(
  (['malformed_request', 'method_not_allowed', 'request_timeout', 'payload_too_large', 'unsupported_media_type', 'rate_limited', 'request_headers_too_large'] as const).map((code) => [errorCatalog[code].status, code]),
);

/** A 4xx that is not ours keeps its status, under the catalogue code of that status when there is one. */
function clientErrorOf(status: number, detail: string): AppError {
  const code = codeByStatus.get(status);
  return code ? new AppError(code, detail) : new AppError('client_error', detail, {}, status);
}

function databaseUnavailable(): AppError {
  return new AppError('database_unavailable', 'The database cannot be reached or did not answer in time; retry shortly', { retryAfter: DATABASE_RETRY_AFTER_SECONDS });
}

/** Maps an error that is not an AppError; undefined means it is ours to hide behind internal_error. */
function fastifyErrorToAppError(error: FastifyError): AppError | undefined {
  if (error.validation) {
    const errors = error.validation.map((issue) => ({ field: fieldOf(issue, error.validationContext), message: issue.message ?? 'is not valid' }));
    const summary = errors.map((issue) => `${issue.field} ${issue.message}`).join('; ');
    return new AppError('validation_failed', `The request is not valid: ${summary}`, { errors });
  }
  const mapped = error.code ? fastifyCodes[error.code] : undefined;
  if (mapped) return new AppError(mapped, error.message);
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return clientErrorOf(error.statusCode, error.message);
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return undefined;
}

/** An AppError as given, except an internal_error whose cause is an unreachable database. */
function refineAppError(error: AppError): AppError {
  return error.code === 'internal_error' && isDatabaseUnavailable(error.cause) ? databaseUnavailable() : error;
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The methods routed for `path`; OPTIONS alone (CORS answers it on every path) does not make a path known. */
function allowedMethods(app: FastifyInstance, path: string): HTTPMethods[] {
  // Fastify's types leave it out, but findRoute answers null when no route matches.
  const allowed = METHODS.filter((method) => (app.findRoute({ method, url: path }) as ReturnType<FastifyInstance['findRoute']> | null) !== null);
  return allowed.some((method) => method !== 'OPTIONS') ? allowed : [];
}

function onError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const appError = isAppError(error) ? refineAppError(error) : fastifyErrorToAppError(error);
  if (appError) {
    // An internal_error raised on purpose carries what caused it: that is what operators need.
    if (appError.code === 'internal_error') request.log.error({ err: appError.cause ?? appError }, appError.message);
    else if (appError.status >= 500) request.log.warn({ code: appError.code, err: error }, appError.message);
    return sendProblem(reply, appError);
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(reply, new AppError('internal_error', 'An internal error occurred; quote the request id to support'));
}

/** Answers for HTTP that never became a request (Node's clientError), as Fastify's default does, in RFC 9457. */
function clientErrorProblem(error: NodeJS.ErrnoException): AppError {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError('request_timeout', 'The request did not arrive in time; send it again');
  if (error.code === 'HPE_HEADER_OVERFLOW') return new AppError('request_headers_too_large', 'The request line and headers exceed 16 KiB (Node counts the URL with them); send a shorter URL or query string, or fewer or shorter headers (cookies included)');
  return new AppError('malformed_request', 'The request is not valid HTTP/1.1; check the request line and headers');
}

/** Fastify's `clientErrorHandler` option: a problem+json answer, then the socket is closed. */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const problem = clientErrorProblem(error);
  this.log.debug({ err: error, code: problem.code }, 'malformed HTTP refused');
  if (socket.writable) {
    const body = JSON.stringify(problemBody(problem));
    const head = `HTTP/1.1 ${String(problem.status)} ${String(STATUS_CODES[problem.status])}\r\nContent-Type: application/problem+json\r\nContent-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n`;
    socket.end(head + body);
  }
  socket.destroySoon();
}

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (FST_ERR_BAD_URL: a path whose
 * percent-encoding cannot be decoded; FST_ERR_ASYNC_CONSTRAINT) answered as problem+json, not as
 * Fastify's own JSON.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const detail = error.code === 'FST_ERR_BAD_URL' ? 'The request path cannot be decoded (a malformed percent-encoding such as %ZZ); check the URL' : 'The request cannot be routed; check the URL and headers';
  void sendProblem(reply, new AppError('malformed_request', detail));
}

export default fp(
  function errorsPlugin(app: FastifyInstance): Promise<void> {
    app.setErrorHandler(onError);
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      const allowed = allowedMethods(app, path);
      if (allowed.length === 0) return sendProblem(reply, new AppError('not_found', `No route ${request.method} ${path}`));
      reply.header('allow', allowed.join(', '));
      // OPTIONS is routed for CORS preflights only: a plain OPTIONS is told what a preflight needs.
      const others = allowed.filter((method) => method !== 'OPTIONS').join(' or ');
      const detail = request.method === 'OPTIONS' ? `${path} answers OPTIONS only as a CORS preflight (with Origin and Access-Control-Request-Method headers); use ${others}` : `${path} does not answer ${request.method}; use ${allowed.join(' or ')}`;
      return sendProblem(reply, new AppError('method_not_allowed', detail));
    });
    return Promise.resolve();
  },
  { name: 'errors' },
);
