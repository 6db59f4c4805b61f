// OAuth2 + OIDC against one GitLab instance with oauth4webapi: the authorization server and client are
// built per instance row (GitLab instances are added at runtime, so one client registered at start-up
// cannot serve them), and every request goes through the guarded GitLab HTTP client.
import * as o from 'oauth4webapi';
import { SEAL_OAUTH_CLIENT_SECRET } from '../crypto/seal-purposes.js';
import type { Config } from '../config.js';
import type { Instance } from '../domain/types.js';
import { AppError } from '../errors.js';
import { checkedExpiresIn } from '../gitlab/answers.js';
import { DEFAULT_RETRY_AFTER_SECONDS, parseRetryAfter } from '../gitlab/http.js';
import type { ServiceDeps } from './deps.js';

export interface InstanceOauth {
  as: o.AuthorizationServer;
  client: o.Client;
  clientAuth: o.ClientAuth;
  options: o.TokenEndpointRequestOptions;
}

export interface GrantedTokens {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
  /** When we asked for the tokens, by our clock: the start of their lifetime. */
  obtainedAt: Date;
  /** The validated ID token's subject, when the scope had openid. */
  subject: string | null;
}

/** GitLab's endpoints sit under the instance URL, relative root included. */
export function authorizationEndpoint(instanceUrl: string): string {
  return `${instanceUrl}/oauth/authorize`;
}

/**
 * The redirect URI registered with the instance's OAuth application, as stored with it: the
 * instance's own (`$PUBLIC_URL/auth/gitlab/callback/<key>`, RFC 9700 §4.4), or the old shared one for
 * an application created before per-instance URIs (null: such a legacy row), until a re-check
 * replaces the application. Login start sends it, the code exchange repeats it, the callback must
 * arrive on it.
 */
export function registeredRedirectUri(config: Config, instance: Instance): string {
  return instance.oauthRedirectUri ?? config.callbackUrl;
}

/** How far GitLab's clock may be off ours for ID token times (contract: "a few minutes"). */
export const ID_TOKEN_CLOCK_TOLERANCE_SECONDS = 300;

/**
 * GitLab's 429 at /oauth/token (Rack::Attack: plain `Retry later` with Retry-After, gitlab-facts §8)
 * as 503 gitlab_rate_limited, before oauth4webapi reads the body as an OAuth error; other answers pass.
 */
function refuseRateLimited(response: Response): Response {
  if (response.status !== 429) return response;
  const retryAfter = parseRetryAfter(response.headers.get('retry-after')) ?? DEFAULT_RETRY_AFTER_SECONDS;
  throw new AppError('gitlab_rate_limited', `GitLab is rate limiting this service at POST /oauth/token; retry after ${String(retryAfter)} s`, { retryAfter });
}

/** Where an instance's OAuth provider lives and how to reach it. */
type OauthServer = Pick<Instance, 'url' | 'openidIssuer' | 'caCertificate'>;

function oauthClientOf(deps: ServiceDeps, server: OauthServer, clientId: string, clientSecret: string): InstanceOauth {
  const as: o.AuthorizationServer = {
    // GitLab signs ID tokens with its external_url, which an alias or a proxy may make differ from ours.
    issuer: server.openidIssuer ?? server.url,
    authorization_endpoint: authorizationEndpoint(server.url),
    token_endpoint: `${server.url}/oauth/token`,
    userinfo_endpoint: `${server.url}/oauth/userinfo`,
    jwks_uri: `${server.url}/oauth/discovery/keys`,
    id_token_signing_alg_values_supported: ['RS256'],
  };
  const client: o.Client = {
    client_id: clientId,
    // Protocol time checks (ID token exp) follow the app's clock, which tests may move.
    [o.clockSkew]: Math.round((deps.clock().getTime() - Date.now()) / 1000),
    // GitLab's ID tokens live 120 s and its clock may lag ours: iat, exp and auth_time get this much slack.
    [o.clockTolerance]: ID_TOKEN_CLOCK_TOLERANCE_SECONDS,
  };
  const options: o.TokenEndpointRequestOptions = {
    [o.customFetch]: (url, init) => deps.gitlabHttp.fetch(url, { ...init, caCertificate: server.caCertificate }),
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- oauth4webapi marks it deprecated only to stand out; ALLOW_HTTP (tests, local GitLab) needs it
    [o.allowInsecureRequests]: deps.config.allowHttp,
  };
  return { as, client, clientAuth: o.ClientSecretBasic(clientSecret), options };
}

function instanceOauth(deps: ServiceDeps, instance: Instance): InstanceOauth {
  if (!instance.oauthClientId || !instance.oauthClientSecretSealed) {
    throw new AppError('instance_not_ready', 'The instance has no OAuth application; run the bootstrap again');
  }
  return oauthClientOf(deps, instance, instance.oauthClientId, deps.sealer.open(instance.oauthClientSecretSealed, SEAL_OAUTH_CLIENT_SECRET));
}

/** A code that no GitLab ever issued: the token endpoint must refuse it, after authenticating the client. */
const NEVER_ISSUED_CODE = 'gitlab-connect-client-check';

/**
 * Does GitLab's token endpoint accept this client id and secret? Secrets are stored hashed on GitLab, so
 * the only test is to use them: a code grant with a code never issued. Doorkeeper authenticates the
 * client first (gitlab-facts "Applications"; doorkeeper lib/doorkeeper/oauth/token_request.rb): 401
 * `invalid_client` means an unknown client id or a wrong secret, 400 `invalid_grant` means the client
 * was accepted (and the code refused, as intended). Returns false for invalid_client; throws
 * gitlab_rate_limited on a 429 and gitlab_error for any other answer; transport failures keep their codes.
 */
export async function oauthClientAccepted(deps: ServiceDeps, server: OauthServer, credentials: { clientId: string; clientSecret: string }, redirectUri: string): Promise<boolean> {
  const { as, client, clientAuth, options } = oauthClientOf(deps, server, credentials.clientId, credentials.clientSecret);
  const response = await o.genericTokenEndpointRequest(as, client, clientAuth, 'authorization_code', { code: NEVER_ISSUED_CODE, redirect_uri: redirectUri }, options);
  const error = await response.json().then((body: unknown) => (body as { error?: unknown } | null)?.error, () => undefined);
  if (error === 'invalid_grant') return true;
  if (error === 'invalid_client') return false;
  refuseRateLimited(response);
  throw new AppError('gitlab_error', `GitLab's token endpoint answered ${String(response.status)}${typeof error === 'string' && OAUTH_ERROR_CODE.test(error) ? ` ${error}` : ''} to a client check; expected invalid_grant or invalid_client`);
}

function grantedTokens(response: o.TokenEndpointResponse, requestedAt: Date): GrantedTokens {
  // Expiry by our own clock at the moment we asked: safe against a GitLab clock that runs ahead.
  const expiresIn = checkedExpiresIn(response.expires_in);
  const expiresAt = expiresIn === undefined ? null : new Date(requestedAt.getTime() + expiresIn * 1000);
  return {
    accessToken: response.access_token,
    refreshToken: typeof response.refresh_token === 'string' ? response.refresh_token : null,
    expiresAt,
    obtainedAt: requestedAt,
    subject: o.getValidatedIdTokenClaims(response)?.sub ?? null,
  };
}

const OAUTH_ERROR_CODE = /^[a-z_]{1,64}$/;

/** What GitLab's token endpoint said, for a problem detail (never a token or code). */
function describeOauthError(error: unknown): string {
  // Only the status and a well-formed `error` code (RFC 6749 §5.2 codes are lower-case words): the
  // free-text error_description is GitLab's to fill and is not repeated to callers or stored.
  if (error instanceof o.ResponseBodyError) return `GitLab answered ${String(error.status)}${OAUTH_ERROR_CODE.test(error.error) ? ` ${error.error}` : ''}`;
  if (error instanceof o.WWWAuthenticateChallengeError) return `GitLab refused the client (${String(error.status)}); the OAuth application may have been deleted or its secret changed`;
  if (error instanceof o.OperationProcessingError) return `GitLab's answer did not validate (${String(error.code)}): ${error.message}`;
  return 'GitLab answered unexpectedly';
}

/**
 * Exchanges an authorization code (PKCE verifier; with openid, the ID token's issuer, audience,
 * nonce and expiry are validated). Transport failures keep their own codes; anything GitLab
 * refused or that did not validate is token_exchange_failed.
 */
export async function exchangeCode(
  deps: ServiceDeps,
  instance: Instance,
  input: { code: string; state: string; codeVerifier: string; nonce: string | null },
): Promise<GrantedTokens> {
  const { as, client, clientAuth, options } = instanceOauth(deps, instance);
  const requestedAt = deps.clock();
  try {
    const params = o.validateAuthResponse(as, client, new URLSearchParams({ code: input.code, state: input.state }), input.state);
    const response = await o.authorizationCodeGrantRequest(as, client, clientAuth, params, registeredRedirectUri(deps.config, instance), input.codeVerifier, options);
    const processed = await o.processAuthorizationCodeResponse(as, client, refuseRateLimited(response), {
      expectedNonce: input.nonce ?? o.expectNoNonce,
      requireIdToken: input.nonce !== null,
    });
    return grantedTokens(processed, requestedAt);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('token_exchange_failed', `The authorization code could not be exchanged: ${describeOauthError(error)}`);
  }
}

/** Thrown by refreshTokens when GitLab no longer accepts the refresh token. */
export class RefreshRefusedError extends Error {}

/**
 * Thrown by refreshTokens when GitLab refuses the client itself (401 `invalid_client`, with Doorkeeper's
 * `WWW-Authenticate: Basic` challenge; doorkeeper lib/doorkeeper/oauth/error_response.rb): the OAuth
 * application was deleted or its secret replaced, so no user of the instance can refresh or log in.
 */
export class ClientRefusedError extends Error {}

const clientRefused = (error: unknown) =>
  (error instanceof o.WWWAuthenticateChallengeError && error.status === 401) || (error instanceof o.ResponseBodyError && error.error === 'invalid_client');

/**
 * Trades a refresh token for new tokens; RefreshRefusedError when GitLab answers invalid_grant,
 * ClientRefusedError on invalid_client, gitlab_rate_limited for a 429, gitlab_error for other refusals.
 */
export async function refreshTokens(deps: ServiceDeps, instance: Instance, refreshToken: string): Promise<GrantedTokens> {
  const { as, client, clientAuth, options } = instanceOauth(deps, instance);
  const requestedAt = deps.clock();
  try {
    const response = await o.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, options);
    return grantedTokens(await o.processRefreshTokenResponse(as, client, refuseRateLimited(response)), requestedAt);
  } catch (error) {
    if (error instanceof AppError) throw error;
    if (error instanceof o.ResponseBodyError && error.error === 'invalid_grant') throw new RefreshRefusedError(describeOauthError(error));
    if (clientRefused(error)) throw new ClientRefusedError(describeOauthError(error));
    throw new AppError('gitlab_error', `GitLab did not refresh the user's token: ${describeOauthError(error)}`);
  }
}
