// GET /oauth/authorize: Doorkeeper's checks and answers, with the "browser user" standing in for a person who clicks.
import { randomBytes } from 'node:crypto';
import type { Ctx, Reply, Route } from './http.js';
import { html, redirect } from './http.js';

const CODE_TTL_MS = 10 * 60 * 1000;

/** Adds params to the client's redirect URI, keeping any query it already has. */
export function withParams(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

function errorPage(description: string): Reply {
  // Doorkeeper renders its error view with 200 for problems it must not redirect (unknown client, bad redirect URI).
  return html(200, 'An error has occurred', description);
}

function authorize(ctx: Ctx): Reply {
  const q = ctx.query;
  const fake = ctx.fake;
  const clientId = q.get('client_id');
  const app = clientId ? [...fake.applications.values()].find((a) => a.uid === clientId) : undefined;
  if (!app) return errorPage('Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.');
  const redirectUri = q.get('redirect_uri') ?? '';
  if (!app.redirectUri.split(/\s+/).filter(Boolean).includes(redirectUri)) return errorPage('The redirect URI included is not valid.');

  const state = q.get('state') ?? undefined;
  const fail = (error: string, description: string): Reply => redirect(withParams(redirectUri, { error, error_description: description, state }));
  if (!q.get('response_type')) return fail('invalid_request', 'Missing required parameter: response_type.');
  if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'The authorization server does not support this response type.');
  const scopeParam = q.get('scope');
  // GitLab's DEFAULT_SCOPES = [:api] when the client names none.
  const scopes = scopeParam ? scopeParam.split(/\s+/).filter(Boolean) : ['api'];
  if (!scopes.every((s) => app.scopes.includes(s))) return fail('invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method') ?? (challenge ? 'plain' : null);
  if (challenge && method !== 'S256' && method !== 'plain') return fail('invalid_request', 'The code challenge method must be plain or S256.');

  if (!fake.browserUser) return redirect(`${fake.url}/users/sign_in`);
  if (fake.authorizeDecision === 'deny') return fail('access_denied', 'The resource owner or authorization server denied the request.');
  const code = randomBytes(32).toString('hex');
  const now = fake.now().getTime();
  fake.oauthGrants.set(code, {
    code, applicationId: app.id, userId: fake.browserUser.id, redirectUri, scopes,
    codeChallenge: challenge, codeChallengeMethod: challenge ? (method as 'S256' | 'plain') : null,
    nonce: q.get('nonce'), expiresAt: now + CODE_TTL_MS, authTime: now, used: false,
  });
  return redirect(withParams(redirectUri, { code, state }));
}

export const authorizeRoutes: Route[] = [{ method: 'GET', pattern: /^\/oauth\/authorize$/, handler: authorize }];
