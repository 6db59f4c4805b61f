// The GitLab REST calls this service makes, over the guarded client, each answer checked against its
// schema (answers.ts) before use. One place for every path.
import Type from 'typebox';
import { AppError } from '../errors.js';
import {
  answerCheck,
  GitlabApplicationSchema,
  GitlabPersonalAccessTokenSchema,
  GitlabUserSchema,
  GitlabVersionSchema,
  httpUrlOrNull,
  type AnswerCheck,
  type GitlabUser,
} from './answers.js';
import type { GitlabHttp, GitlabLog } from './http.js';

/** A bound on list walking: an instance with more OAuth applications than this is not ours to scan. */
const MAX_PAGES = 50;

/** Where an instance lives and how to trust it. `url` may carry a relative root (https://host/gitlab). */
export interface GitlabTarget {
  url: string;
  caCertificate: string | null;
  log?: GitlabLog;
  /** The deadline of calls that change a credential (rotation, creation): GITLAB_CREDENTIAL_TIMEOUT_MS. */
  credentialTimeoutMs?: number;
}

export type { GitlabApplication, GitlabPersonalAccessToken, GitlabUser, GitlabVersion } from './answers.js';

const checkUser = answerCheck(GitlabUserSchema);
const checkUsers = answerCheck(Type.Array(GitlabUserSchema, { maxItems: 100 }));
const checkToken = answerCheck(GitlabPersonalAccessTokenSchema);
const checkTokens = answerCheck(Type.Array(GitlabPersonalAccessTokenSchema, { maxItems: 100 }));
const checkApplication = answerCheck(GitlabApplicationSchema);
const checkApplications = answerCheck(Type.Array(GitlabApplicationSchema, { maxItems: 100 }));
const checkVersion = answerCheck(GitlabVersionSchema);

/** A user as served onwards: an avatar URL that is not http(s) is dropped. */
const servedUser = (user: GitlabUser): GitlabUser => ({ ...user, avatar_url: httpUrlOrNull(user.avatar_url) });

export interface OpenIdConfiguration {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  [field: string]: unknown;
}

/** How an operation is named in errors: method and path, without the query (it may carry a username). */
const operationOf = (method: string, path: string) => `${method} ${path.split('?')[0]}`;

type Auth = { privateToken: string } | { bearerToken: string } | Record<string, never>;

export function createGitlabApi(http: GitlabHttp) {
  function send<T>(target: GitlabTarget, method: 'GET' | 'POST' | 'DELETE', path: string, auth: Auth, json?: unknown, changesCredential = false) {
    return http.request<T>({
      ...(changesCredential && target.credentialTimeoutMs ? { timeoutMs: target.credentialTimeoutMs } : {}),
      method,
      url: `${target.url}${path}`,
      caCertificate: target.caCertificate,
      ...(target.log ? { log: target.log } : {}),
      ...auth,
      ...(json === undefined ? {} : { json }),
    });
  }
  /** One call whose answer is checked (`check`) or, for answers the service never reads, ignored (null). */
  async function call<T>(target: GitlabTarget, method: 'GET' | 'POST' | 'DELETE', path: string, auth: Auth, check: AnswerCheck<T> | null, json?: unknown): Promise<T> {
    const { body } = await send<unknown>(target, method, path, auth, json);
    return check ? check(operationOf(method, path), body) : (body as T);
  }
  /** A POST that creates or rotates a credential: its answer is the only copy, so it gets the credential deadline. */
  async function credentialCall<T>(target: GitlabTarget, path: string, auth: Auth, check: AnswerCheck<T>, json: unknown): Promise<T> {
    const { body } = await send<unknown>(target, 'POST', path, auth, json, true);
    return check(operationOf('POST', path), body);
  }
  /** A personal access token in the PRIVATE-TOKEN header: the admin's, or the bot's own. */
  const privateToken = (token: string) => ({ privateToken: token });

  /** Every page of a GitLab list (offset pagination: follow x-next-page until it is empty). */
  async function allPages<T>(target: GitlabTarget, path: string, auth: Auth, check: AnswerCheck<T[]>): Promise<T[]> {
    const items: T[] = [];
    const separator = path.includes('?') ? '&' : '?';
    // Counted here, not trusted from the header: the server may be anyone's.
    for (let page = 1, fetched = 0; page > 0; fetched++) {
      if (fetched === MAX_PAGES) throw new AppError('gitlab_error', `GitLab lists more than ${MAX_PAGES} pages at ${path}`);
      const response = await send<unknown>(target, 'GET', `${path}${separator}per_page=100&page=${page}`, auth);
      items.push(...check(operationOf('GET', path), response.body));
      const next = Number(response.headers.get('x-next-page'));
      page = Number.isInteger(next) && next > page ? next : 0;
    }
    return items;
  }

  return {
    openidConfiguration: (target: GitlabTarget) => call<OpenIdConfiguration>(target, 'GET', '/.well-known/openid-configuration', {}, null),
    anonymousVersion: (target: GitlabTarget) => call(target, 'GET', '/api/v4/version', {}, checkVersion),
    version: (target: GitlabTarget, token: string) => call(target, 'GET', '/api/v4/version', privateToken(token), checkVersion),
    currentUser: async (target: GitlabTarget, auth: Auth) => servedUser(await call(target, 'GET', '/api/v4/user', auth, checkUser)),
    tokenSelf: (target: GitlabTarget, token: string) => call(target, 'GET', '/api/v4/personal_access_tokens/self', privateToken(token), checkToken),
    usersNamed: (target: GitlabTarget, token: string, username: string) =>
      call(target, 'GET', `/api/v4/users?username=${encodeURIComponent(username)}`, privateToken(token), checkUsers),
    createUser: (target: GitlabTarget, token: string, user: { username: string; name: string; email: string; force_random_password: true; skip_confirmation: true; admin: false; note: string }) =>
      call(target, 'POST', '/api/v4/users', privateToken(token), checkUser, user),
    blockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${id}/block`, privateToken(token), null),
    unblockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${id}/unblock`, privateToken(token), null),
    createUserToken: (target: GitlabTarget, token: string, userId: number | string, body: { name: string; scopes: string[]; expires_at?: string; description?: string }) =>
      credentialCall(target, `/api/v4/users/${userId}/personal_access_tokens`, privateToken(token), checkToken, body),
    personalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call(target, 'GET', `/api/v4/personal_access_tokens/${id}`, privateToken(token), checkToken),
    /** A token rotating itself by id: since 16.0 (the `self` form only since 16.10). */
    rotateOwnToken: (target: GitlabTarget, token: string, id: number | string, expiresAt: string) =>
      credentialCall(target, `/api/v4/personal_access_tokens/${id}/rotate`, privateToken(token), checkToken, { expires_at: expiresAt }),
    /** A token rotating itself without knowing its id: GitLab 16.10+ (lib/api/personal_access_tokens/self_rotation.rb); the old token is revoked. */
    rotateSelf: (target: GitlabTarget, token: string, expiresAt: string) =>
      credentialCall(target, '/api/v4/personal_access_tokens/self/rotate', privateToken(token), checkToken, { expires_at: expiresAt }),
    revokePersonalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'DELETE', `/api/v4/personal_access_tokens/${id}`, privateToken(token), null),
    applications: (target: GitlabTarget, token: string) => allPages(target, '/api/v4/applications', privateToken(token), checkApplications),
    liveTokensOf: (target: GitlabTarget, token: string, userId: number | string) =>
      allPages(target, `/api/v4/personal_access_tokens?user_id=${userId}&state=active`, privateToken(token), checkTokens),
    createApplication: (target: GitlabTarget, token: string, body: { name: string; redirect_uri: string; scopes: string; confidential: true }) =>
      call(target, 'POST', '/api/v4/applications', privateToken(token), checkApplication, body),
    deleteApplication: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'DELETE', `/api/v4/applications/${id}`, privateToken(token), null),
  };
}

export type GitlabApi = ReturnType<typeof createGitlabApi>;
