// The upkeep's work on one ready instance: rotate the bot token when due (the same single-flight
// rotation as a worker's call: bot-token.service.ts), then the live check of POST /internal/instances/:id/check
// (no admin token; a refused served token is replaced by the standby). Changes are events by `upkeep`.
import { insertInstanceEvent, markInstanceProblem } from '../../db/instances.repo.js';
import type { Instance } from '../../domain/types.js';
import { DAY_MS } from '../../time.js';
import type { Config } from '../../config.js';
import { nextRotationAt, rotateBotTokenIfDue } from '../bot-token.service.js';
import { checkInstance } from '../instance-check.service.js';
import { checkInstallationHooks } from '../installation-check.js';
import { BOT_TOKEN_EXPIRING } from '../instance-health.js';
import type { UpkeepContext } from './context.js';

/** Who the audit trail names for the upkeep's changes. */
export const UPKEEP_ACTOR = 'upkeep';
/** The upkeep rotates at least this many days before a token expires (and at half its lifetime at the latest). */
export const UPKEEP_MIN_ROTATE_DAYS = 3;

/**
 * How far ahead the upkeep rotates: BOT_TOKEN_ROTATE_DAYS but at least 3 days, plus one interval, so that
 * the last run before that point still rotates (the next run may come a whole interval later).
 */
export function upkeepRotateDays(config: Pick<Config, 'botTokenRotateDays' | 'upkeep'>): number {
  return Math.max(config.botTokenRotateDays, UPKEEP_MIN_ROTATE_DAYS) + (config.upkeep.intervalSeconds * 1000) / DAY_MS;
}

/** When the upkeep rotates the bot token at the latest (the first run from then on); null when it never does. */
export function botTokenNextRotation(config: Pick<Config, 'botTokenRotateDays' | 'upkeep'>, instance: Instance): Date | null {
  return nextRotationAt(instance, upkeepRotateDays(config));
}

/**
 * The rotation failed and the served token dies before the next scheduled run: the instance turns
 * degraded (bot_token_expiring) while the token still works, unless something worse is already stored.
 */
async function flagExpiring(context: UpkeepContext, instance: Instance): Promise<void> {
  const expiresAt = instance.botTokenExpiresAt;
  const nextRun = context.now.getTime() + context.deps.config.upkeep.intervalSeconds * 1000;
  if (expiresAt === null || expiresAt.getTime() > nextRun || instance.problemCode !== null) return;
  const title = `The bot token expires ${expiresAt.toISOString()} and its rotation keeps failing (the upkeep retries it): check that GitLab is reachable and the bot can rotate its token; it still works until then, then run POST /instances/bootstrap with an admin token`;
  if (!(await markInstanceProblem(context.deps.db, instance.id, { ...BOT_TOKEN_EXPIRING, title }, context.now))) return;
  await insertInstanceEvent(context.deps.db, { instanceId: instance.id, step: 'bot_token_rotate', actor: UPKEEP_ACTOR, outcome: 'failed', detail: `${title} (now degraded)`, errorCode: BOT_TOKEN_EXPIRING.code });
}

/** Rotates the bot token when due; 'rotated', 'not_due', 'no_token'. Throws when a due rotation failed (the job is retried). */
export async function rotateBotToken(context: UpkeepContext, instance: Instance): Promise<string> {
  if (!instance.botTokenSealed) return 'no_token';
  const outcome = await rotateBotTokenIfDue(context.deps, instance.id, UPKEEP_ACTOR, context.log, upkeepRotateDays(context.deps.config));
  // One rotation renews one token of the pair: the other may still be due, and is renewed at the next run.
  if (outcome.rotated) return 'rotated';
  if (!outcome.due) return 'not_due';
  await flagExpiring(context, outcome.instance);
  throw new Error('the bot token is due for rotation and the rotation failed (see the instance events); the upkeep retries it');
}

/** The live check; returns what it found: 'ok' or the problem code. Events only when the state changed. */
export async function verifyInstance(context: UpkeepContext, instance: Instance): Promise<string> {
  const checked = await checkInstance(context.deps, instance.id, UPKEEP_ACTOR, context.log, { eventOnChangeOnly: true });
  return checked.problemCode ?? 'ok';
}

/**
 * The project hooks of the instance's installations (issue 16): each one exists, points here and is
 * enabled, else re-created with the bot token, else the installation is marked broken. Answers 'none'
 * (no installation), 'ok', or how many were repaired and broken (e.g. '1 repaired, 0 broken').
 */
export async function checkHooks({ deps, log }: UpkeepContext, instance: Instance): Promise<string> {
  const { ok, repaired, broken } = await checkInstallationHooks(deps, instance.id, log);
  if (ok + repaired + broken === 0) return 'none';
  return repaired + broken === 0 ? 'ok' : `${String(repaired)} repaired, ${String(broken)} broken`;
}
