// The three things the bootstrap keeps on GitLab: the bot user, its token, the OAuth application.
// Each ensure* reuses what is there and still good, and creates only what is missing or broken.
import { instanceCallbackUrl } from '../../auth-paths.js';
import type { Config } from '../../config.js';
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../../crypto/seal-purposes.js';
import type { Sealer } from '../../crypto/sealer.js';
import type { Instance } from '../../domain/types.js';
import { present } from '../../errors.js';
import { versionAtLeast } from './checks.js';
import { lifetimeLimitOf, MAX_TOKEN_LIFETIME_DAYS } from '../bot-token-rotation.js';
import { botTokenName, carriesMarker, oauthApplicationName } from './markers.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../../time.js';
import type { GitlabApi, GitlabApplication, GitlabPersonalAccessToken, GitlabTarget, GitlabUser } from '../../gitlab/api.js';

export interface GitlabSession {
  api: GitlabApi;
  target: GitlabTarget;
  adminToken: string;
  config: Config;
  sealer: Sealer;
  now: Date;
  /** The instance's maximum token lifetime in days (GET /application/settings); null: unknown or none set. */
  lifetimeDays: number | null;
}

export interface Ensured<T> {
  value: T;
  /** created: first time; repaired: it existed and was missing or broken; kept: still good. */
  outcome: 'created' | 'repaired' | 'kept';
  /** What was found wrong, for the event of a repair (never a secret). */
  found?: string;
}

function isUsable(token: GitlabPersonalAccessToken, botUserId: number, now: Date): boolean {
  const tomorrow = dateOnly(new Date(now.getTime() + DAY_MS));
  return token.active && !token.revoked && token.user_id === botUserId && (token.expires_at === null || token.expires_at > tomorrow);
}

export interface BotToken {
  id: number;
  sealed: string;
  expiresAt: Date | null;
  issuedAt: Date | null;
}

/** The bot's two tokens: `served` is handed out, `standby` is the one the next rotation rotates (bot-token.service.ts). */
export interface BotTokenPair {
  served: BotToken;
  standby: BotToken;
}

/** A stored token GitLab still lists as live beyond tomorrow, with what is stored of it. */
function keptToken(live: GitlabPersonalAccessToken[], stored: { id: string | null; sealed: string | null; expiresAt: Date | null; issuedAt: Date | null }, botUserId: number, now: Date): BotToken | null {
  const token = live.find((candidate) => String(candidate.id) === stored.id);
  if (!token || !stored.sealed || !isUsable(token, botUserId, now)) return null;
  return { id: token.id, sealed: stored.sealed, expiresAt: stored.expiresAt, issuedAt: stored.issuedAt };
}

const expiresLast = (a: BotToken, b: BotToken) => (b.expiresAt?.getTime() ?? Infinity) - (a.expiresAt?.getTime() ?? Infinity);

/**
 * Creates one bot token expiring after `share` (1: all, 0.5: half) of `lifetimeDays` (never without an
 * expiry: EE 16.x with a maximum lifetime set refuses a token without `expires_at`,
 * gitlab-org/gitlab#429864). A refusal naming the limit ("must be before …", 422) is retried once with
 * the lifetime up to the day before it. Its name carries this instance's marker.
 */
async function createToken(gitlab: GitlabSession, instance: Instance, botUserId: number, share: number): Promise<BotToken> {
  const { api, target, adminToken, sealer, config, now } = gitlab;
  const create = (days: number) => api.createUserToken(target, adminToken, botUserId, {
    name: botTokenName(config.publicUrl, instance.id),
    scopes: ['api'],
    expires_at: dateOnly(new Date(now.getTime() + Math.max(2, days * share) * DAY_MS)),
    description: `Used by gitlab-connect (${config.publicUrl}) for the review bot of instance ${instance.id}`,
  });
  let created;
  try {
    created = await create(Math.min(gitlab.lifetimeDays ?? MAX_TOKEN_LIFETIME_DAYS, MAX_TOKEN_LIFETIME_DAYS));
  } catch (error) {
    const limit = lifetimeLimitOf(error);
    if (!limit) throw error;
    created = await create(Math.floor((gitlabDateToInstant(limit).getTime() - now.getTime()) / DAY_MS));
  }
  return { id: created.id, sealed: sealer.seal(present(created.token, "the token in GitLab's answer to creating it"), SEAL_BOT_TOKEN), expiresAt: created.expires_at ? gitlabDateToInstant(created.expires_at) : null, issuedAt: now };
}

/**
 * Creates the tokens missing from a pair, in parallel. With none kept, the first gets the longest
 * expiry allowed (the instance's maximum lifetime when known, else GitLab's 365 days) and the second
 * half of it: staggered, so the standby is always due about half a lifetime before the served one and
 * each rotation renews one token. With one kept, the new one gets the longest.
 */
async function createMissing(gitlab: GitlabSession, instance: Instance, botUserId: number, kept: BotToken[]): Promise<BotToken[]> {
  if (kept.length > 0) return [await createToken(gitlab, instance, botUserId, 1)];
  return Promise.all([createToken(gitlab, instance, botUserId, 1), createToken(gitlab, instance, botUserId, 0.5)]);
}

/**
 * Keeps each stored bot token (served and standby) GitLab still lists as live, whatever its name (an
 * instance set up before markers has unmarked ones); creates what is missing (createMissing) and
 * revokes any other live token bearing this instance's marker that a lost answer may have left behind,
 * so exactly two stay live. A token without our marker is never revoked. The later-expiring token is
 * served. Admin token; throws the GitLab errors.
 */
export async function ensureBotTokens(gitlab: GitlabSession, instance: Instance, bot: Ensured<GitlabUser>): Promise<Ensured<BotTokenPair>> {
  const { api, target, adminToken, now, config } = gitlab;
  const botId = bot.value.id;
  // A bot created by this very call has no token: skip the round trip.
  const live = bot.outcome === 'created' ? [] : await api.liveTokensOf(target, adminToken, botId);
  const kept = [
    keptToken(live, { id: instance.botTokenId, sealed: instance.botTokenSealed, expiresAt: instance.botTokenExpiresAt, issuedAt: instance.botTokenIssuedAt }, botId, now),
    keptToken(live, { id: instance.botStandbyTokenId, sealed: instance.botStandbyTokenSealed, expiresAt: instance.botStandbyTokenExpiresAt, issuedAt: instance.botStandbyTokenIssuedAt }, botId, now),
  ].filter((token): token is BotToken => token !== null);
  const created = kept.length === 2 ? [] : await createMissing(gitlab, instance, botId, kept);
  const [served, standby] = [...kept, ...created].sort(expiresLast) as [BotToken, BotToken];
  const leftovers = live.filter((token) => token.id !== served.id && token.id !== standby.id && carriesMarker(token.name, config.publicUrl, instance.id));
  await Promise.all(leftovers.map((token) => api.revokePersonalAccessToken(target, adminToken, token.id)));
  const outcome = created.length === 0 ? 'kept' : instance.botTokenId ? 'repaired' : 'created';
  return { value: { served, standby }, outcome };
}

export interface OauthApplication {
  id: number;
  clientId: string;
  secretSealed: string;
  scopes: string;
  redirectUri: string;
}

/** What the bootstrap's read round trip learnt about the OAuth applications. */
export interface ApplicationFacts {
  /** Every instance-wide application, as GET /applications answers (scopes as GitLab reports them). */
  applications: GitlabApplication[];
  /** Did GitLab's token endpoint accept the stored client id and secret (oauthClientAccepted); undefined: not checked. */
  clientAccepted: boolean | undefined;
  /** The GitLab version: renew-secret exists from 16.11. */
  gitlabVersion: string;
}

/** GitLab 16.11 added POST /applications/:id/renew-secret (lib/api/applications.rb). */
const RENEW_SECRET_SINCE = '16.11';

const sameScopes = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((scope) => b.includes(scope));

/**
 * What is wrong with the stored application as GitLab has it, in words for the event; null when it is
 * fine. The scopes compared are GitLab's (an admin may have unticked one), or the stored ones when
 * GitLab does not report them.
 */
function applicationDefect(stored: GitlabApplication | undefined, instance: Instance, wanted: { scopes: readonly string[]; redirectUri: string }): string | null {
  if (!stored || stored.application_id !== instance.oauthClientId || !instance.oauthClientSecretSealed) return 'the application was not found on GitLab';
  if (stored.callback_url !== wanted.redirectUri) return `its redirect URI was ${stored.callback_url.slice(0, 200)}`;
  const scopes = stored.scopes ?? (instance.oauthScopes ?? '').split(' ').filter(Boolean);
  if (!sameScopes(scopes, wanted.scopes)) return `its scopes were "${scopes.join(' ')}"`;
  return null;
}

/**
 * Keeps the stored application while GitLab has it with the instance's own redirect URI (RFC 9700
 * §4.4), the scopes OAUTH_SCOPES as GitLab reports them, and a client secret its token endpoint
 * accepts. A refused secret (an admin renewed it) is renewed on 16.11+; otherwise, and for a missing
 * application, a changed redirect URI or changed scopes, a new one is created (named with this
 * instance's marker) and the stale stored one and any leftover bearing this instance's marker deleted:
 * another deployment's or another instance's application is never touched.
 * `found` says what was wrong. Throws the GitLab failures.
 */
export async function ensureOauthApplication(gitlab: GitlabSession, instance: Instance, facts: ApplicationFacts): Promise<Ensured<OauthApplication>> {
  const { api, target, adminToken, config, sealer } = gitlab;
  const scopes = config.oauthScopes.join(' ');
  const redirectUri = instanceCallbackUrl(config.publicUrl, instance.url);
  const stored = facts.applications.find((app) => String(app.id) === instance.oauthApplicationId);
  const defect = applicationDefect(stored, instance, { scopes: config.oauthScopes, redirectUri });
  if (stored && !defect) {
    if (facts.clientAccepted !== false) return { value: { id: stored.id, clientId: stored.application_id, secretSealed: present(instance.oauthClientSecretSealed, 'the stored OAuth client secret'), scopes, redirectUri }, outcome: 'kept' };
    if (versionAtLeast(facts.gitlabVersion, RENEW_SECRET_SINCE)) {
      const renewed = await api.renewApplicationSecret(target, adminToken, stored.id);
      const value = { id: stored.id, clientId: stored.application_id, secretSealed: sealer.seal(present(renewed.secret, "the secret in GitLab's renewal answer"), SEAL_OAUTH_CLIENT_SECRET), scopes, redirectUri };
      return { value, outcome: 'repaired', found: "GitLab's token endpoint refused the client secret; secret renewed" };
    }
  }
  const name = oauthApplicationName(config.publicUrl, instance.id);
  const created = await api.createApplication(target, adminToken, { name, redirect_uri: redirectUri, scopes, confidential: true });
  const stale = facts.applications.filter((app) => app.id !== created.id && (app === stored || carriesMarker(app.application_name, config.publicUrl, instance.id)));
  await Promise.all(stale.map((app) => api.deleteApplication(target, adminToken, app.id)));
  return {
    value: { id: created.id, clientId: created.application_id, secretSealed: sealer.seal(present(created.secret, "the secret in GitLab's answer to creating the application"), SEAL_OAUTH_CLIENT_SECRET), scopes, redirectUri },
    outcome: instance.oauthApplicationId ? 'repaired' : 'created',
    ...(instance.oauthApplicationId ? { found: `${defect ?? "GitLab's token endpoint refused the client secret"}; application re-created` } : {}),
  };
}
