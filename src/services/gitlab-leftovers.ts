// What a removal without an admin token leaves on GitLab (the bot token, the OAuth application, the bot
// user), reported in the answer and the audit trail, with the GitLab API calls that remove it by hand.
import type { Instance } from '../domain/types.js';

export interface GitlabLeftovers {
  /** The bot's personal access token: still accepted by GitLab until it expires (`botTokenLive`). */
  botTokenId: number | null;
  botTokenLive: boolean;
  botTokenExpiresAt: Date | null;
  oauthApplicationId: number | null;
  botUserId: number | null;
  botUsername: string | null;
  /** GitLab REST calls an administrator makes to remove them (GitLab API: personal_access_tokens, applications, users). */
  howToRemove: string[];
}

const idOf = (value: string | null): number | null => (value === null ? null : Number(value));

/** The leftovers of `instance` (read before its ids are wiped) as of `now`. */
export function gitlabLeftovers(instance: Instance, now: Date): GitlabLeftovers {
  const botTokenId = idOf(instance.botTokenId);
  const oauthApplicationId = idOf(instance.oauthApplicationId);
  const botUserId = idOf(instance.botUserId);
  const expiresAt = instance.botTokenExpiresAt;
  const botTokenLive = botTokenId !== null && instance.botTokenSealed !== null && (expiresAt === null || expiresAt.getTime() > now.getTime());
  const api = `${instance.url}/api/v4`;
  const withAdmin = "with an administrator's token (scope api, plus admin_mode when Admin Mode is on)";
  const howToRemove = [
    ...(botTokenLive ? [`DELETE ${api}/personal_access_tokens/${String(botTokenId)} ${withAdmin}: revokes the bot token`] : []),
    ...(botTokenLive && instance.botStandbyTokenId !== null ? [`DELETE ${api}/personal_access_tokens/${instance.botStandbyTokenId} ${withAdmin}: revokes the standby bot token`] : []),
    ...(oauthApplicationId !== null ? [`DELETE ${api}/applications/${String(oauthApplicationId)} ${withAdmin}: deletes the OAuth application`] : []),
    ...(botUserId !== null ? [`POST ${api}/users/${String(botUserId)}/block ${withAdmin}: blocks the bot user (or DELETE ${api}/users/${String(botUserId)} to delete it)`] : []),
  ];
  return { botTokenId, botTokenLive, botTokenExpiresAt: expiresAt, oauthApplicationId, botUserId, botUsername: instance.botUsername, howToRemove };
}

/** One line for the audit trail. */
export function describeLeftovers(left: GitlabLeftovers): string {
  const parts = [
    left.botTokenLive ? `bot token ${String(left.botTokenId)} (live${left.botTokenExpiresAt ? ` until ${left.botTokenExpiresAt.toISOString()}` : ''})` : null,
    left.oauthApplicationId !== null ? `OAuth application ${String(left.oauthApplicationId)}` : null,
    left.botUserId !== null ? `bot user ${String(left.botUserId)} (${left.botUsername ?? 'unknown'})` : null,
  ].filter(Boolean);
  return parts.length ? `removed; left on GitLab: ${parts.join(', ')}` : 'removed; nothing of ours was left on GitLab';
}
