// The one outbound HTTP client for GitLab instances whose URL a stranger typed in: it assembles the
// address policy, the guarded agents, the transport, the REST request and the OAuth fetch adapter.
import dns from 'node:dns';
import type { Logger } from 'pino';
import type { Headers as UndiciHeaders } from 'undici';
import { createGuardedLookup } from './address-guard.js';
import { createAgentPool } from './agents.js';
import { gitlabApiErrorOf, redact } from './errors.js';
import { createOauthFetch, type GuardedFetch } from './oauth-fetch.js';
import { createInstanceLimiter } from './instance-limiter.js';
import { createTransport, type GitlabCallReport, type GitlabLog, type Transport } from './transport.js';
import { createUrlPolicy, type UrlPolicy } from './url-policy.js';

export { assertPemCertificate, InvalidCaCertificateError } from './agents.js';
export { DEFAULT_RETRY_AFTER_SECONDS, GitlabApiError, isBlockedAnswer, parseRetryAfter, toAppError } from './errors.js';
export type { GuardedFetch } from './oauth-fetch.js';
export type { GitlabCallReport, GitlabLog } from './transport.js';

export interface GitlabHttpOptions {
  /** http:// URLs are refused unless true. */
  allowHttp: boolean;
  /** Non-public addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  /** Total deadline per call, headers and body, in milliseconds. */
  timeoutMs: number;
  /** The one response size cap, in bytes; default 1 MiB. */
  maxResponseBytes?: number;
  /** Seam for tests: a custom resolver. */
  lookup?: typeof dns.lookup;
  logger: Logger;
  /** Told of every finished call (the metrics count them); must not throw. */
  onCall?: (call: GitlabCallReport) => void;
  /** Concurrent calls per GitLab origin in this process; default 6. */
  maxConcurrentPerInstance?: number;
  /** The longest wait for a turn when an origin is at its cap, in milliseconds; default 5000. */
  maxWaitPerInstanceMs?: number;
}

export interface GitlabRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Absolute URL, built from the instance base (which may carry a path prefix). */
  url: string;
  privateToken?: string;
  bearerToken?: string;
  json?: unknown;
  /** PEM of a private CA, trusted in addition to Node's default roots for this call. */
  caCertificate?: string | null;
  log?: GitlabLog;
  /** This call's deadline, when it differs from GITLAB_TIMEOUT_MS. */
  timeoutMs?: number;
}

export interface GitlabResponse<T = unknown> {
  status: number;
  /** undici's Headers, as the transport received them. */
  headers: UndiciHeaders;
  /** Parsed JSON, the text when not JSON, null when empty (204). */
  body: T;
  /** The body's size as read (identity encoding, so also its decoded size), in bytes. */
  bytes: number;
}

export interface GitlabHttp {
  /** Resolves for 2xx only; a non-2xx answer rejects with GitlabApiError, a transport failure with AppError. */
  request<T = unknown>(req: GitlabRequest): Promise<GitlabResponse<T>>;
  /** Same agents and guard, any status, no error mapping of answers (for oauth4webapi's customFetch). */
  fetch: GuardedFetch;
  /**
   * Scheme, user info and IP-literal checks, then resolves a host name and refuses it when an address
   * is not public, so a refused URL is refused before anything is stored. Connections still check at
   * connect time (a name may resolve differently later). Failures to resolve are left to the first call.
   */
  assertUrlResolvesAllowed(url: string): Promise<void>;
  /** The checks the URL alone allows (scheme, user info, IP literals): no DNS query; throws `url_not_allowed` with step url. */
  assertUrlAllowed(url: string): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** Parsed JSON when the content type says JSON and it parses, else the text; null when empty. */
function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return null;
  if (contentType && /[/+]json\b/i.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

function requestHeaders(req: GitlabRequest): Record<string, string> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'gitlab-connect' };
  if (req.privateToken) headers['private-token'] = req.privateToken;
  if (req.bearerToken) headers.authorization = `Bearer ${req.bearerToken}`;
  if (req.json !== undefined) headers['content-type'] = 'application/json';
  return headers;
}

/** A GitLab REST call: 2xx answers parsed, anything else a GitlabApiError with GitLab's fields redacted. */
function createRequest(policy: UrlPolicy, transport: Transport, logger: Logger) {
  return async function request<T = unknown>(req: GitlabRequest): Promise<GitlabResponse<T>> {
    const url = policy.assertUrlAllowed(req.url);
    const secrets = [req.privateToken, req.bearerToken];
    const path = redact(url.pathname, secrets);
    const answer = await transport.exchange({
      method: req.method,
      url,
      headers: requestHeaders(req),
      ...(req.json !== undefined ? { body: JSON.stringify(req.json) } : {}),
      caCertificate: req.caCertificate,
      path,
      log: req.log ?? logger,
      timeoutMs: req.timeoutMs,
    });
    const body = parseBody(answer.bytes.toString('utf8'), answer.headers.get('content-type'));
    if (answer.status >= 200 && answer.status < 300) {
      return { status: answer.status, headers: answer.headers, body: body as T, bytes: answer.bytes.length };
    }
    throw gitlabApiErrorOf({ status: answer.status, headers: answer.headers, body, method: req.method, path, base: url, secrets });
  };
}

/** Builds the client; `close()` closes every agent it opened. */
export function createGitlabHttp(options: GitlabHttpOptions): GitlabHttp {
  const lookup = createGuardedLookup(options.lookup ?? dns.lookup, options.allowPrivateNetworks);
  const agents = createAgentPool({
    lookup: lookup as unknown as typeof dns.lookup,
    allowPrivateNetworks: options.allowPrivateNetworks,
    timeoutMs: options.timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  const policy = createUrlPolicy({ allowHttp: options.allowHttp, allowPrivateNetworks: options.allowPrivateNetworks, lookup: lookup as unknown as typeof dns.lookup });
  const limiter = createInstanceLimiter({ maxConcurrent: options.maxConcurrentPerInstance ?? 6, maxWaitMs: options.maxWaitPerInstanceMs ?? 5000 });
  const transport = createTransport({ agents, timeoutMs: options.timeoutMs, limiter, ...(options.onCall ? { onCall: options.onCall } : {}) });
  return {
    request: createRequest(policy, transport, options.logger),
    fetch: createOauthFetch(policy, transport, options.logger),
    assertUrlResolvesAllowed: (url) => policy.assertUrlResolvesAllowed(url),
    assertUrlAllowed: (url) => void policy.assertUrlAllowed(url),
    close: () => agents.close(),
  };
}
