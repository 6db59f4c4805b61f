// The GitLab REST calls this service makes, typed, over the guarded client. One place for every path.
import { AppError } from '../errors.js';
import type { GitlabHttp, GitlabLog } from './http.js';

/** A bound on list walking: an instance with more OAuth applications than this is not ours to scan. */
const MAX_PAGES = 50;

/** Where an instance lives and how to trust it. `url` may carry a relative root (https://host/gitlab). */
export interface GitlabTarget {
  url: string;
  caCertificate: string | null;
  log?: GitlabLog;
}

export interface GitlabUser {
  id: number;
  username: string;
  name: string;
  state: string;
  email?: string;
  avatar_url?: string | null;
  is_admin?: boolean;
  bot?: boolean;
}

export interface GitlabPersonalAccessToken {
  id: number;
  name: string;
  revoked: boolean;
  active: boolean;
  scopes: string[];
  user_id: number;
  expires_at: string | null;
  token?: string;
}

export interface GitlabApplication {
  id: number;
  application_id: string;
  application_name: string;
  callback_url: string;
  confidential: boolean;
  secret?: string;
}

export interface GitlabVersion {
  version: string;
  revision: string;
}

export interface OpenIdConfiguration {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  [field: string]: unknown;
}

type Auth = { privateToken: string } | { bearerToken: string } | Record<string, never>;

export function createGitlabApi(http: GitlabHttp) {
  function send<T>(target: GitlabTarget, method: 'GET' | 'POST' | 'DELETE', path: string, auth: Auth, json?: unknown) {
    return http.request<T>({
      method,
      url: `${target.url}${path}`,
      caCertificate: target.caCertificate,
      ...(target.log ? { log: target.log } : {}),
      ...auth,
      ...(json === undefined ? {} : { json }),
    });
  }
  async function call<T>(target: GitlabTarget, method: 'GET' | 'POST' | 'DELETE', path: string, auth: Auth, json?: unknown): Promise<T> {
    return (await send<T>(target, method, path, auth, json)).body;
  }
  /** A personal access token in the PRIVATE-TOKEN header: the admin's, or the bot's own. */
  const privateToken = (token: string) => ({ privateToken: token });

  /** Every page of a GitLab list (offset pagination: follow x-next-page until it is empty). */
  async function allPages<T>(target: GitlabTarget, path: string, auth: Auth): Promise<T[]> {
    const items: T[] = [];
    const separator = path.includes('?') ? '&' : '?';
    // Counted here, not trusted from the header: the server may be anyone's.
    for (let page = 1, fetched = 0; page > 0; fetched++) {
      if (fetched === MAX_PAGES) throw new AppError('gitlab_error', `GitLab lists more than ${MAX_PAGES} pages at ${path}`);
      const response = await send<T[]>(target, 'GET', `${path}${separator}per_page=100&page=${page}`, auth);
      if (!Array.isArray(response.body)) throw new AppError('gitlab_error', `GitLab did not answer a list at ${path}`);
      items.push(...response.body);
      const next = Number(response.headers.get('x-next-page'));
      page = Number.isInteger(next) && next > page ? next : 0;
    }
    return items;
  }

  return {
    openidConfiguration: (target: GitlabTarget) => call<OpenIdConfiguration>(target, 'GET', '/.well-known/openid-configuration', {}),
    anonymousVersion: (target: GitlabTarget) => call<GitlabVersion>(target, 'GET', '/api/v4/version', {}),
    version: (target: GitlabTarget, token: string) => call<GitlabVersion>(target, 'GET', '/api/v4/version', privateToken(token)),
    currentUser: (target: GitlabTarget, auth: Auth) => call<GitlabUser>(target, 'GET', '/api/v4/user', auth),
    tokenSelf: (target: GitlabTarget, token: string) => call<GitlabPersonalAccessToken>(target, 'GET', '/api/v4/personal_access_tokens/self', privateToken(token)),
    usersNamed: (target: GitlabTarget, token: string, username: string) =>
      call<GitlabUser[]>(target, 'GET', `/api/v4/users?username=${encodeURIComponent(username)}`, privateToken(token)),
    createUser: (target: GitlabTarget, token: string, user: { username: string; name: string; email: string; force_random_password: true; skip_confirmation: true; admin: false; note: string }) =>
      call<GitlabUser>(target, 'POST', '/api/v4/users', privateToken(token), user),
    blockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${id}/block`, privateToken(token)),
    unblockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${id}/unblock`, privateToken(token)),
    createUserToken: (target: GitlabTarget, token: string, userId: number | string, body: { name: string; scopes: string[]; expires_at?: string; description?: string }) =>
      call<GitlabPersonalAccessToken>(target, 'POST', `/api/v4/users/${userId}/personal_access_tokens`, privateToken(token), body),
    personalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call<GitlabPersonalAccessToken>(target, 'GET', `/api/v4/personal_access_tokens/${id}`, privateToken(token)),
    /** A token rotating itself by id: since 16.0 (the `self` form only since 16.10). */
    rotateOwnToken: (target: GitlabTarget, token: string, id: number | string, expiresAt: string) =>
      call<GitlabPersonalAccessToken>(target, 'POST', `/api/v4/personal_access_tokens/${id}/rotate`, privateToken(token), { expires_at: expiresAt }),
    revokePersonalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call<null>(target, 'DELETE', `/api/v4/personal_access_tokens/${id}`, privateToken(token)),
    applications: (target: GitlabTarget, token: string) => allPages<GitlabApplication>(target, '/api/v4/applications', privateToken(token)),
    liveTokensOf: (target: GitlabTarget, token: string, userId: number | string) =>
      allPages<GitlabPersonalAccessToken>(target, `/api/v4/personal_access_tokens?user_id=${userId}&state=active`, privateToken(token)),
    createApplication: (target: GitlabTarget, token: string, body: { name: string; redirect_uri: string; scopes: string; confidential: true }) =>
      call<GitlabApplication>(target, 'POST', '/api/v4/applications', privateToken(token), body),
    deleteApplication: (target: GitlabTarget, token: string, id: number | string) => call<null>(target, 'DELETE', `/api/v4/applications/${id}`, privateToken(token)),
  };
}

export type GitlabApi = ReturnType<typeof createGitlabApi>;
