// Session authentication: the gc_session cookie or `Authorization: Bearer <session token>`, the
// cookie attributes of the session and of the short-lived login binding, and the Origin check that
// state-changing cookie routes apply.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSerializeOptions } from '@fastify/cookie';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { bearerTokenOf } from '../crypto/tokens.js';
import { AUTH_PATHS } from '../auth-paths.js';
import { AppError } from '../errors.js';
import { findSession, type SessionContext } from '../services/sessions.service.js';
import { sessionApplicationAccepted } from '../services/credential-verification.js';

/** The session cookie, named in the OpenAPI document's security scheme too. */
export const SESSION_COOKIE = 'gc_session';
/** Binds a login to the browser that started it: random value in the cookie, its hash in login_states. */
export const LOGIN_BINDING_COOKIE = 'gc_login';
const LOGIN_BINDING_MAX_AGE_SECONDS = 600;

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: sets request.sessionAuth or answers 401 unauthenticated. */
    requireSession: (request: FastifyRequest) => Promise<void>;
  }
  interface FastifyRequest {
    sessionAuth: SessionContext | null;
  }
}

/** PUBLIC_URL's path prefix (a reverse proxy may mount the service under one), without trailing slash. */
function basePath(config: Config): string {
  return new URL(config.publicUrl).pathname.replace(/\/+$/, '');
}

const secure = (config: Config) => config.publicUrl.startsWith('https://');

export function sessionCookieOptions(config: Config, expiresAt?: Date): CookieSerializeOptions {
  return { httpOnly: true, sameSite: 'lax', secure: secure(config), path: `${basePath(config)}/`, ...(expiresAt ? { expires: expiresAt } : {}) };
}

export function loginBindingCookieOptions(config: Config): CookieSerializeOptions {
  return { httpOnly: true, sameSite: 'lax', secure: secure(config), path: `${basePath(config)}${AUTH_PATHS.loginScope}`, maxAge: LOGIN_BINDING_MAX_AGE_SECONDS };
}

/**
 * The request's cookies by name, parsed on demand: @fastify/cookie is registered without its onRequest
 * hook, so that the routes that read no cookie (lookup, the internal routes, webhooks) parse none.
 */
export function cookiesOf(request: FastifyRequest): Record<string, string | undefined> {
  const header = request.headers.cookie;
  return header === undefined ? {} : request.server.parseCookie(header);
}

/** The presented session token: the bearer token when there is an Authorization header, else the cookie. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  return authorization === undefined ? cookiesOf(request)[SESSION_COOKIE] : bearerTokenOf(authorization);
}

/** Refuses a request whose Origin is neither this service's nor the frontend's (cross-site request forgery). */
export function assertSameSiteOrigin(config: Config, request: FastifyRequest): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  const allowed = [new URL(config.publicUrl).origin, ...(config.frontendUrl ? [new URL(config.frontendUrl).origin] : [])];
  if (!allowed.includes(origin)) throw new AppError('cross_site_request', `Requests from the origin ${origin.slice(0, 200)} are refused`);
}

/**
 * Login CSRF defence at login start: refuses a request the browser marks as cross-site
 * (`Sec-Fetch-Site: cross-site`, W3C Fetch Metadata) unless its `Referer` is on FRONTEND_URL's
 * origin (a link from the frontend on another site). `same-origin`, `same-site`, `none` (typed or
 * bookmarked) and no fetch metadata at all (curl, older browsers) pass. Throws cross_site_request.
 */
export function assertNotCrossSiteNavigation(config: Config, request: FastifyRequest): void {
  if (request.headers['sec-fetch-site'] !== 'cross-site') return;
  if (config.frontendUrl && originOf(request.headers.referer) === new URL(config.frontendUrl).origin) return;
  throw new AppError('cross_site_request', 'A login cannot be started from another site; open the login from this service or its frontend');
}

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

export function clearSessionCookie(reply: FastifyReply, config: Config): void {
  reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(config));
}

export default fp(
  function sessionAuthPlugin(app: FastifyInstance): Promise<void> {
    app.decorateRequest('sessionAuth', null);
    app.decorate('requireSession', async function requireSession(request: FastifyRequest) {
      const token = sessionTokenOf(request);
      const session = token ? await findSession(app.deps, token) : undefined;
      if (!session) throw new AppError('unauthenticated', token ? 'The session is unknown, expired or revoked' : 'No session cookie or bearer token');
      const actor = `session of ${session.user.username} from ${request.ip}`;
      if (session.applicationGone || !(await sessionApplicationAccepted(app.deps, { instanceId: session.instance.id, applicationVerifiedAt: session.applicationVerifiedAt }, actor, request.log))) {
        throw new AppError('unauthenticated', "GitLab no longer accepts this instance's OAuth application (deleted or replaced)", { reason: 'application_gone' });
      }
      request.sessionAuth = session;
    });
    return Promise.resolve();
  },
  { name: 'session-auth', dependencies: ['@fastify/cookie', 'dependencies'] },
);
