// The GitLab REST calls this service makes, over the guarded client, each answer checked against its
// schema (answers.ts) before use. One place for every path.
import Type from 'typebox';
import { AppError } from '../errors.js';
import {
  answerCheck,
  answerListCheck,
  GitlabApplicationSchema,
  GitlabApplicationSettingsSchema,
  GitlabHookSchema,
  GitlabMemberSchema,
  GitlabProjectSchema,
  GitlabPersonalAccessTokenSchema,
  GitlabUserSchema,
  GitlabVersionSchema,
  httpUrlOrNull,
  type AnswerCheck,
  type GitlabUser,
} from './answers.js';
import type { GitlabHttp, GitlabLog } from './http.js';

/**
 * Bounds on walking a GitLab list (issue 10 item 5): pages walked, and bytes read over all of them.
 * 50 pages of 100 is 5 000 items; a real OAuth application is ~250 bytes of JSON, so 4 MiB leaves
 * room for long redirect URIs while one walk can no longer read 50 pages of 1 MiB. (GitLab answers
 * GET /applications in one page, lib/api/applications.rb; only a hostile or future one pages it.)
 */
export const MAX_LIST_PAGES = 50;
export const MAX_LIST_BYTES = 4 * 1024 * 1024;

/** Where an instance lives and how to trust it. `url` may carry a relative root (https://host/gitlab). */
export interface GitlabTarget {
  url: string;
  caCertificate: string | null;
  log?: GitlabLog;
  /** The deadline of calls that change a credential (rotation, creation): GITLAB_CREDENTIAL_TIMEOUT_MS. */
  credentialTimeoutMs?: number;
}

export type { GitlabApplication, GitlabApplicationSettings, GitlabHook, GitlabMember, GitlabPersonalAccessToken, GitlabProject, GitlabUser, GitlabVersion } from './answers.js';

const checkUser = answerCheck(GitlabUserSchema);
const checkUsers = answerCheck(Type.Array(GitlabUserSchema, { maxItems: 100 }));
const checkToken = answerCheck(GitlabPersonalAccessTokenSchema);
const checkTokens = answerListCheck(GitlabPersonalAccessTokenSchema, 100);
const checkApplication = answerCheck(GitlabApplicationSchema);
// GitLab answers the whole list in one page (lib/api/applications.rb has no `paginate`): a page may
// hold every application the walk would accept.
const checkApplications = answerListCheck(GitlabApplicationSchema, MAX_LIST_PAGES * 100);
const checkVersion = answerCheck(GitlabVersionSchema);
const checkSettings = answerCheck(GitlabApplicationSettingsSchema);
const checkProject = answerCheck(GitlabProjectSchema);
const checkProjects = answerListCheck(GitlabProjectSchema, 100);
const checkMember = answerCheck(GitlabMemberSchema);
const checkHook = answerCheck(GitlabHookSchema);
const checkHooks = answerListCheck(GitlabHookSchema, 100);

/** The hook this service creates: merge request and comment events, SSL verification on (GitLab's params: lib/api/project_hooks.rb). */
export interface NewProjectHook {
  url: string;
  token: string;
}

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

export type Auth = { privateToken: string } | { bearerToken: string } | Record<string, never>;

/** The calls every group below is built from, over one GitLab HTTP client. */
function requesterOf(http: GitlabHttp) {
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

  /**
   * Every page of a GitLab list (offset pagination: follow x-next-page until it is empty), each page
   * checked and cut down to the used fields (`check`) as it arrives. Throws 502 gitlab_error naming the
   * operation, with `fix` as what to do, past MAX_LIST_PAGES pages or MAX_LIST_BYTES read: a list cut
   * short could hide one of our own resources on a later page, and the bootstrap would then create a
   * second one.
   */
  async function allPages<T>(target: GitlabTarget, path: string, auth: Auth, check: AnswerCheck<T[]>, fix: string): Promise<T[]> {
    const items: T[] = [];
    const operation = operationOf('GET', path);
    const tooLong = (what: string) => new AppError('gitlab_error', `GitLab's answer to ${operation} is too long (${what}; at most ${String(MAX_LIST_PAGES)} pages and ${String(MAX_LIST_BYTES / 1024 / 1024)} MiB are read): ${fix}, then retry`);
    const separator = path.includes('?') ? '&' : '?';
    // Counted here, not trusted from the header: the server may be anyone's.
    for (let page = 1, fetched = 0, bytes = 0; page > 0; fetched++) {
      if (fetched === MAX_LIST_PAGES) throw tooLong(`more than ${String(MAX_LIST_PAGES)} pages`);
      const response = await send<unknown>(target, 'GET', `${path}${separator}per_page=100&page=${String(page)}`, auth);
      bytes += response.bytes;
      if (bytes > MAX_LIST_BYTES) throw tooLong(`more than ${String(MAX_LIST_BYTES / 1024 / 1024)} MiB by page ${String(fetched + 1)}`);
      items.push(...check(operation, response.body));
      const next = Number(response.headers.get('x-next-page'));
      page = Number.isInteger(next) && next > page ? next : 0;
    }
    return items;
  }
  return { send, call, credentialCall, allPages };
}

type Requester = ReturnType<typeof requesterOf>;

/** A personal access token in the PRIVATE-TOKEN header: the admin's, or the bot's own. */
const privateToken = (token: string) => ({ privateToken: token });

/** The probe, the admin and the bot account: version, users and their states (lib/api/users.rb). */
function accountCalls({ call }: Requester) {
  return {
    // Not validated (the probe judges it): an empty answer is null.
    openidConfiguration: (target: GitlabTarget) => call<OpenIdConfiguration | null>(target, 'GET', '/.well-known/openid-configuration', {}, null),
    anonymousVersion: (target: GitlabTarget) => call(target, 'GET', '/api/v4/version', {}, checkVersion),
    version: (target: GitlabTarget, token: string) => call(target, 'GET', '/api/v4/version', privateToken(token), checkVersion),
    currentUser: async (target: GitlabTarget, auth: Auth) => servedUser(await call(target, 'GET', '/api/v4/user', auth, checkUser)),
    tokenSelf: (target: GitlabTarget, token: string) => call(target, 'GET', '/api/v4/personal_access_tokens/self', privateToken(token), checkToken),
    usersNamed: (target: GitlabTarget, token: string, username: string) =>
      call(target, 'GET', `/api/v4/users?username=${encodeURIComponent(username)}`, privateToken(token), checkUsers),
    createUser: (target: GitlabTarget, token: string, user: { username: string; name: string; email: string; force_random_password: true; skip_confirmation: true; admin: false; note: string }) =>
      call(target, 'POST', '/api/v4/users', privateToken(token), checkUser, user),
    /** GET /users/:id as an administrator (with the admin `note`). */
    user: (target: GitlabTarget, token: string, id: number | string) => call(target, 'GET', `/api/v4/users/${String(id)}`, privateToken(token), checkUser),
    blockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${String(id)}/block`, privateToken(token), null),
    unblockUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${String(id)}/unblock`, privateToken(token), null),
    /** Reactivates a deactivated user (lib/api/users.rb; a blocked one must be unblocked first). */
    activateUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${String(id)}/activate`, privateToken(token), null),
    unbanUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${String(id)}/unban`, privateToken(token), null),
    /** Approves a user pending approval (the EE user cap, or sign-up approval). */
    approveUser: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'POST', `/api/v4/users/${String(id)}/approve`, privateToken(token), null),
  };
}

/** Personal access tokens, OAuth applications and the instance's settings. */
function credentialCalls({ send, call, credentialCall, allPages }: Requester) {
  return {
    createUserToken: (target: GitlabTarget, token: string, userId: number | string, body: { name: string; scopes: string[]; expires_at?: string; description?: string }) =>
      credentialCall(target, `/api/v4/users/${String(userId)}/personal_access_tokens`, privateToken(token), checkToken, body),
    personalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call(target, 'GET', `/api/v4/personal_access_tokens/${String(id)}`, privateToken(token), checkToken),
    /** A token rotating itself by id: since 16.0 (the `self` form only since 16.10). */
    rotateOwnToken: (target: GitlabTarget, token: string, id: number | string, expiresAt: string) =>
      credentialCall(target, `/api/v4/personal_access_tokens/${String(id)}/rotate`, privateToken(token), checkToken, { expires_at: expiresAt }),
    /** A token rotating itself without knowing its id: GitLab 16.10+ (lib/api/personal_access_tokens/self_rotation.rb); the old token is revoked. */
    rotateSelf: (target: GitlabTarget, token: string, expiresAt: string) =>
      credentialCall(target, '/api/v4/personal_access_tokens/self/rotate', privateToken(token), checkToken, { expires_at: expiresAt }),
    revokePersonalAccessToken: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'DELETE', `/api/v4/personal_access_tokens/${String(id)}`, privateToken(token), null),
    /** Every instance-wide OAuth application, only the fields in GitlabApplicationSchema kept; bounded as allPages says. */
    applications: (target: GitlabTarget, token: string) =>
      allPages(target, '/api/v4/applications', privateToken(token), checkApplications, 'delete the OAuth applications no longer in use (Admin area › Applications)'),
    /** The instance settings that decide whether the bot can work (admin only; GitlabApplicationSettingsSchema). */
    applicationSettings: (target: GitlabTarget, token: string) => call(target, 'GET', '/api/v4/application/settings', privateToken(token), checkSettings),
    /**
     * How many active human users the instance has, from GitLab's `x-total` header on one item of
     * GET /users?active=true&humans=true (lib/api/users.rb; Gitlab::Pagination::OffsetPagination leaves
     * the header out past 10 000 rows): null when GitLab did not say.
     */
    activeUserCount: async (target: GitlabTarget, token: string): Promise<number | null> => {
      const { headers } = await send<unknown>(target, 'GET', '/api/v4/users?active=true&humans=true&per_page=1', privateToken(token));
      const total = Number(headers.get('x-total') || Number.NaN);
      return Number.isSafeInteger(total) && total >= 0 ? total : null;
    },
    liveTokensOf: (target: GitlabTarget, token: string, userId: number | string) =>
      allPages(target, `/api/v4/personal_access_tokens?user_id=${String(userId)}&state=active`, privateToken(token), checkTokens, "revoke the bot user's personal access tokens no longer in use"),
    createApplication: (target: GitlabTarget, token: string, body: { name: string; redirect_uri: string; scopes: string; confidential: true }) =>
      call(target, 'POST', '/api/v4/applications', privateToken(token), checkApplication, body),
    /**
     * A new client secret for application `id` (not its client id); the old secret stops working at once.
     * GitLab 16.11+ (lib/api/applications.rb `post ':id/renew-secret'`, 201 with ApplicationWithSecret);
     * before, Grape's 404. The answer is the only copy of the secret: the credential deadline applies.
     */
    renewApplicationSecret: (target: GitlabTarget, token: string, id: number | string) =>
      credentialCall(target, `/api/v4/applications/${String(id)}/renew-secret`, privateToken(token), checkApplication, undefined),
    deleteApplication: (target: GitlabTarget, token: string, id: number | string) => call<unknown>(target, 'DELETE', `/api/v4/applications/${String(id)}`, privateToken(token), null),
  };
}

/** Projects, their members and webhooks (lib/api/projects.rb, members.rb, project_hooks.rb). */
function projectCalls({ send, call, allPages }: Requester) {
  return {
    /**
     * One page of the projects where the token's user has `minAccessLevel` or more
     * (GET /projects?membership=true&min_access_level=, lib/api/projects.rb), with GitLab's next page.
     */
    projectsPage: async (target: GitlabTarget, auth: Auth, query: { minAccessLevel: number; search?: string; page: number; perPage: number }) => {
      const params = new URLSearchParams({ membership: 'true', min_access_level: String(query.minAccessLevel), order_by: 'last_activity_at', page: String(query.page), per_page: String(query.perPage) });
      if (query.search) params.set('search', query.search);
      const response = await send<unknown>(target, 'GET', `/api/v4/projects?${params.toString()}`, auth);
      const next = Number(response.headers.get('x-next-page'));
      return { projects: checkProjects('GET /api/v4/projects', response.body), nextPage: Number.isInteger(next) && next > query.page ? next : null };
    },
    project: (target: GitlabTarget, auth: Auth, id: number) => call(target, 'GET', `/api/v4/projects/${String(id)}`, auth, checkProject),
    /** A member with inherited memberships (GET /projects/:id/members/all/:user_id); 404 when none. */
    projectMember: (target: GitlabTarget, auth: Auth, projectId: number, userId: number | string) =>
      call(target, 'GET', `/api/v4/projects/${String(projectId)}/members/all/${String(userId)}`, auth, checkMember),
    addProjectMember: (target: GitlabTarget, auth: Auth, projectId: number, userId: number | string, accessLevel: number) =>
      call(target, 'POST', `/api/v4/projects/${String(projectId)}/members`, auth, checkMember, { user_id: Number(userId), access_level: accessLevel }),
    removeProjectMember: (target: GitlabTarget, auth: Auth, projectId: number, userId: number | string) =>
      call<unknown>(target, 'DELETE', `/api/v4/projects/${String(projectId)}/members/${String(userId)}`, auth, null),
    projectHooks: (target: GitlabTarget, auth: Auth, projectId: number) =>
      allPages(target, `/api/v4/projects/${String(projectId)}/hooks`, auth, checkHooks, "delete the project's webhooks no longer in use (Project > Settings > Webhooks)"),
    createProjectHook: (target: GitlabTarget, auth: Auth, projectId: number, hook: NewProjectHook) =>
      call(target, 'POST', `/api/v4/projects/${String(projectId)}/hooks`, auth, checkHook, {
        url: hook.url, token: hook.token, merge_requests_events: true, note_events: true, push_events: false, enable_ssl_verification: true,
      }),
    deleteProjectHook: (target: GitlabTarget, auth: Auth, projectId: number, hookId: number | string) =>
      call<unknown>(target, 'DELETE', `/api/v4/projects/${String(projectId)}/hooks/${String(hookId)}`, auth, null),
  };
}

/**
 * The typed GitLab REST calls this service makes, each answer checked against its schema (answers.ts) before
 * use. Throws what the HTTP client throws (GitlabApiError, AppError gitlab_*), and gitlab_error for an answer
 * that fails its check.
 */
export function createGitlabApi(http: GitlabHttp) {
  const requester = requesterOf(http);
  return { ...accountCalls(requester), ...credentialCalls(requester), ...projectCalls(requester) };
}

export type GitlabApi = ReturnType<typeof createGitlabApi>;
