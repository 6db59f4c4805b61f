// GitLab's non-2xx answers as GitlabApiError, and the default mapping of those and of transport
// failures (timeout, TLS, refused connection, SSRF refusal) to the service's AppError codes.
import { AppError } from '../errors.js';
import type { TlsReason, UnreachableReason } from '../diagnoses.js';
import { AddressNotAllowedError } from './address-guard.js';

/** The wait a 429 without a readable Retry-After gets. */
export const DEFAULT_RETRY_AFTER_SECONDS = 60;
/** A GitLab cannot make callers wait longer than this, whatever its Retry-After says. */
export const MAX_RETRY_AFTER_SECONDS = 3600;

/** A non-2xx answer from GitLab. Fields are exported so callers can add context-specific mapping. */
export class GitlabApiError extends Error {
  readonly status: number;
  override readonly message: string;
  readonly error?: string;
  readonly errorDescription?: string;
  readonly scope?: string;
  readonly retryAfter?: number;
  /** For 3xx: where GitLab redirected to (origin and path only). */
  readonly location?: string;
  /** The answer was an HTML page: a web page, a proxy's or a challenge's, never GitLab's API (which answers JSON). */
  readonly html: boolean;
  readonly method: string;
  readonly path: string;

  constructor(fields: {
    status: number;
    message: string;
    method: string;
    path: string;
    error?: string;
    errorDescription?: string;
    scope?: string;
    retryAfter?: number;
    location?: string;
    html?: boolean;
  }) {
    super(fields.message);
    this.name = 'GitlabApiError';
    this.status = fields.status;
    this.html = fields.html ?? false;
    this.message = fields.message;
    this.method = fields.method;
    this.path = fields.path;
    if (fields.error !== undefined) this.error = fields.error;
    if (fields.errorDescription !== undefined) this.errorDescription = fields.errorDescription;
    if (fields.scope !== undefined) this.scope = fields.scope;
    if (fields.retryAfter !== undefined) this.retryAfter = fields.retryAfter;
    if (fields.location !== undefined) this.location = fields.location;
  }
}

/** Replaces every occurrence of the given secrets in a text. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}

/**
 * `Retry-After` (RFC 9110 §10.2.3: delta-seconds or HTTP-date) as whole seconds in
 * [0, MAX_RETRY_AFTER_SECONDS]; undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), MAX_RETRY_AFTER_SECONDS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, Math.ceil((date - now) / 1000)));
}

/** Where a 3xx points, as origin and path with secrets redacted; undefined when absent. */
function redirectTarget(location: string | null, base: URL, secrets: (string | undefined)[]): string | undefined {
  if (!location) return undefined;
  try {
    const target = new URL(location, base);
    return redact(`${target.origin}${target.pathname}`, secrets);
  } catch {
    return '(an unreadable location)';
  }
}

/**
 * The GitlabApiError for a non-2xx answer: GitLab's error fields (see parseGitlabErrorBody) with the
 * call's secrets redacted, Retry-After read and bounded, a redirect's target kept for the detail.
 */
export function gitlabApiErrorOf(answer: {
  status: number;
  headers: { get(name: string): string | null };
  body: unknown;
  method: string;
  path: string;
  base: URL;
  secrets: (string | undefined)[];
}): GitlabApiError {
  const { status, method, path, secrets } = answer;
  const html = /^\s*text\/html\b/i.test(answer.headers.get('content-type') ?? '');
  if (status >= 300 && status < 400) {
    const where = redirectTarget(answer.headers.get('location'), answer.base, secrets);
    return new GitlabApiError({ status, method, path, message: `GitLab answered with a redirect to ${where ?? '(no location)'}`, ...(where ? { location: where } : {}) });
  }
  const shape = parseGitlabErrorBody(answer.body);
  const retryAfter = parseRetryAfter(answer.headers.get('retry-after'));
  return new GitlabApiError({
    status,
    method,
    path,
    html,
    message: redact(shape.message, secrets),
    ...(shape.error !== undefined ? { error: redact(shape.error, secrets) } : {}),
    ...(shape.errorDescription !== undefined ? { errorDescription: redact(shape.errorDescription, secrets) } : {}),
    ...(shape.scope !== undefined ? { scope: shape.scope } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  });
}

function messageText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    // 400 validation: {"message":{"password":["is too short"]}}
    return Object.entries(value as Record<string, unknown>)
      .map(([field, msgs]) => `${field} ${Array.isArray(msgs) ? msgs.join(', ') : String(msgs)}`)
      .join('; ');
  }
  // What is left of a parsed answer: null, a number or a boolean (JSON has nothing else).
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** Reads GitLab's error shapes: (M) {message}, (E) {error, error_description[, scope]}, (G) {error}, or text. */
export function parseGitlabErrorBody(body: unknown): {
  message: string;
  error?: string;
  errorDescription?: string;
  scope?: string;
} {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const out: { message: string; error?: string; errorDescription?: string; scope?: string } = { message: '' };
    if (typeof b.error === 'string') out.error = b.error;
    if (typeof b.error_description === 'string') out.errorDescription = b.error_description;
    if (typeof b.scope === 'string') out.scope = b.scope;
    // Only GitLab's own message fields: a raw body could carry anything into details and events.
    out.message = messageText(b.message) || out.errorDescription || out.error || '';
    return out;
  }
  if (typeof body === 'string') return { message: body.replace(/\s+/g, ' ').trim() };
  return { message: '' };
}

/**
 * The detail of a GitLab refusal in our own words only: GitLab's text never reaches a problem detail,
 * an event or a log, since a hostile GitLab could echo a token in a spelling redaction misses.
 */
function gitlabDetail(e: GitlabApiError): string {
  return `GitLab answered ${String(e.status)} to ${e.method} ${e.path}`;
}

/** GitLab's own routes below an instance URL: what a redirect of one of them keeps after the instance's new base. */
const GITLAB_ROUTE_SUFFIX = /\/(?:api\/v4|\.well-known|oauth)(?:\/.*)?$/;

/** The instance URL a redirect points to: its target without the GitLab route that was asked for. */
export function redirectedInstanceUrl(location: string): string {
  return location.replace(GITLAB_ROUTE_SUFFIX, '');
}

/**
 * A proxy, firewall or bot challenge in front of GitLab: a 403 or 503 as an HTML page, where GitLab's
 * API and OpenID routes answer JSON (gitlab-facts §1; GitLab's API errors are `{"message": "403 Forbidden"}`).
 */
export function isBlockedAnswer(e: GitlabApiError): boolean {
  return e.html && (e.status === 403 || e.status === 503);
}

/** The default mapping of a GitlabApiError; callers layer context-specific rules on top. */
function apiErrorToAppError(e: GitlabApiError): AppError {
  if (e.status >= 300 && e.status < 400) {
    // Never followed: a redirect may lead anywhere (and would carry the admin token along).
    if (!e.location) return new AppError('gitlab_error', `GitLab answered ${String(e.status)} (a redirect without a location) to ${e.method} ${e.path}`);
    const location = redirectedInstanceUrl(e.location);
    return new AppError('gitlab_redirected', `${e.method} ${e.path} answered ${String(e.status)} with a redirect to ${e.location}, which is not followed; the instance URL is probably ${location}`, { location });
  }
  if (isBlockedAnswer(e)) {
    return new AppError('gitlab_blocked', `${e.method} ${e.path} answered ${String(e.status)} with an HTML page where GitLab answers JSON: something in front of GitLab refused this service`);
  }
  if (e.status === 429) {
    const retryAfter = e.retryAfter ?? DEFAULT_RETRY_AFTER_SECONDS;
    return new AppError('gitlab_rate_limited', `GitLab is rate limiting this service (${e.method} ${e.path}); retry after ${String(retryAfter)} s`, { retryAfter });
  }
  if (e.status === 401) {
    const description = (e.errorDescription ?? '').toLowerCase();
    if (e.error === 'invalid_token' && description.includes('expired')) return new AppError('token_expired', gitlabDetail(e));
    if (e.error === 'invalid_token' && description.includes('revoked')) return new AppError('token_revoked', gitlabDetail(e));
    return new AppError('token_invalid', gitlabDetail(e));
  }
  if (e.status === 403) {
    if (e.error === 'insufficient_scope') {
      const missingScopes = (e.scope ?? '').split(/\s+/).filter(Boolean);
      return new AppError('token_missing_scope', gitlabDetail(e), { missingScopes });
    }
    return new AppError('token_not_admin', gitlabDetail(e));
  }
  return new AppError('gitlab_error', gitlabDetail(e));
}

const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'CERT_CHAIN_TOO_LONG',
  'HOSTNAME_MISMATCH',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The cause of a certificate failure as the admin fixes it, from OpenSSL's verify codes as Node names
 * them: X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE (21) is a chain of one certificate whose issuer is
 * not trusted: the server sent its leaf without the intermediates (or its issuer is a private CA);
 * UNABLE_TO_GET_ISSUER_CERT_LOCALLY (20) and SELF_SIGNED_CERT_IN_CHAIN (19) end at a root that is not trusted.
 */
const TLS_REASONS: Partial<Record<string, TlsReason>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'incomplete_chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown_ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown_ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown_ca',
  CERT_UNTRUSTED: 'unknown_ca',
  INVALID_CA: 'unknown_ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self_signed',
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname_mismatch',
  HOSTNAME_MISMATCH: 'hostname_mismatch',
};

/** Why no connection could be made, from the socket's error code (libuv / getaddrinfo names). */
const UNREACHABLE_REASONS: Record<string, UnreachableReason> = {
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ENODATA: 'dns',
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  ECONNABORTED: 'reset',
};

const UNREACHABLE_WORDS: Record<UnreachableReason, string> = {
  dns: 'its name does not resolve',
  refused: 'the connection was refused',
  reset: 'the connection was reset',
  network: 'the network gives no route to it',
};

/** The error and everything it wraps (`cause`, AggregateError's `errors`), outermost first. */
function errorChain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const queue = [error];
  while (queue.length > 0 && seen.length < 20) {
    const current = queue.shift();
    if (current === undefined || current === null || seen.includes(current)) continue;
    seen.push(current);
    if (typeof current === 'object') {
      const c = current as { cause?: unknown; errors?: unknown };
      queue.push(c.cause);
      if (Array.isArray(c.errors)) queue.push(...(c.errors as unknown[]));
    }
  }
  return seen;
}

const codeOf = (e: unknown) => (e && typeof e === 'object' && 'code' in e ? String((e).code) : '');
const nameOf = (e: unknown) => (e instanceof Error || (e && typeof e === 'object' && 'name' in e) ? String((e).name) : '');

/**
 * Maps a failure of the transport (no HTTP answer, or a broken body) to an AppError. `host` names
 * the instance in the detail; `timedOut` says the call's own deadline has passed (undici then
 * reports a body-phase abort as a bare `TypeError: terminated`).
 */
export function transportErrorToAppError(error: unknown, context: { host?: string; timedOut?: boolean } = {}): AppError {
  const chain = errorChain(error);
  const host = context.host ?? 'the GitLab instance';
  const existing = chain.find((e): e is AppError => e instanceof AppError);
  if (existing) return existing;
  const refused = chain.find((e): e is AddressNotAllowedError => e instanceof AddressNotAllowedError);
  if (refused) {
    return new AppError('url_not_allowed', `${refused.host} resolves to an address that is not public; such addresses are not allowed`, { step: 'url' });
  }
  const codes = chain.map(codeOf);
  const names = chain.map(nameOf);
  if (context.timedOut || names.some((n) => n === 'TimeoutError' || n === 'AbortError') || codes.some((c) => TIMEOUT_CODES.has(c))) {
    return new AppError('gitlab_timeout', `${host} did not answer in time`);
  }
  const certCode = codes.find((c) => CERT_CODES.has(c));
  if (certCode) {
    const reason = TLS_REASONS[certCode];
    return new AppError('gitlab_tls_error', `The TLS certificate of ${host} cannot be verified (${certCode})`, reason ? { reason } : {});
  }
  if (codes.includes('UND_ERR_RES_EXCEEDED_MAX_SIZE')) {
    return new AppError('gitlab_error', `The response from ${host} is too large`);
  }
  const tlsCode = codes.find((c) => c === 'EPROTO' || c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_'));
  if (tlsCode) return new AppError('gitlab_tls_error', `The TLS handshake with ${host} failed (${tlsCode})`);
  const netCode = codes.find((c) => c.startsWith('E') || c.startsWith('UND_ERR_'));
  const reason = (netCode && UNREACHABLE_REASONS[netCode]) || 'network';
  return new AppError('gitlab_unreachable', `${host} cannot be reached: ${UNREACHABLE_WORDS[reason]}${netCode ? ` (${netCode})` : ''}`, { reason });
}

function isTransportError(error: unknown): boolean {
  return errorChain(error).some((e) => {
    const name = nameOf(e);
    const code = codeOf(e);
    return (
      e instanceof AddressNotAllowedError ||
      name === 'TimeoutError' ||
      name === 'AbortError' ||
      code.startsWith('UND_ERR_') ||
      /^E[A-Z_]+$/.test(code) ||
      CERT_CODES.has(code) ||
      code.startsWith('ERR_TLS_') ||
      code.startsWith('ERR_SSL_') ||
      (e instanceof TypeError && (e.message === 'fetch failed' || e.message === 'terminated'))
    );
  });
}

/**
 * The default mapping to AppError: an AppError is itself; a GitlabApiError by status and GitLab's
 * error fields; a transport failure by its cause; anything else is an internal error.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof GitlabApiError) return apiErrorToAppError(error);
  if (isTransportError(error)) return transportErrorToAppError(error);
  const internal = new AppError('internal_error', 'Unexpected failure while calling GitLab');
  (internal as { cause?: unknown }).cause = error;
  return internal;
}
