// The one outbound HTTP client for GitLab instances whose URL a stranger typed in: SSRF guard at
// connect time, per-CA TLS agents, no redirects or retries, a total deadline and a response cap.
import dns from 'node:dns';
import { fetch as undiciFetch } from 'undici';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { AddressNotAllowedError, createGuardedLookup, isIpLiteral, isPublicAddress } from './address-guard.js';
import { createAgentPool } from './agents.js';
import { GitlabApiError, parseGitlabErrorBody, parseRetryAfter, redact, transportErrorToAppError } from './errors.js';

export { assertPemCertificate } from './agents.js';
export { GitlabApiError, toAppError } from './errors.js';

/** What the client logs with: a pino logger or a Fastify request logger. */
export type GitlabLog = Pick<Logger, 'info' | 'warn'>;

export interface GitlabHttpOptions {
  /** http:// URLs are refused unless true. */
  allowHttp: boolean;
  /** Non-public addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  /** Total deadline per call, headers and body. */
  timeoutMs: number;
  /** Default 1 MiB. */
  maxResponseBytes?: number;
  /** Seam for tests: a custom resolver. */
  lookup?: typeof dns.lookup;
  logger: Logger;
  /** Told of every finished call (the metrics count them); must not throw. */
  onCall?: (call: GitlabCallReport) => void;
}

/** One finished GitLab call: `path` is the URL path without query, `status` the HTTP status when an answer came, `code` the error code of a transport failure, `grantType` an OAuth form's grant_type. */
export interface GitlabCallReport {
  method: string;
  path: string;
  status?: number;
  code?: string;
  grantType?: string;
}

export interface GitlabRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Absolute URL, built from the instance base (which may carry a path prefix). */
  url: string;
  privateToken?: string;
  bearerToken?: string;
  json?: unknown;
  form?: Record<string, string>;
  /** PEM of a private CA, trusted in addition to Node's default roots for this call. */
  caCertificate?: string | null;
  log?: GitlabLog;
}

export interface GitlabResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON, the text when not JSON, null when empty (204). */
  body: T;
}

export type GuardedFetch = (
  input: string | URL | Request,
  init?: RequestInit & { caCertificate?: string | null },
) => Promise<Response>;

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
  close(): Promise<void>;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
export function createGitlabHttp(options: GitlabHttpOptions): GitlabHttp {
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const lookup = createGuardedLookup(options.lookup ?? dns.lookup, options.allowPrivateNetworks);
  const agents = createAgentPool({ lookup: lookup as unknown as typeof dns.lookup, allowPrivateNetworks: options.allowPrivateNetworks, timeoutMs: options.timeoutMs, maxResponseBytes });

  function assertUrlAllowed(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new AppError('invalid_url', 'The GitLab URL is not a valid absolute URL');
    }
    if (url.username || url.password) throw new AppError('url_not_allowed', 'URLs with user info are not allowed');
    if (url.protocol === 'http:' && !options.allowHttp) {
      throw new AppError('url_not_allowed', `http:// is not allowed for ${url.host}; use https://`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new AppError('url_not_allowed', `The scheme ${url.protocol} is not allowed`);
    }
    // WHATWG URL has already turned 2130706433 or 0x7f.1 into 127.0.0.1.
    if (!options.allowPrivateNetworks && isIpLiteral(url.hostname) && !isPublicAddress(url.hostname)) {
      throw new AppError('url_not_allowed', `${url.hostname} is not a public address; such addresses are not allowed`);
    }
    return url;
  }

  function deadline(timeoutMs: number, other?: AbortSignal | null): AbortSignal {
    const timeout = AbortSignal.timeout(timeoutMs);
    return other ? AbortSignal.any([timeout, other]) : timeout;
  }

  async function readCapped(response: Awaited<ReturnType<typeof undiciFetch>>, host: string): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxResponseBytes) {
      await response.body?.cancel().catch(() => {});
      throw new AppError('gitlab_error', `The response from ${host} is too large`);
    }
    if (!response.body) return '';
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxResponseBytes) {
        await reader.cancel().catch(() => {});
        throw new AppError('gitlab_error', `The response from ${host} is too large`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

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

  async function request<T = unknown>(req: GitlabRequest): Promise<GitlabResponse<T>> {
    const log = req.log ?? options.logger;
    const url = assertUrlAllowed(req.url);
    const tokens = [req.privateToken, req.bearerToken];
    const path = redact(url.pathname, tokens);
    const started = performance.now();
    const logged = { method: req.method, host: url.host, path };
    const signal = deadline(options.timeoutMs);
    const report = (outcome: { status?: number; code?: string }) => options.onCall?.({ method: req.method, path: url.pathname, ...outcome });

    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'gitlab-connect' };
    if (req.privateToken) headers['private-token'] = req.privateToken;
    if (req.bearerToken) headers.authorization = `Bearer ${req.bearerToken}`;
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(req.form).toString();
    }

    let status: number | undefined;
    try {
      const response = await undiciFetch(url, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'manual',
        signal,
        dispatcher: agents.agentFor(req.caCertificate),
      });
      status = response.status;
      if (status >= 300 && status < 400) {
        await response.body?.cancel().catch(() => {});
        const location = response.headers.get('location');
        let where: string | undefined;
        if (location) {
          try {
            const target = new URL(location, url);
            where = redact(`${target.origin}${target.pathname}`, tokens);
          } catch {
            where = '(an unreadable location)';
          }
        }
        log.info({ gitlab: { ...logged, status, durationMs: Math.round(performance.now() - started) } }, 'gitlab call');
        report({ status });
        throw new GitlabApiError({
          status,
          message: `GitLab answered with a redirect to ${where ?? '(no location)'}`,
          method: req.method,
          path,
          ...(where ? { location: where } : {}),
        });
      }
      const text = await readCapped(response, url.host);
      const parsed = parseBody(text, response.headers.get('content-type'));
      log.info({ gitlab: { ...logged, status, durationMs: Math.round(performance.now() - started) } }, 'gitlab call');
      report({ status });
      if (status >= 200 && status < 300) {
        return { status, headers: response.headers as unknown as Headers, body: parsed as T };
      }
      const shape = parseGitlabErrorBody(parsed);
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      throw new GitlabApiError({
        status,
        method: req.method,
        path,
        message: redact(shape.message, tokens),
        ...(shape.error !== undefined ? { error: redact(shape.error, tokens) } : {}),
        ...(shape.errorDescription !== undefined ? { errorDescription: redact(shape.errorDescription, tokens) } : {}),
        ...(shape.scope !== undefined ? { scope: shape.scope } : {}),
        ...(retryAfter !== undefined ? { retryAfter } : {}),
      });
    } catch (error) {
      if (error instanceof GitlabApiError) throw error;
      const mapped = transportErrorToAppError(error, { host: url.host, timedOut: signal.aborted });
      const durationMs = Math.round(performance.now() - started);
      log.warn({ gitlab: { ...logged, ...(status !== undefined ? { status } : {}), durationMs, code: mapped.code } }, 'gitlab call failed');
      report({ code: mapped.code });
      throw mapped;
    }
  }

  const guardedFetch: GuardedFetch = async (input, init = {}) => {
    const { caCertificate, ...rest } = init;
    const log = options.logger;
    let target: string | URL;
    let requestInit: RequestInit = rest;
    if (typeof input === 'string' || input instanceof URL) {
      target = input;
    } else {
      // A Request from Node's global fetch is not an undici-package Request: carry its parts over.
      target = input.url;
      requestInit = { method: input.method, headers: input.headers, body: input.body, signal: input.signal, ...rest };
      if (requestInit.body) (requestInit as { duplex?: string }).duplex = 'half';
    }
    const url = assertUrlAllowed(String(target));
    const signal = deadline(options.timeoutMs, requestInit.signal);
    const started = performance.now();
    const logged = { method: (requestInit.method ?? 'GET').toUpperCase(), host: url.host, path: url.pathname };
    const grantType = requestInit.body instanceof URLSearchParams ? requestInit.body.get('grant_type') ?? undefined : undefined;
    const report = (outcome: { status?: number; code?: string }) => options.onCall?.({ method: logged.method, path: url.pathname, ...outcome, ...(grantType ? { grantType } : {}) });
    try {
      const response = await undiciFetch(url, {
        ...(requestInit as Parameters<typeof undiciFetch>[1]),
        redirect: 'manual',
        signal,
        dispatcher: agents.agentFor(caCertificate),
      });
      log.info({ gitlab: { ...logged, status: response.status, durationMs: Math.round(performance.now() - started) } }, 'gitlab call');
      report({ status: response.status });
      return response as unknown as Response;
    } catch (error) {
      const mapped = transportErrorToAppError(error, { host: url.host, timedOut: signal.aborted });
      log.warn({ gitlab: { ...logged, durationMs: Math.round(performance.now() - started), code: mapped.code } }, 'gitlab call failed');
      report({ code: mapped.code });
      throw mapped;
    }
  };

  return {
    request,
    fetch: guardedFetch,
    async assertUrlResolvesAllowed(raw: string) {
      const { hostname } = assertUrlAllowed(raw);
      if (options.allowPrivateNetworks || isIpLiteral(hostname)) return;
      const refused = await new Promise<boolean>((resolve) =>
        lookup(hostname, { all: true }, (error) => resolve(error instanceof AddressNotAllowedError)),
      );
      if (refused) throw new AppError('url_not_allowed', `${hostname} resolves to an address that is not public; such addresses are not allowed`);
    },
    close: () => agents.close(),
  };
}
