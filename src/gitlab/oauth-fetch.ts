// The customFetch given to oauth4webapi: the same policy, agents, encoding rule, size cap and log
// line as every other GitLab call, with the body read whole before oauth4webapi sees it.
import type { Logger } from 'pino';
import type { Transport } from './transport.js';
import type { UrlPolicy } from './url-policy.js';

/** oauth4webapi's customFetch signature, plus the instance's private CA. */
export type GuardedFetch = (url: string, init?: RequestInit & { caCertificate?: string | null }) => Promise<Response>;

/** Statuses whose Response may not carry a body. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * Builds the customFetch: any status resolves (oauth4webapi reads GitLab's OAuth errors itself), a
 * transport failure, an oversized or compressed answer rejects with AppError. The body is already
 * bounded when oauth4webapi reads it.
 */
export function createOauthFetch(policy: UrlPolicy, transport: Transport, logger: Logger): GuardedFetch {
  return async (rawUrl, init = {}) => {
    const url = policy.assertUrlAllowed(rawUrl);
    const body = init.body;
    const answer = await transport.exchange({
      method: (init.method ?? 'GET').toUpperCase(),
      url,
      headers: new Headers(init.headers),
      ...(typeof body === 'string' || body instanceof URLSearchParams ? { body } : {}),
      caCertificate: init.caCertificate,
      path: url.pathname,
      log: logger,
      signal: init.signal,
    });
    const headers = new Headers();
    for (const [name, value] of answer.headers) headers.append(name, value);
    return new Response(NULL_BODY_STATUSES.has(answer.status) ? null : answer.bytes, { status: answer.status, headers });
  };
}
