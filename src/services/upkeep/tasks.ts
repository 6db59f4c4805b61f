// What the upkeep does, as two lists: SWEEP_TASKS run once per interval across all replicas (clean-ups),
// INSTANCE_TASKS run per ready instance in its own job (spread over the interval, retried on failure).
// Another feature adds its work with one line here. A task is { name, run }: `run` gets the upkeep
// context (deps, log, now) — and for an instance task the instance as stored — and returns a number or a
// short word for the run's `counts` (rows deleted, 'rotated', the check's finding); it throws to fail
// the run (an instance task's failure retries the instance's job with back-off; the other tasks of the
// run still run first). Tasks must be idempotent: a retried or repeated run does them again.
import type { InstanceTask, SweepTask } from './context.js';
import { deleteAbandoned, deleteDeadSessions, deleteExpiredLogins, deleteOldRateLimits, deleteOldRuns, deleteOldWebhookEvents, markAbandonedRuns } from './cleanup.js';
import { checkHooks, rotateBotToken, verifyInstance } from './instance-tasks.js';

export type { InstanceTask, SweepTask, UpkeepContext } from './context.js';

export const SWEEP_TASKS: readonly SweepTask[] = [
  { name: 'loginStatesDeleted', run: deleteExpiredLogins },
  { name: 'sessionsDeleted', run: deleteDeadSessions },
  { name: 'rateLimitWindowsDeleted', run: deleteOldRateLimits },
  { name: 'abandonedInstancesDeleted', run: deleteAbandoned },
  { name: 'upkeepRunsDeleted', run: deleteOldRuns },
  { name: 'upkeepRunsAbandoned', run: markAbandonedRuns },
  { name: 'webhookEventsDeleted', run: deleteOldWebhookEvents },
];

/** In order: the rotation first, so the check verifies the token that is served afterwards. */
export const INSTANCE_TASKS: readonly InstanceTask[] = [
  { name: 'botToken', run: rotateBotToken },
  { name: 'check', run: verifyInstance },
  { name: 'hooks', run: checkHooks },
];
