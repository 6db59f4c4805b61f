// Shapes of the fake GitLab's options, stored records and faults, shared by every module of the fake.
import type { FakeFront } from './front.js';

export type { FakeFront } from './front.js';

export interface FakeGitlabOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Path prefix GitLab is served under, e.g. '/gitlab' (a "relative URL root"). */
  relativeRoot?: string;
  /** Serve HTTPS with this PEM key and certificate. */
  tls?: { key: string; cert: string };
  version?: string;
  /** The instance setting "Admin Mode": admin API calls then need the admin_mode scope. */
  adminMode?: boolean;
  /** Delay added before every response. */
  latencyMs?: number;
  /** OAuth access token lifetime; GitLab fixes it at 7200 s, tests shorten it. */
  accessTokenTtlSeconds?: number;
  /** max_personal_access_token_lifetime in days (default 365). */
  maxTokenLifetimeDays?: number;
  now?: () => Date;
  /** GitLab's external_url, when it is not the URL the fake is reached at: the OpenID issuer. */
  externalUrl?: string;
  /** A redirecting web server or a bot challenge answering every request instead of GitLab. */
  front?: FakeFront;
  /** EE "user cap": with this many active users, a new user is created blocked_pending_approval. */
  userCap?: number;
  /** "Enforce terms of service": users who have not accepted them cannot use the API. */
  termsEnforced?: boolean;
  /**
   * "Require admin approval for new sign-ups" (`require_admin_approval_after_user_signup`): only
   * self-registered users wait; an admin's POST /users is not held (app/services/users/build_service.rb).
   */
  requireAdminApproval?: boolean;
}

/**
 * GitLab's user states (app/models/user.rb state machine); `blocked?` is true for every state but
 * active and deactivated.
 */
export type FakeUserState = 'active' | 'blocked' | 'ldap_blocked' | 'blocked_pending_approval' | 'banned' | 'deactivated';

export interface FakeUser {
  id: number;
  username: string;
  name: string;
  email: string;
  admin: boolean;
  state: FakeUserState;
  createdAt: string;
  /** The admin note (admin-only, gitlab-org/gitlab-ee!14662). */
  note: string | null;
  /** Accepted the terms of service (only matters while the instance enforces them). */
  termsAccepted: boolean;
}

export interface FakePersonalAccessToken {
  id: number;
  userId: number;
  name: string;
  description: string | null;
  scopes: string[];
  token: string;
  revoked: boolean;
  createdAt: string;
  /** 'YYYY-MM-DD'; the token stops working at 00:00 UTC that day. */
  expiresAt: string | null;
  lastUsedAt: string | null;
  /** The token this one replaced by rotation: links a rotation family. */
  previousId: number | null;
}

export interface FakeApplication {
  id: number;
  /** The OAuth client_id. */
  uid: string;
  secret: string;
  name: string;
  /** As registered: whitespace-separated URIs. */
  redirectUri: string;
  scopes: string[];
  confidential: boolean;
}

export interface FakeOauthGrant {
  code: string;
  applicationId: number;
  userId: number;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  nonce: string | null;
  /** Epoch ms. */
  expiresAt: number;
  authTime: number;
  used: boolean;
}

export interface FakeOauthToken {
  id: number;
  applicationId: number;
  userId: number;
  accessToken: string;
  refreshToken: string;
  scopes: string[];
  /** Epoch ms. */
  createdAt: number;
  expiresIn: number;
  revoked: boolean;
  /** The authorization code the lineage started from, so a replayed code can revoke it. */
  grantCode: string | null;
  /**
   * The token row this one was refreshed from (GitLab's `previous_refresh_token`), until this token's
   * access token is first used at the API: that use revokes the previous row. Null for a code grant.
   */
  previousTokenId: number | null;
  nonce: string | null;
  authTime: number;
}

export interface FaultSpec {
  method?: string;
  path: string | RegExp;
  /** 1-based index among matching requests counted after injection. */
  nth?: number;
  /** How many consecutive matching requests from nth on get the fault. */
  times?: number;
  status?: number;
  body?: string | object;
  /** Bytes sent as they are (with `headers`), instead of `body`: see malicious.ts. */
  rawBody?: Buffer;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /**
   * Act first, then apply `hold`/`drop`/`delayMs`: GitLab did the work (rotated, refreshed) but its
   * answer is lost (held forever, or the socket closed). Without it a fault acts before GitLab does.
   */
  afterActing?: boolean;
  /** Hold the request until the test calls `release()` on the injected fault (never, for a GitLab that never answers). */
  hold?: boolean;
}

export interface InjectedFault extends FaultSpec {
  /** Matching requests seen since injection. */
  seen: number;
  /** Requests this fault was applied to. */
  applied: number;
  /** Lets every held request (and any later one) go on; the fake's close() releases too. */
  release(): void;
  /** Resolves once a held request arrived: the point a test acts "while GitLab is answering". */
  reached: Promise<void>;
  /** Internal to the fake: resolved by release(); arrived() resolves `reached`. */
  released: Promise<void>;
  arrived(): void;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  /** 0 when the connection was dropped by a fault. */
  status: number;
  /** The token the request carried (PRIVATE-TOKEN, Bearer, or the query forms), so tests can count its uses. */
  token: string | null;
}

export type AuthorizeDecision = 'approve' | 'deny';
