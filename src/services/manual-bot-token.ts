// The bot token of a manual instance (the admin created the bot; no admin token is ever held): it can
// only be renewed by itself. GitLab 16.10+ rotates a token with itself (POST
// /personal_access_tokens/self/rotate, lib/api/personal_access_tokens/self_rotation.rb: 200 with the
// new token, the old one revoked); on older GitLab nothing can renew it, so the instance turns degraded
// (bot_token_expiring) BOT_TOKEN_WARNING_DAYS before it expires, for the admin to paste a new one.
import type { Instance, InstanceMode } from '../domain/types.js';
import type { GitlabApi, GitlabPersonalAccessToken, GitlabTarget } from '../gitlab/api.js';
import { DAY_MS } from '../time.js';
import { versionAtLeast } from './bootstrap/checks.js';

/** The first GitLab version with POST /personal_access_tokens/self/rotate. */
export const SELF_ROTATION_VERSION = '16.10';
/** How long before its expiry a bot token that cannot rotate itself makes the instance degraded. */
export const BOT_TOKEN_WARNING_DAYS = 14;

/** The problem a degraded instance reports, as lookup and the internal routes show it. */
export interface InstanceProblem {
  code: 'bot_token_expiring';
  step: 'bot_token';
  title: string;
}

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

/** The instance's problem at `now`, if its bot token is about to expire with nothing to renew it. */
export function instanceProblem(instance: { status: string; botTokenWarnAt: Date | null }, now: Date): InstanceProblem | undefined {
  if (instance.status !== 'ready' || instance.botTokenWarnAt === null || instance.botTokenWarnAt.getTime() > now.getTime()) return undefined;
  return {
    code: 'bot_token_expiring',
    step: 'bot_token',
    title: `The bot token expires within ${BOT_TOKEN_WARNING_DAYS} days and this GitLab (before ${SELF_ROTATION_VERSION}) cannot rotate it: create a new one and send it with PUT /internal/instances/:id/credentials`,
  };
}

/** Whether the service can rotate this instance's bot token at all: always when automated, from 16.10 when manual. */
export function canRotateBotToken(instance: Pick<Instance, 'mode' | 'gitlabVersion'>): boolean {
  return instance.mode === 'automated' || canRotateItself(instance.gitlabVersion);
}

/**
 * The GitLab call that rotates the instance's bot token with the token itself, asking for `expiresAt`
 * (YYYY-MM-DD): by its id on an automated instance (16.0+), by `self` on a manual one (16.10+).
 */
export function rotateBotTokenCall(gitlab: GitlabApi, target: GitlabTarget, instance: Pick<Instance, 'mode' | 'botTokenId'>, token: string): (expiresAt: string) => Promise<GitlabPersonalAccessToken> {
  if (instance.mode === 'manual') return (expiresAt) => gitlab.rotateSelf(target, token, expiresAt);
  return (expiresAt) => gitlab.rotateOwnToken(target, token, instance.botTokenId!, expiresAt);
}
