// The bot token of a manual instance (the admin created the bot; no admin token is ever held): it can
// only be renewed by itself. GitLab 16.10+ rotates a token with itself (POST
// /personal_access_tokens/self/rotate, lib/api/personal_access_tokens/self_rotation.rb: 200 with the
// new token, the old one revoked); on older GitLab nothing can renew it, so the instance turns degraded
// (bot_token_expiring) BOT_TOKEN_WARNING_DAYS before it expires, for the admin to paste a new one.
import type { Instance, InstanceMode } from '../domain/types.js';
import { DAY_MS } from '../time.js';
import { versionAtLeast } from './bootstrap/checks.js';

/** The first GitLab version with POST /personal_access_tokens/self/rotate. */
export const SELF_ROTATION_VERSION = '16.10';
/** How long before its expiry a bot token that cannot rotate itself makes the instance degraded. */
export const BOT_TOKEN_WARNING_DAYS = 14;

function canRotateItself(gitlabVersion: string | null): boolean {
  return gitlabVersion !== null && versionAtLeast(gitlabVersion, SELF_ROTATION_VERSION);
}

/**
 * When a bot token turns the instance degraded: BOT_TOKEN_WARNING_DAYS before its expiry, for a manual
 * instance on GitLab older than 16.10; null where it never does (automated, self-rotating, no expiry).
 */
export function botTokenWarnAt(mode: InstanceMode, gitlabVersion: string | null, expiresAt: Date | null): Date | null {
  if (mode !== 'manual' || expiresAt === null || canRotateItself(gitlabVersion)) return null;
  return new Date(expiresAt.getTime() - BOT_TOKEN_WARNING_DAYS * DAY_MS);
}

/** bot_token_expiring from `warnAt` (botTokenWarnAt) on: the bot token is about to expire with nothing to renew it. */
export function expiringBotTokenProblem(warnAt: Date | null, now: Date): { code: string; step: string; title: string } | undefined {
  if (warnAt === null || warnAt.getTime() > now.getTime()) return undefined;
  return {
    code: 'bot_token_expiring',
    step: 'bot_token',
    title: `The bot token expires within ${String(BOT_TOKEN_WARNING_DAYS)} days and this GitLab (before ${SELF_ROTATION_VERSION}) cannot rotate it: create a new one and send it with PUT /internal/instances/:id/credentials`,
  };
}

/** Whether the service can rotate this instance's bot token at all: always when automated, from 16.10 when manual. */
export function canRotateBotToken(instance: Pick<Instance, 'mode' | 'gitlabVersion'>): boolean {
  return instance.mode === 'automated' || canRotateItself(instance.gitlabVersion);
}
