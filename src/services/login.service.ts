// The OAuth2 login against an instance: start (state, PKCE, nonce, browser binding) and callback
// (single-use state, binding check, code exchange, GitLab user, stored tokens, new session).
import * as o from 'oauth4webapi';
import { SEAL_PKCE_VERIFIER, SEAL_USER_ACCESS_TOKEN, SEAL_USER_REFRESH_TOKEN } from '../crypto/seal-purposes.js';
import { hashSecret, randomSecret, sameSecret } from '../crypto/tokens.js';
import { callbackUrlOf } from '../auth-paths.js';
import { inTransaction } from '../db/database.js';
import { findInstanceById } from '../db/instances.repo.js';
import { consumeLoginState, deleteExpiredLoginStates, insertLoginState } from '../db/login-states.repo.js';
import { upsertUserAtLogin } from '../db/users.repo.js';
import type { Instance, LoginState } from '../domain/types.js';
import { AppError } from '../errors.js';
import type { GitlabUser } from '../gitlab/api.js';
import { toAppError } from '../gitlab/http.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { authorizationEndpoint, exchangeCode, registeredRedirectUri } from './gitlab-oauth.js';
import { headerSafeReturnTo, validateReturnTo } from './return-to.js';
import { createSession, endSession } from './sessions.service.js';
import { foundInstance } from './instances.service.js';

const LOGIN_STATE_TTL_MS = 10 * 60 * 1000;

async function readyInstance(deps: ServiceDeps, id: string): Promise<Instance> {
  const instance = foundInstance(await findInstanceById(deps.db, id), id);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `The instance is ${instance.status}, not ready for login`);
  return instance;
}

/**
 * Records a login state and returns where to send the browser and the new browser binding (a fresh
 * random value at every start: a value the client chose is never adopted, so an attacker cannot
 * plant a known binding; a login started earlier in another tab of the browser then ends in
 * invalid_state). Throws invalid_return_to, instance_not_found, instance_not_ready.
 */
export async function startLogin(
  deps: ServiceDeps,
  input: { instanceId: string; returnTo?: string | undefined },
): Promise<{ location: string; binding: string }> {
  const { config, db, sealer } = deps;
  const returnTo = validateReturnTo(config, input.returnTo);
  const instance = await readyInstance(deps, input.instanceId);
  const clientId = instance.oauthClientId;
  if (!clientId) throw new AppError('instance_not_ready', 'The instance has no OAuth application; run the bootstrap again');

  const scopes = config.oauthScopes;
  const codeVerifier = o.generateRandomCodeVerifier();
  const state = o.generateRandomState();
  const nonce = scopes.includes('openid') ? o.generateRandomNonce() : null;
  const binding = randomSecret();
  const now = deps.clock();

  await deleteExpiredLoginStates(db, now);
  await insertLoginState(db, {
    stateHash: hashSecret(state),
    instanceId: instance.id,
    browserBindingHash: hashSecret(binding),
    codeVerifierSealed: sealer.seal(codeVerifier, SEAL_PKCE_VERIFIER),
    nonce,
    returnTo: returnTo ?? null,
    expiresAt: new Date(now.getTime() + LOGIN_STATE_TTL_MS),
    createdAt: now,
  });

  const url = new URL(authorizationEndpoint(instance.url));
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', registeredRedirectUri(config, instance));
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
  /** The key of the per-instance callback path the browser arrived on; undefined: the old shared path. */
  callbackKey?: string | undefined;
  /** The session the browser already holds, ended by a successful login (never two sessions silently). */
  previousSessionToken?: string | undefined;
}

/** GitLab's refusals here are GitLab errors, not the caller's. */
async function gitlabUserOf(deps: ServiceDeps, instance: Instance, accessToken: string, log: RequestLog): Promise<GitlabUser> {
  try {
    return await deps.gitlab.currentUser(gitlabTargetOf(instance, log), { bearerToken: accessToken });
  } catch (error) {
    const mapped = toAppError(error);
    if (mapped.code.startsWith('token_') || mapped.code === 'internal_error') throw new AppError('gitlab_error', `GitLab did not return the user: ${mapped.message}`);
    throw mapped;
  }
}

/**
 * Consumes the state (single use, burnt whatever follows) and checks it was started in this browser
 * and came back on the redirect URI of the instance it was started for (the OAuth mix-up defence of
 * RFC 9700 §4.4). Only then is GitLab's `error` believed: an unknown state is invalid_state whatever
 * the callback carries.
 */
async function consumeCallbackState(deps: ServiceDeps, input: CallbackInput, now: Date): Promise<{ loginState: LoginState; instance: Instance; code: string; state: string }> {
  if (!input.state) throw new AppError('invalid_state', 'The callback lacks a state; start the login again');
  const loginState = await consumeLoginState(deps.db, hashSecret(input.state), now);
  if (!loginState) throw new AppError('invalid_state', 'The login state is unknown, expired or already used; start the login again');
  if (!input.binding || !sameSecret(hashSecret(input.binding), loginState.browserBindingHash)) {
    throw new AppError('invalid_state', 'The login was started in another browser; start the login again');
  }
  const instance = await readyInstance(deps, loginState.instanceId);
  const receivedOn = callbackUrlOf(deps.config.publicUrl, input.callbackKey);
  if (receivedOn !== registeredRedirectUri(deps.config, instance)) {
    throw new AppError('invalid_state', "The login came back on another instance's redirect URI; start the login again");
  }
  if (input.error !== undefined) {
    if (input.error === 'access_denied') throw new AppError('oauth_denied', 'The login was refused on GitLab');
    const error = /^[a-z_]{1,64}$/.test(input.error) ? input.error : 'an unknown error';
    throw new AppError('gitlab_error', `GitLab ended the login with ${error}`);
  }
  if (!input.code) throw new AppError('invalid_state', 'The callback lacks a code; start the login again');
  return { loginState, instance, code: input.code, state: input.state };
}

/**
 * Completes a login: state, code exchange, GitLab user, stored tokens, new session. Returns the
 * session token and the validated returnTo (null: none was given). Throws oauth_denied,
 * invalid_state, instance_not_ready, token_exchange_failed or the GitLab failure codes.
 */
export async function completeLogin(
  deps: ServiceDeps,
  input: CallbackInput,
  log: RequestLog,
): Promise<{ sessionToken: string; sessionExpiresAt: Date; returnTo: string | null }> {
  const { config, sealer } = deps;
  const now = deps.clock();
  const { loginState, instance, code, state } = await consumeCallbackState(deps, input, now);
  const returnTo = headerSafeReturnTo(loginState.returnTo);
  const codeVerifier = sealer.open(loginState.codeVerifierSealed, SEAL_PKCE_VERIFIER);
  const tokens = await exchangeCode(deps, instance, { code, state, codeVerifier, nonce: loginState.nonce });
  const user = await gitlabUserOf(deps, instance, tokens.accessToken, log);
  if (tokens.subject !== null && tokens.subject !== String(user.id)) {
    throw new AppError('token_exchange_failed', 'The ID token names another user than the access token');
  }

  const session = await inTransaction(deps.db, async (trx) => {
    const stored = await upsertUserAtLogin(trx, {
      instanceId: instance.id,
      gitlabUserId: user.id,
      username: user.username,
      name: user.name,
      email: user.email ?? null,
      avatarUrl: user.avatar_url ?? null,
      accessTokenSealed: sealer.seal(tokens.accessToken, SEAL_USER_ACCESS_TOKEN),
      refreshTokenSealed: tokens.refreshToken === null ? null : sealer.seal(tokens.refreshToken, SEAL_USER_REFRESH_TOKEN),
      accessTokenExpiresAt: tokens.expiresAt,
      accessTokenObtainedAt: tokens.obtainedAt,
      now,
    });
    if (input.previousSessionToken) await endSession(trx, input.previousSessionToken, now);
    return createSession(trx, config, { userId: stored.id, instanceId: instance.id, now });
  });
  return { sessionToken: session.token, sessionExpiresAt: session.expiresAt, returnTo };
}
