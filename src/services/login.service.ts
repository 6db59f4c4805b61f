// The OAuth2 login against an instance: start (state, PKCE, nonce, browser binding) and callback
// (single-use state, binding check, code exchange, GitLab user, stored tokens, new session).
import * as o from 'oauth4webapi';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SEAL_PKCE_VERIFIER, SEAL_USER_ACCESS_TOKEN, SEAL_USER_REFRESH_TOKEN } from '../crypto/seal-purposes.js';
import { hashSecret, randomSecret, sameSecret, SECRET_PATTERN } from '../crypto/tokens.js';
import { findInstanceById } from '../db/instances.repo.js';
import { consumeLoginState, deleteExpiredLoginStates, insertLoginState } from '../db/login-states.repo.js';
import type { Instance } from '../db/types.js';
import { upsertUserAtLogin } from '../db/users.repo.js';
import { AppError } from '../errors.js';
import type { GitlabUser } from '../gitlab/api.js';
import { toAppError } from '../gitlab/http.js';
import { authorizationEndpoint, exchangeCode } from './gitlab-oauth.js';
import { validateReturnTo } from './return-to.js';
import { createSession } from './sessions.service.js';
import { foundInstance } from './instances.service.js';

const LOGIN_STATE_TTL_MS = 10 * 60 * 1000;

async function readyInstance(app: FastifyInstance, id: string): Promise<Instance> {
  const instance = foundInstance(await findInstanceById(app.db, id), id);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `The instance is ${instance.status}, not ready for login`);
  return instance;
}

/**
 * Records a login state and returns where to send the browser. `binding` is the browser's current
 * binding cookie, reused when well-formed so two logins started in two tabs do not evict each other.
 */
export async function startLogin(
  app: FastifyInstance,
  input: { instanceId: string; returnTo?: string | undefined; binding?: string | undefined },
): Promise<{ location: string; binding: string }> {
  const returnTo = validateReturnTo(app.config, input.returnTo);
  const instance = await readyInstance(app, input.instanceId);
  const clientId = instance.oauth_client_id;
  if (!clientId) throw new AppError('instance_not_ready', 'The instance has no OAuth application; run the bootstrap again');

  const scopes = app.config.oauthScopes;
  const codeVerifier = o.generateRandomCodeVerifier();
  const state = o.generateRandomState();
  const nonce = scopes.includes('openid') ? o.generateRandomNonce() : null;
  const binding = input.binding && SECRET_PATTERN.test(input.binding) ? input.binding : randomSecret();
  const now = app.clock();

  await deleteExpiredLoginStates(app.db, now);
  await insertLoginState(app.db, {
    state_hash: hashSecret(state),
    instance_id: instance.id,
    browser_binding_hash: hashSecret(binding),
    code_verifier_sealed: app.sealer.seal(codeVerifier, SEAL_PKCE_VERIFIER),
    nonce,
    return_to: returnTo ?? null,
    expires_at: new Date(now.getTime() + LOGIN_STATE_TTL_MS),
    created_at: now,
  });

  const url = new URL(authorizationEndpoint(instance.url));
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', app.config.callbackUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', await o.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  if (nonce) url.searchParams.set('nonce', nonce);
  return { location: url.toString(), binding };
}

export interface CallbackInput {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
  binding?: string | undefined;
  log: Logger;
}

/** The GitLab user behind an access token; GitLab's refusals here are GitLab errors, not the caller's. */
async function gitlabUserOf(app: FastifyInstance, instance: Instance, accessToken: string, log: Logger): Promise<GitlabUser> {
  try {
    return await app.gitlab.currentUser({ url: instance.url, caCertificate: instance.ca_certificate, log }, { bearerToken: accessToken });
  } catch (error) {
    const mapped = toAppError(error);
    if (mapped.code.startsWith('token_') || mapped.code === 'internal_error') throw new AppError('gitlab_error', `GitLab did not return the user: ${mapped.message}`);
    throw mapped;
  }
}

/** Completes a login; returns the new session token and where to send the browser. */
export async function completeLogin(app: FastifyInstance, input: CallbackInput): Promise<{ sessionToken: string; sessionExpiresAt: Date; location: string }> {
  const now = app.clock();
  if (input.error !== undefined) {
    // Burn the state, so the same login cannot be resumed after GitLab said no.
    if (input.state) await consumeLoginState(app.db, hashSecret(input.state), now);
    if (input.error === 'access_denied') throw new AppError('oauth_denied', 'The login was refused on GitLab');
    const error = /^[a-z_]{1,64}$/.test(input.error) ? input.error : 'an unknown error';
    throw new AppError('gitlab_error', `GitLab ended the login with ${error}`);
  }
  if (!input.code || !input.state) throw new AppError('invalid_state', 'The callback lacks code or state');

  const loginState = await consumeLoginState(app.db, hashSecret(input.state), now);
  if (!loginState) throw new AppError('invalid_state', 'The login state is unknown, expired or already used; start the login again');
  if (!input.binding || !sameSecret(hashSecret(input.binding), loginState.browser_binding_hash)) {
    throw new AppError('invalid_state', 'The login was started in another browser; start the login again');
  }

  const instance = await readyInstance(app, loginState.instance_id);
  const codeVerifier = app.sealer.open(loginState.code_verifier_sealed, SEAL_PKCE_VERIFIER);
  const tokens = await exchangeCode(app, instance, { code: input.code, state: input.state, codeVerifier, nonce: loginState.nonce });
  const user = await gitlabUserOf(app, instance, tokens.accessToken, input.log);
  if (tokens.subject !== null && tokens.subject !== String(user.id)) {
    throw new AppError('token_exchange_failed', 'The ID token names another user than the access token');
  }

  const session = await app.db.transaction().execute(async (trx) => {
    const stored = await upsertUserAtLogin(trx, {
      instanceId: instance.id,
      gitlabUserId: user.id,
      username: user.username,
      name: user.name,
      email: user.email ?? null,
      avatarUrl: user.avatar_url ?? null,
      accessTokenSealed: app.sealer.seal(tokens.accessToken, SEAL_USER_ACCESS_TOKEN),
      refreshTokenSealed: tokens.refreshToken === null ? null : app.sealer.seal(tokens.refreshToken, SEAL_USER_REFRESH_TOKEN),
      accessTokenExpiresAt: tokens.expiresAt,
      accessTokenObtainedAt: tokens.obtainedAt,
      now,
    });
    return createSession(trx, app.config, { userId: stored.id, instanceId: instance.id, now });
  });
  const location = loginState.return_to ?? (app.config.frontendUrl ? `${app.config.frontendUrl}/` : '/');
  return { sessionToken: session.token, sessionExpiresAt: session.expiresAt, location };
}
