// The one place that decides an instance's visible status and problem: a ready instance is degraded when
// a credential was found dead (stored by the live check or by an internal route GitLab refused, see
// instance-check.service.ts) or when a manual bot token is about to expire with nothing to renew it
// (manual-bot-token.ts). A stored problem wins: it is a fact, the expiry only a forecast.
import type { Instance } from '../domain/types.js';
import { DAY_MS } from '../time.js';
import { expiringBotTokenProblem } from './manual-bot-token.js';

/** What is wrong with a degraded instance, as lookup and the internal routes show it (never a secret). */
export interface InstanceProblem {
  code: string;
  step: string;
  title: string;
}

/** The problem codes a live check or an internal route stores; `oauth_application_unusable` stops logins. */
export const STORED_PROBLEMS = {
  botToken: { code: 'bot_token_unusable', step: 'bot_token' },
  botAccount: { code: 'bot_account_unusable', step: 'bot_account' },
  application: { code: 'oauth_application_unusable', step: 'oauth_application' },
} as const;

/** Stored by the upkeep when a due rotation failed and the served token would die before the next try (it still works meanwhile). */
export const BOT_TOKEN_EXPIRING = { code: 'bot_token_expiring', step: 'bot_token' } as const;

/** The columns the decision reads: the lookup reads only these. */
export type HealthColumns = Pick<Instance, 'status' | 'botTokenWarnAt' | 'problemCode' | 'problemStep' | 'problemDetail'>;

function storedProblem(instance: HealthColumns): InstanceProblem | undefined {
  if (instance.problemCode === null) return undefined;
  return { code: instance.problemCode, step: instance.problemStep ?? 'unknown', title: instance.problemDetail ?? instance.problemCode };
}

/** The instance's problem at `now` when it is ready but degraded (a dead credential first, else an expiring manual bot token). */
export function instanceProblem(instance: HealthColumns, now: Date): InstanceProblem | undefined {
  if (instance.status !== 'ready') return undefined;
  return storedProblem(instance) ?? expiringBotTokenProblem(instance.botTokenWarnAt, now);
}

/** Logins no longer work: GitLab refuses the instance's OAuth client (application deleted or its secret replaced). */
export function loginsBroken(instance: Pick<Instance, 'status' | 'problemCode'>): boolean {
  return instance.status === 'ready' && instance.problemCode === STORED_PROBLEMS.application.code;
}

/** What a bootstrap or a register that verified every credential live writes: no problem left. */
export const NO_PROBLEM = { problemCode: null, problemStep: null, problemDetail: null } as const;

/**
 * A bot token GitLab granted this many days or fewer is short-lived: GitLab 16.0–16.5 ignore the
 * `expires_at` a rotation asks for and grant one week (app/services/personal_access_tokens/rotate_service.rb
 * EXPIRATION_PERIOD; `expires_at` on rotate arrived in 16.6), and the expiry is counted in whole days.
 */
export const SHORT_TOKEN_LIFETIME_DAYS = 8;

/** The stored bot tokens and what GitLab they live on: what the notices read. */
export type TokenLifetimeColumns = Pick<Instance, 'status' | 'gitlabVersion' | 'botTokenExpiresAt' | 'botTokenIssuedAt' | 'botStandbyTokenExpiresAt' | 'botStandbyTokenIssuedAt'>;

/** Days from `issuedAt` to `expiresAt` (rounded up), or null when either is unknown. */
function grantedDays(expiresAt: Date | null, issuedAt: Date | null): number | null {
  return expiresAt && issuedAt ? Math.ceil((expiresAt.getTime() - issuedAt.getTime()) / DAY_MS) : null;
}

/**
 * What is not wrong yet but needs attention, in health's `notices` (the instance stays ready):
 * `bot_token_short_lifetime` when GitLab granted a stored bot token SHORT_TOKEN_LIFETIME_DAYS or
 * fewer (a rotation on 16.0–16.5, or an instance maximum that short). Such a token dies after a few
 * quiet days unless it is rotated in time: a rotation is due at half its lifetime (bot-token.service.ts),
 * and the upkeep rotates on schedule.
 */
export function instanceNotices(instance: TokenLifetimeColumns): InstanceProblem[] {
  if (instance.status !== 'ready') return [];
  const tokens = [
    { expiresAt: instance.botTokenExpiresAt, days: grantedDays(instance.botTokenExpiresAt, instance.botTokenIssuedAt) },
    { expiresAt: instance.botStandbyTokenExpiresAt, days: grantedDays(instance.botStandbyTokenExpiresAt, instance.botStandbyTokenIssuedAt) },
  ];
  const short = tokens.filter((token) => token.days !== null && token.days <= SHORT_TOKEN_LIFETIME_DAYS).sort((a, b) => (a.expiresAt?.getTime() ?? 0) - (b.expiresAt?.getTime() ?? 0)).at(0);
  if (!short?.expiresAt) return [];
  return [{
    code: 'bot_token_short_lifetime',
    step: 'bot_token',
    title: `GitLab ${instance.gitlabVersion ?? ''} granted a bot token only ${String(short.days)} days (GitLab 16.0–16.5 ignore the expiry a rotation asks for and grant 7 days): it expires ${short.expiresAt.toISOString()} and must be rotated before (POST /internal/instances/:id/bot-token rotates it once half its lifetime is gone, the upkeep on schedule); upgrade GitLab to 16.6 or later for long-lived rotated tokens`,
  }];
}
