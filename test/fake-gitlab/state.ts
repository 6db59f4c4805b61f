// The fake's in-memory GitLab: settings, records, counters and the helpers tests use to seed and break things.
import { randomBytes } from 'node:crypto';
import type { FakeProject } from './api-projects.js';
import type {
  AuthorizeDecision, FakeApplication, FakeGitlabOptions, FakeOauthGrant, FakeOauthToken,
  FakePersonalAccessToken, FakeUser, FakeUserState, InjectedFault, FaultSpec, RequestLogEntry,
} from './types.js';

/** Every scope GitLab knows (facts §7); `self_rotate` exists for PATs only. */
export const ALL_SCOPES = [
  'api', 'read_api', 'read_user', 'create_runner', 'manage_runner', 'k8s_proxy', 'read_repository',
  'write_repository', 'read_registry', 'write_registry', 'read_virtual_registry', 'write_virtual_registry',
  'read_observability', 'write_observability', 'ai_features', 'sudo', 'admin_mode', 'read_service_ping',
  'openid', 'profile', 'email',
];
export const PAT_SCOPES = [...ALL_SCOPES, 'self_rotate'];

const DAY_MS = 86_400_000;

/** Side effects tests count, e.g. "the bootstrap created exactly one user". */
export interface FakeCounters {
  usersCreated: number;
  usersBlocked: number;
  usersUnblocked: number;
  /** activate, unban and approve calls that changed a user's state. */
  usersReactivated: number;
  personalAccessTokensCreated: number;
  personalAccessTokensRotated: number;
  personalAccessTokensRevoked: number;
  applicationsCreated: number;
  applicationsDeleted: number;
  /** POST /applications/:id/renew-secret calls that renewed (the service's, not the test helper's). */
  applicationSecretsRenewed: number;
  oauthTokensRevoked: number;
  /** Project hooks created through the API. */
  hooksCreated: number;
}

/** Doorkeeper secrets as GitLab issues them: `gloas-` and 64 hex characters. */
const newApplicationSecret = () => `gloas-${randomBytes(32).toString('hex')}`;

export class FakeState {
  url = '';
  /** GitLab's configured external_url when it differs from the address it is reached at (an alias, a proxy). */
  externalUrl: string | undefined;
  version: string;
  adminMode: boolean;
  latencyMs: number;
  accessTokenTtlSeconds: number;
  /** The instance's maximum personal access token lifetime (365 days; Ultimate admins may lower it). */
  maxTokenLifetimeDays: number;
  /** Whether an admin set the maximum (GET /application/settings says null otherwise). */
  readonly maxTokenLifetimeSet: boolean;
  now: () => Date;
  /** EE user cap (null: none); see FakeGitlabOptions.userCap. */
  userCap: number | null;
  termsEnforced: boolean;
  requireAdminApproval: boolean;
  readonly revision = 'f4k3g1t1ab';

  readonly users = new Map<number, FakeUser>();
  readonly personalAccessTokens = new Map<number, FakePersonalAccessToken>();
  readonly applications = new Map<number, FakeApplication>();
  /** Projects with their members and hooks (api-projects.ts). */
  readonly projects = new Map<number, FakeProject>();
  /** Admin area > Settings > Network > "Allow requests to the local network from webhooks and integrations" (off by default). */
  allowLocalRequestsFromWebHooks = false;
  /** Group paths: they share one namespace with usernames (facts: "Usernames share one namespace"). */
  readonly groupPaths = new Set<string>();
  readonly oauthGrants = new Map<string, FakeOauthGrant>();
  readonly oauthTokens = new Map<number, FakeOauthToken>();
  readonly requests: RequestLogEntry[] = [];
  /** Per entry of `requests` (same index): when it arrived and when its answer ended (performance.now() ms). */
  readonly timings: Array<{ startedAt: number; endedAt: number | null }> = [];
  readonly faults: InjectedFault[] = [];
  readonly counters: FakeCounters = {
    usersCreated: 0, usersBlocked: 0, usersUnblocked: 0, usersReactivated: 0, personalAccessTokensCreated: 0,
    personalAccessTokensRotated: 0, personalAccessTokensRevoked: 0, applicationsCreated: 0,
    applicationsDeleted: 0, applicationSecretsRenewed: 0, oauthTokensRevoked: 0, hooksCreated: 0,
  };
  /** Successful /oauth/token answers by grant_type. */
  readonly grants: Record<string, number> = {};
  /** Form params of every /oauth/token request, in order (tests check the code_verifier sent). */
  readonly tokenRequests: Record<string, string>[] = [];

  /** Malicious mode: GET /api/v4/applications answers in pages, which GitLab never does (see malicious.ts floodApplications). */
  pagedApplications = false;

  browserUser: FakeUser | null = null;
  authorizeDecision: AuthorizeDecision = 'approve';

  private nextIds = { user: 1, pat: 1, app: 1, oauth: 1 };

  constructor(options: FakeGitlabOptions) {
    this.version = options.version ?? '17.8.1-ee';
    this.adminMode = options.adminMode ?? false;
    this.latencyMs = options.latencyMs ?? 0;
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 7200;
    this.maxTokenLifetimeDays = options.maxTokenLifetimeDays ?? 365;
    this.now = options.now ?? (() => new Date());
    this.externalUrl = options.externalUrl;
    this.userCap = options.userCap ?? null;
    this.termsEnforced = options.termsEnforced ?? false;
    this.requireAdminApproval = options.requireAdminApproval ?? false;
    this.maxTokenLifetimeSet = options.maxTokenLifetimeDays !== undefined;
  }

  /** The OpenID issuer: external_url, which GitLab puts in its discovery document and ID tokens. */
  get issuer(): string {
    return this.externalUrl ?? this.url;
  }

  get lastTokenRequest(): Record<string, string> | undefined {
    return this.tokenRequests.at(-1);
  }

  grantCount(grantType: string): number {
    return this.grants[grantType] ?? 0;
  }

  /** The fake's version is `major.minor` or later: for routes GitLab added in a given release. */
  atLeast(major: number, minor: number): boolean {
    const [ownMajor = 0, ownMinor = 0] = this.version.split('.').map((part) => Number.parseInt(part, 10));
    return ownMajor > major || (ownMajor === major && ownMinor >= minor);
  }

  /**
   * Manual onboarding as an admin does it by hand: a regular user for the bot, a personal access token
   * for it (Admin area > Users > Impersonation/Access tokens), and an instance-wide OAuth application
   * (Admin area > Applications). Counted as nothing the service did.
   */
  seedManualSetup(input: { redirectUri: string; scopes: string[]; username?: string; admin?: boolean; tokenScopes?: string[]; expiresAt?: string | null }) {
    const bot = this.createUser({ username: input.username ?? 'code-review-bot', admin: input.admin ?? false });
    const token = this.createPersonalAccessToken(bot.id, { scopes: input.tokenScopes ?? ['api'], name: 'code-review', expiresAt: input.expiresAt });
    const application = this.createApplication({ name: 'Code review', redirectUri: input.redirectUri, scopes: input.scopes, confidential: true });
    return { bot, token: token.token, tokenId: token.id, application };
  }

  nowIso(): string {
    return this.now().toISOString();
  }

  /** UTC date `days` from today, as GitLab stores PAT expiry. */
  dateInDays(days: number): string {
    return new Date(this.now().getTime() + days * DAY_MS).toISOString().slice(0, 10);
  }

  createUser(input: { username: string; name?: string; email?: string; admin?: boolean; state?: FakeUserState; note?: string | null; termsAccepted?: boolean }): FakeUser {
    const id = this.nextIds.user++;
    const user: FakeUser = {
      id, username: input.username, name: input.name ?? input.username,
      email: input.email ?? `${input.username}@example.com`, admin: input.admin ?? false,
      state: input.state ?? 'active', createdAt: this.nowIso(), note: input.note ?? null,
      termsAccepted: input.termsAccepted ?? false,
    };
    this.users.set(id, user);
    return user;
  }

  createPersonalAccessToken(userId: number, input: { scopes: string[]; name?: string; description?: string | null; expiresAt?: string | null; revoked?: boolean; previousId?: number | null }): { id: number; token: string } {
    const id = this.nextIds.pat++;
    const pat: FakePersonalAccessToken = {
      id, userId, name: input.name ?? `token-${String(id)}`, description: input.description ?? null,
      scopes: [...input.scopes], token: `glpat-${randomToken(20)}`, revoked: input.revoked ?? false,
      createdAt: this.nowIso(), expiresAt: input.expiresAt === undefined ? this.dateInDays(365) : input.expiresAt,
      lastUsedAt: null, previousId: input.previousId ?? null,
    };
    this.personalAccessTokens.set(id, pat);
    return { id, token: pat.token };
  }

  seedAdmin(input: { scopes?: string[]; expiresAt?: string | null; revoked?: boolean; username?: string } = {}): { user: FakeUser; token: string; tokenId: number } {
    const user = this.createUser({ username: input.username ?? 'root', name: 'Administrator', email: 'admin@example.com', admin: true, termsAccepted: true });
    const { id, token } = this.createPersonalAccessToken(user.id, { scopes: input.scopes ?? ['api'], name: 'admin', expiresAt: input.expiresAt, revoked: input.revoked });
    return { user, token, tokenId: id };
  }

  createApplication(input: { name: string; redirectUri: string; scopes: string[]; confidential?: boolean }): FakeApplication {
    const id = this.nextIds.app++;
    const app: FakeApplication = {
      id, uid: randomBytes(32).toString('hex'), secret: newApplicationSecret(),
      name: input.name, redirectUri: input.redirectUri, scopes: [...input.scopes], confidential: input.confidential ?? true,
    };
    this.applications.set(id, app);
    return app;
  }

  /**
   * A new client secret for application `id`, the old one refused from then on (Doorkeeper's
   * renew_secret); tokens already issued stay valid. What "Renew secret" in the admin area does.
   * Returns the application, or undefined when there is none with that id.
   */
  renewApplicationSecret(id: number): FakeApplication | undefined {
    const app = this.applications.get(id);
    if (app) app.secret = newApplicationSecret();
    return app;
  }

  /** An admin changing an application's scopes behind the service's back (Admin area > Applications > Edit). */
  setApplicationScopes(id: number, scopes: string[]): void {
    const app = this.applications.get(id);
    if (!app) throw new Error(`no application ${String(id)}`);
    app.scopes = [...scopes];
  }

  createOauthToken(input: Omit<FakeOauthToken, 'id' | 'accessToken' | 'refreshToken' | 'createdAt' | 'expiresIn' | 'revoked'>): FakeOauthToken {
    const id = this.nextIds.oauth++;
    const token: FakeOauthToken = {
      ...input, id, accessToken: randomBytes(32).toString('hex'), refreshToken: randomBytes(32).toString('hex'),
      createdAt: this.now().getTime(), expiresIn: this.accessTokenTtlSeconds, revoked: false,
    };
    this.oauthTokens.set(id, token);
    return token;
  }

  /** The first API use of a refreshed access token revokes the row it was refreshed from (`revoke_previous_refresh_token!`). */
  revokePreviousRefreshToken(token: FakeOauthToken): void {
    if (token.previousTokenId === null) return;
    const previous = this.oauthTokens.get(token.previousTokenId);
    if (previous && !previous.revoked) {
      previous.revoked = true;
      this.counters.oauthTokensRevoked++;
    }
    token.previousTokenId = null;
  }

  blockUser(id: number): void {
    this.setUserState(id, 'blocked');
  }

  /** What an admin, LDAP sync or the dormant-user job does to an account behind the service's back. */
  setUserState(id: number, state: FakeUserState): void {
    this.mustGetUser(id).state = state;
  }

  /** True once active users reach the EE user cap (`ee/app/services/ee/users/build_service.rb`). */
  userCapReached(): boolean {
    if (this.userCap === null) return false;
    return [...this.users.values()].filter((u) => u.state === 'active').length >= this.userCap;
  }

  setBrowserUser(userId: number | null): void {
    this.browserUser = userId === null ? null : this.mustGetUser(userId);
  }

  revokePersonalAccessToken(id: number): void {
    const pat = this.personalAccessTokens.get(id);
    if (!pat) throw new Error(`no personal access token ${String(id)}`);
    pat.revoked = true;
  }

  /** Makes the token expire as of today 00:00 UTC, as GitLab's daily expiry does. */
  expirePersonalAccessToken(id: number): void {
    const pat = this.personalAccessTokens.get(id);
    if (!pat) throw new Error(`no personal access token ${String(id)}`);
    pat.expiresAt = this.dateInDays(0);
  }

  /** Deletes the app and, as GitLab does, every token it issued. */
  deleteApplication(id: number): boolean {
    if (!this.applications.delete(id)) return false;
    for (const [tokenId, token] of this.oauthTokens) if (token.applicationId === id) this.oauthTokens.delete(tokenId);
    for (const [code, grant] of this.oauthGrants) if (grant.applicationId === id) this.oauthGrants.delete(code);
    return true;
  }

  isPatExpired(pat: FakePersonalAccessToken): boolean {
    return pat.expiresAt !== null && this.now().getTime() >= Date.parse(`${pat.expiresAt}T00:00:00Z`);
  }

  isPatActive(pat: FakePersonalAccessToken): boolean {
    return !pat.revoked && !this.isPatExpired(pat);
  }

  isOauthTokenExpired(token: FakeOauthToken): boolean {
    return this.now().getTime() >= token.createdAt + token.expiresIn * 1000;
  }

  /**
   * The number of sequential round trips among the requests from index `from` on: the longest chain in
   * which each request arrived only after the previous one's answer ended. Calls made in parallel count
   * once; with `latencyMs` per call it is what the caller's duration divided by the latency shows.
   */
  sequentialDepth(from = 0): number {
    const calls = this.timings.slice(from).filter((timing) => timing.endedAt !== null).sort((a, b) => a.startedAt - b.startedAt);
    const depth: number[] = [];
    calls.forEach((call, i) => {
      const before = calls.slice(0, i).map((earlier, j) => ((earlier.endedAt ?? Infinity) <= call.startedAt ? depth[j] : 0));
      depth.push(1 + Math.max(0, ...before));
    });
    return Math.max(0, ...depth);
  }

  liveTokensOf(userId: number): FakePersonalAccessToken[] {
    return [...this.personalAccessTokens.values()].filter((p) => p.userId === userId && this.isPatActive(p));
  }

  usersNamed(username: string): FakeUser[] {
    return [...this.users.values()].filter((u) => u.username.toLowerCase() === username.toLowerCase());
  }

  /** Reuse detection: revokes every token rotated from this one, directly or not. */
  revokePatFamily(id: number): void {
    for (const pat of this.personalAccessTokens.values()) {
      if (pat.previousId === id) {
        if (!pat.revoked) this.counters.personalAccessTokensRevoked++;
        pat.revoked = true;
        this.revokePatFamily(pat.id);
      }
    }
  }

  injectFault(spec: FaultSpec): InjectedFault {
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived = (): void => undefined;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const fault: InjectedFault = { ...spec, seen: 0, applied: 0, release, reached, released, arrived };
    this.faults.push(fault);
    return fault;
  }

  /** Requests that carried `token`: what a caller sent with a given credential. */
  requestsWith(token: string): RequestLogEntry[] {
    return this.requests.filter((request) => request.token === token);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  private mustGetUser(id: number): FakeUser {
    const user = this.users.get(id);
    if (!user) throw new Error(`no user ${String(id)}`);
    return user;
  }
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';

/** URL-safe random text like GitLab's token bodies. */
export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}
