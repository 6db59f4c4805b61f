// The one place that decides an instance's visible status and problem: a ready instance is degraded when
// a credential was found dead (stored by the live check or by an internal route GitLab refused, see
// instance-check.service.ts) or when a manual bot token is about to expire with nothing to renew it
// (manual-bot-token.ts). A stored problem wins: it is a fact, the expiry only a forecast.
import type { Instance } from '../domain/types.js';
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
