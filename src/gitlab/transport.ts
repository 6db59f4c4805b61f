// One exchange with a GitLab instance over the guarded agents: identity encoding only, a total
// deadline, no redirects followed, the body read whole under the agent's size cap, one log line.
import type { Headers as UndiciHeaders } from 'undici';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import type { AgentPool } from './agents.js';
import { transportErrorToAppError } from './errors.js';
import type { InstanceLimiter } from './instance-limiter.js';
import { loadUndici } from './undici.js';

/** What the client logs with: a pino logger or a Fastify request logger. */
export type GitlabLog = Pick<Logger, 'info' | 'warn'>;

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string> | Headers;
  body?: string | URLSearchParams;
  caCertificate?: string | null | undefined;
  /** The path as logged and named in errors (secrets already redacted). */
  path: string;
  log: GitlabLog;
  /** A caller's own abort signal, combined with the deadline. */
  signal?: AbortSignal | null | undefined;
  /** This call's own deadline instead of the transport's (a credential change given time to finish). */
  timeoutMs?: number | undefined;
}

export interface ExchangeResult {
  status: number;
  headers: UndiciHeaders;
  /** The whole body, at most the agent's maxResponseBytes; empty for 3xx. */
  bytes: Buffer;
}

export interface Transport {
  /** Sends one request; resolves with any status; a transport failure rejects with AppError (see errors.ts). */
  exchange(call: Exchange): Promise<ExchangeResult>;
}

/** The log line of a GitLab call: method, host, path, status, duration, code; never a token. */
export function logGitlabCall(log: GitlabLog, call: Exchange, outcome: { status?: number; startedAt: number; code?: string }): void {
  const gitlab = {
    method: call.method,
    host: call.url.host,
    path: call.path,
    ...(outcome.status !== undefined ? { status: outcome.status } : {}),
    durationMs: Math.round(performance.now() - outcome.startedAt),
    ...(outcome.code !== undefined ? { code: outcome.code } : {}),
  };
  if (outcome.code === undefined) log.info({ gitlab }, 'gitlab call');
  else log.warn({ gitlab }, 'gitlab call failed');
}

/**
 * Compressed answers are refused, not inflated: every call asks for `identity`, and any other
 * content-encoding is a GitLab fault, so the agent's size cap on wire bytes is also the cap on what
 * is decoded (a 200 KB gzip body inflating to 200 MB never gets inflated).
 */
function assertIdentityEncoding(headers: UndiciHeaders, host: string): void {
  const encoding = (headers.get('content-encoding') ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new AppError('gitlab_error', `${host} answered with a compressed body (content-encoding ${encoding.slice(0, 40)}) although identity was asked for`);
  }
}

/** One finished GitLab call: `path` is the URL path without query, `status` the HTTP status when an answer came, `code` the error code of a transport failure, `grantType` an OAuth form's grant_type. */
export interface GitlabCallReport {
  method: string;
  path: string;
  status?: number;
  code?: string;
  grantType?: string;
}

/** An OAuth token request's grant_type (RFC 6749 §4.1.3, §6): only a form body has one; a JSON API body is never parsed as a form. */
function grantTypeOf(body: Exchange['body']): string | undefined {
  return body instanceof URLSearchParams ? (body.get('grant_type') ?? undefined) : undefined;
}

/** Builds the transport over an agent pool; `timeoutMs` bounds headers and body together; `onCall` is told of every finished call (the metrics count them) and must not throw. */
export function createTransport(options: { agents: AgentPool; timeoutMs: number; limiter: InstanceLimiter; onCall?: (call: GitlabCallReport) => void }): Transport {
  function finished(call: Exchange, outcome: { status?: number; startedAt: number; code?: string }): void {
    logGitlabCall(call.log, call, outcome);
    if (!options.onCall) return;
    const grantType = grantTypeOf(call.body);
    options.onCall({
      method: call.method,
      path: call.url.pathname,
      ...(outcome.status !== undefined ? { status: outcome.status } : {}),
      ...(outcome.code !== undefined ? { code: outcome.code } : {}),
      ...(grantType ? { grantType } : {}),
    });
  }

  async function exchangeOnce(call: Exchange): Promise<ExchangeResult> {
    const startedAt = performance.now();
    const deadline = AbortSignal.timeout(call.timeoutMs ?? options.timeoutMs);
    const signal = call.signal ? AbortSignal.any([deadline, call.signal]) : deadline;
    const headers = new Headers(call.headers);
    headers.set('accept-encoding', 'identity');
    let status: number | undefined;
    // Outside the try: undici failing to load is this installation's fault, not GitLab's answer.
    const undici = await loadUndici();
    try {
      const dispatcher = await options.agents.agentFor(call.caCertificate);
      const response = await undici.fetch(call.url, {
        method: call.method,
        headers: Object.fromEntries(headers),
        ...(call.body !== undefined ? { body: call.body } : {}),
        redirect: 'manual',
        signal,
        dispatcher,
      });
      status = response.status;
      if (status >= 300 && status < 400) {
        await response.body?.cancel().catch(() => {});
        finished(call, { status, startedAt });
        return { status, headers: response.headers, bytes: Buffer.alloc(0) };
      }
      try {
        assertIdentityEncoding(response.headers, call.url.host);
      } catch (error) {
        await response.body?.cancel().catch(() => {});
        throw error;
      }
      const bytes = Buffer.from(await response.arrayBuffer());
      finished(call, { status, startedAt });
      return { status, headers: response.headers, bytes };
    } catch (error) {
      const mapped = transportErrorToAppError(error, { host: call.url.host, timedOut: deadline.aborted });
      finished(call, { ...(status !== undefined ? { status } : {}), startedAt, code: mapped.code });
      throw mapped;
    }
  }
  // The deadline starts once the call has its turn: waiting is bounded by the limiter itself.
  return { exchange: (call) => options.limiter.run(call.url.origin, () => exchangeOnce(call)) };
}
