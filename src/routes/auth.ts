// The login routes: start (redirect to the instance's GitLab), callback (session cookie), logout.
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteScope } from './route-scope.js';
import Type from 'typebox';
import { AUTH_PATHS } from '../auth-paths.js';
import { isAppError } from '../errors.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import {
  assertNotCrossSiteNavigation,
  assertSameSiteOrigin,
  clearSessionCookie,
  cookiesOf,
  LOGIN_BINDING_COOKIE,
  loginBindingCookieOptions,
  SESSION_COOKIE,
  sessionCookieOptions,
  sessionTokenOf,
} from '../plugins/session-auth.js';
import { clientRateLimitOptions } from '../plugins/client-rate-limit.js';
import { CallbackParams, CallbackQuery, redirectResponse, StartLoginQuery } from '../schemas/auth.js';
import { GITLAB_FAILURES, problemResponses } from '../schemas/problem.js';
import { completeLogin, startLogin } from '../services/login.service.js';
import { revokeSession } from '../services/sessions.service.js';

/** The login start: the browser sent to GitLab. */
function startRoute(app: RouteScope): void {
  const { deps } = app;
  const { config } = deps;

  app.get(AUTH_PATHS.start, {
    config: { rateLimit: { max: config.loginRateLimitPerMinute, timeWindow: 60_000 } },
    schema: {
      operationId: 'startLogin',
      tags: ['auth'],
      summary: "Send the browser to the instance's GitLab to log in",
      description:
        "Records a single-use login state (10 minutes) bound to this browser by a short-lived cookie, and redirects to the instance's `/oauth/authorize` with `client_id`, `redirect_uri`, `response_type=code`, `scope`, `state`, PKCE (`S256`) and, with the `openid` scope, a `nonce`.",
      security: [],
      querystring: StartLoginQuery,
      response: {
        302: redirectResponse(
          "Redirect to the instance's /oauth/authorize",
          "The instance's authorization endpoint with the OAuth parameters",
          `${LOGIN_BINDING_COOKIE}: the login binding cookie (HttpOnly, SameSite=Lax, Path=/auth/gitlab, Max-Age=600)`,
        ),
        ...problemResponses('invalid_return_to', 'validation_failed', 'cross_site_request', 'instance_not_found', 'instance_not_ready', 'rate_limited'),
      },
    },
    handler: async (request, reply) => {
      assertNotCrossSiteNavigation(config, request);
      const { location, binding } = await startLogin(deps, { instanceId: request.query.instance, returnTo: request.query.returnTo });
      reply.setCookie(LOGIN_BINDING_COOKIE, binding, loginBindingCookieOptions(config));
      return reply.redirect(location, 302);
    },
  });
}

/** Logout. */
function logoutRoute(app: RouteScope): void {
  const { deps } = app;
  const { config } = deps;

  app.post(AUTH_PATHS.logout, {
    schema: {
      operationId: 'logout',
      tags: ['auth'],
      summary: 'End the session',
      description:
        'Revokes the session (cookie or bearer token) at once and clears the cookie. Answers 204 also when the session was already gone. Refuses a cross-site `Origin` (neither this service nor FRONTEND_URL).',
      security: [{ sessionCookie: [] }, { sessionBearer: [] }],
      response: {
        204: Type.Null({ description: 'Logged out; the session cookie is cleared' }),
        ...problemResponses('cross_site_request'),
      },
    },
    handler: async (request, reply) => {
      assertSameSiteOrigin(config, request);
      const token = sessionTokenOf(request);
      if (token) await revokeSession(deps, token);
      clearSessionCookie(reply, config);
      return reply.code(204).send(null);
    },
  });
}

/** The two callback routes' schema: the instance's own redirect URI (with its key) and the shared one. */
function callbackSchema(operationId: string, summary: string) {
  return {
    operationId,
    tags: ['auth'],
    summary,
    description:
      "Checks the state (known, unexpired, unused, started in this browser, and back on the redirect URI of the instance it was started for), ends a session the browser already holds, exchanges the code with the PKCE verifier, reads the GitLab user, stores the user's tokens encrypted, creates a session and redirects to `returnTo` (default FRONTEND_URL, else `/`) with the session cookie. On failure no session is created: the answer is a problem, or, when FRONTEND_URL is set, a redirect to it with `?error=<code>`.",
    security: [],
    querystring: CallbackQuery,
    ...(operationId === 'completeLoginOnInstanceCallback' ? { params: CallbackParams } : {}),
    response: {
      302: redirectResponse(
        'Redirect to returnTo with the session cookie, or (FRONTEND_URL set) to the frontend with ?error=<code>',
        'returnTo, FRONTEND_URL or `/`; on failure FRONTEND_URL with `?error=<code>`',
        `${SESSION_COOKIE}: the session cookie (HttpOnly, SameSite=Lax, Path=/, Secure when PUBLIC_URL is https)`,
      ),
      ...problemResponses('invalid_state', 'oauth_denied', 'validation_failed', 'invalid_return_to', 'instance_not_ready', 'token_exchange_failed', ...GITLAB_FAILURES),
    },
  };
}

/** The login callback: the session cookie, or (FRONTEND_URL set) the frontend with the error code. */
function callbackRoutes(app: RouteScope): void {
  const { deps } = app;
  const { config } = deps;
  const callbackHandler = async (request: FastifyRequest<{ Querystring: Static<typeof CallbackQuery>; Params: { key?: string } }>, reply: FastifyReply) => {
    let location: string;
    try {
      const cookies = cookiesOf(request);
      const input = {
        code: request.query.code,
        state: request.query.state,
        error: request.query.error,
        binding: cookies[LOGIN_BINDING_COOKIE],
        callbackKey: request.params.key,
        previousSessionToken: cookies[SESSION_COOKIE],
      };
      const result = await completeLogin(deps, input, request.log);
      reply.clearCookie(LOGIN_BINDING_COOKIE, loginBindingCookieOptions(config));
      reply.setCookie(SESSION_COOKIE, result.sessionToken, sessionCookieOptions(config, result.sessionExpiresAt));
      location = result.returnTo ?? (config.frontendUrl ? `${config.frontendUrl}/` : '/');
    } catch (error) {
      if (!config.frontendUrl) throw error;
      const code = isAppError(error) ? error.code : 'internal_error';
      if (isAppError(error)) request.log.info({ code }, 'login failed; redirecting to the frontend');
      else request.log.error({ err: error }, 'login failed unexpectedly; redirecting to the frontend');
      return reply.redirect(`${config.frontendUrl}/?error=${encodeURIComponent(code)}`, 302);
    }
    return reply.redirect(location, 302);
  };
  app.get(`${AUTH_PATHS.callback}/:key`, { schema: callbackSchema('completeLoginOnInstanceCallback', "Where GitLab sends the browser back after login: the instance's own redirect URI (lookup's `callbackUrl`)") }, callbackHandler);
  app.get(AUTH_PATHS.callback, { schema: callbackSchema('completeLogin', 'The shared redirect URI of OAuth applications created before per-instance redirect URIs; accepted only for them') }, callbackHandler);
}

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(rateLimit, clientRateLimitOptions(app.deps));
  startRoute(app);
  callbackRoutes(app);
  logoutRoute(app);
};

export default authRoutes;
