// Names GitLab calls for the metrics: a fixed table from method and path to an operation, so a label
// never carries an instance URL, an id or anything a GitLab instance chose (unbounded values).
import type { GitlabCallReport } from '../gitlab/http.js';

/** First match wins (`/personal_access_tokens/self` before `/personal_access_tokens/:id`). Paths end the URL path; a relative root may precede them. */
const OPERATIONS: readonly [method: string, path: RegExp, operation: string][] = [
  ['GET', /\/\.well-known\/openid-configuration$/, 'openid_configuration'],
  ['GET', /\/api\/v4\/version$/, 'version'],
  ['GET', /\/api\/v4\/user$/, 'current_user'],
  ['GET', /\/api\/v4\/users$/, 'users_by_username'],
  ['POST', /\/api\/v4\/users$/, 'create_user'],
  ['POST', /\/api\/v4\/users\/[^/]+\/block$/, 'block_user'],
  ['POST', /\/api\/v4\/users\/[^/]+\/unblock$/, 'unblock_user'],
  ['POST', /\/api\/v4\/users\/[^/]+\/personal_access_tokens$/, 'create_user_token'],
  ['GET', /\/api\/v4\/personal_access_tokens\/self$/, 'token_self'],
  ['GET', /\/api\/v4\/personal_access_tokens$/, 'list_tokens'],
  ['GET', /\/api\/v4\/personal_access_tokens\/[^/]+$/, 'get_token'],
  ['POST', /\/api\/v4\/personal_access_tokens\/[^/]+\/rotate$/, 'rotate_token'],
  ['DELETE', /\/api\/v4\/personal_access_tokens\/[^/]+$/, 'revoke_token'],
  ['GET', /\/api\/v4\/applications$/, 'list_applications'],
  ['POST', /\/api\/v4\/applications$/, 'create_application'],
  ['DELETE', /\/api\/v4\/applications\/[^/]+$/, 'delete_application'],
  ['GET', /\/oauth\/userinfo$/, 'oauth_userinfo'],
  ['GET', /\/oauth\/discovery\/keys$/, 'oauth_jwks'],
];

/** OAuth token endpoint calls, named by their grant_type (RFC 6749 §4.1.3, §6). */
const TOKEN_GRANTS: Readonly<Record<string, string>> = {
  authorization_code: 'oauth_code_exchange',
  refresh_token: 'oauth_token_refresh',
};

/** The operation of a call: one of the table's names, `oauth_token` for another grant, `other` otherwise. */
export function gitlabOperation(call: Pick<GitlabCallReport, 'method' | 'path' | 'grantType'>): string {
  if (call.method === 'POST' && /\/oauth\/token$/.test(call.path)) return TOKEN_GRANTS[call.grantType ?? ''] ?? 'oauth_token';
  return OPERATIONS.find(([method, path]) => method === call.method && path.test(call.path))?.[2] ?? 'other';
}

/** `success` for 2xx, `refused` for another HTTP answer, `failed` when no answer came (network, TLS, timeout, size cap). */
export function gitlabOutcome(call: Pick<GitlabCallReport, 'status' | 'code'>): 'success' | 'refused' | 'failed' {
  if (call.code !== undefined || call.status === undefined) return 'failed';
  return call.status >= 200 && call.status < 300 ? 'success' : 'refused';
}
