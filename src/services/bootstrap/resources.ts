// The three things the bootstrap keeps on GitLab: the bot user, its token, the OAuth application.
// Each ensure* reuses what is there and still good, and creates only what is missing or broken.
import { instanceCallbackUrl } from '../../auth-paths.js';
import type { Config } from '../../config.js';
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../../crypto/seal-purposes.js';
import type { Sealer } from '../../crypto/sealer.js';
import type { Instance } from '../../domain/types.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../../time.js';
import type { GitlabApi, GitlabApplication, GitlabPersonalAccessToken, GitlabTarget, GitlabUser } from '../../gitlab/api.js';

const BOT_TOKEN_NAME = 'gitlab-connect';

export interface GitlabSession {
  api: GitlabApi;
  target: GitlabTarget;
  adminToken: string;
  config: Config;
  sealer: Sealer;
  now: Date;
}

export interface Ensured<T> {
  value: T;
  /** created: first time; repaired: it existed and was missing or broken; kept: still good. */
  outcome: 'created' | 'repaired' | 'kept';
}

function isUsable(token: GitlabPersonalAccessToken, botUserId: number, now: Date): boolean {
  const tomorrow = dateOnly(new Date(now.getTime() + DAY_MS));
  return token.active && !token.revoked && token.user_id === botUserId && (token.expires_at === null || token.expires_at > tomorrow);
}

export interface BotToken {
  id: number;
  sealed: string;
  expiresAt: Date | null;
}

/**
 * Keeps the stored bot token while GitLab says it is live; otherwise creates one with the longest
 * allowed expiry (none given: GitLab applies its maximum) and revokes any other live token of ours
 * that a lost answer may have left behind, so exactly one stays live.
 */
export async function ensureBotToken(gitlab: GitlabSession, instance: Instance, bot: Ensured<GitlabUser>, stored: GitlabPersonalAccessToken | undefined): Promise<Ensured<BotToken>> {
  const { api, target, adminToken, sealer, now } = gitlab;
  const botId = bot.value.id;
  if (stored && instance.botTokenSealed && isUsable(stored, botId, now)) {
    return { value: { id: stored.id, sealed: instance.botTokenSealed, expiresAt: instance.botTokenExpiresAt }, outcome: 'kept' };
  }
  const created = await api.createUserToken(target, adminToken, botId, {
    name: BOT_TOKEN_NAME,
    scopes: ['api'],
    description: `Used by gitlab-connect (${gitlab.config.publicUrl}) for the review bot`,
  });
  // A bot created by this very call has no other token: skip the round trip.
  const others = bot.outcome === 'created' ? [] : await api.liveTokensOf(target, adminToken, botId);
  const leftovers = others.filter((token) => token.name === BOT_TOKEN_NAME && token.id !== created.id);
  await Promise.all(leftovers.map((token) => api.revokePersonalAccessToken(target, adminToken, token.id)));
  return {
    value: { id: created.id, sealed: sealer.seal(created.token!, SEAL_BOT_TOKEN), expiresAt: created.expires_at ? gitlabDateToInstant(created.expires_at) : null },
    outcome: instance.botTokenId ? 'repaired' : 'created',
  };
}

function oauthApplicationName(config: Config): string {
  return `gitlab-connect (${new URL(config.publicUrl).host})`;
}

export interface OauthApplication {
  id: number;
  clientId: string;
  secretSealed: string;
  scopes: string;
  redirectUri: string;
}

/**
 * Keeps the stored application while GitLab still has it with the instance's own redirect URI
 * (RFC 9700 §4.4) and our scopes; otherwise creates one with that URI and deletes the stale one and
 * any leftover of ours (same name, and the instance's or the old shared redirect URI). An
 * application on the old shared URI is thereby replaced (outcome repaired).
 */
export async function ensureOauthApplication(gitlab: GitlabSession, instance: Instance, applications: GitlabApplication[]): Promise<Ensured<OauthApplication>> {
  const { api, target, adminToken, config, sealer } = gitlab;
  const scopes = config.oauthScopes.join(' ');
  const redirectUri = instanceCallbackUrl(config.publicUrl, instance.url);
  const stored = applications.find((app) => String(app.id) === instance.oauthApplicationId);
  const usable = stored && stored.application_id === instance.oauthClientId && stored.callback_url === redirectUri && instance.oauthScopes === scopes && instance.oauthClientSecretSealed;
  if (stored && usable) {
    return { value: { id: stored.id, clientId: stored.application_id, secretSealed: instance.oauthClientSecretSealed!, scopes, redirectUri }, outcome: 'kept' };
  }
  const name = oauthApplicationName(config);
  const created = await api.createApplication(target, adminToken, { name, redirect_uri: redirectUri, scopes, confidential: true });
  const ours = (app: GitlabApplication) => app.application_name === name && (app.callback_url === redirectUri || app.callback_url === config.callbackUrl);
  const stale = applications.filter((app) => app.id !== created.id && (app === stored || ours(app)));
  await Promise.all(stale.map((app) => api.deleteApplication(target, adminToken, app.id)));
  return {
    value: { id: created.id, clientId: created.application_id, secretSealed: sealer.seal(created.secret!, SEAL_OAUTH_CLIENT_SECRET), scopes, redirectUri },
    outcome: instance.oauthApplicationId ? 'repaired' : 'created',
  };
}
