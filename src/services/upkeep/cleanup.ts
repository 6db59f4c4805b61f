// The sweep's clean-ups: rows nothing can use any more, deleted so the tables stop growing; and the runs whose
// process died, marked abandoned so that GET /internal/upkeep/runs stops showing them running.
import { deleteAbandonedInstances } from '../../db/instances.repo.js';
import { deleteExpiredLoginStates } from '../../db/login-states.repo.js';
import { deleteDeadSessions as deleteDeadSessionRows, deleteOldRateLimitWindows, deleteOldUpkeepRuns, markAbandonedUpkeepRuns } from '../../db/upkeep.repo.js';
import { DAY_MS } from '../../time.js';
import { deleteExpiredWebhookEvents } from '../webhooks.service.js';
import type { UpkeepContext } from './context.js';

/** Never-ready instances untouched this long (and holding nothing on GitLab) are deleted, with their events. */
export const ABANDONED_INSTANCE_RETENTION_DAYS = 30;
/** Deleted per sweep at most: the next sweep takes the rest. */
const ABANDONED_PURGE_LIMIT = 1000;
/** Rate-limit windows are a minute long; an hour-old one counts for nothing. */
const RATE_LIMIT_WINDOW_RETENTION_MS = 3_600_000;
/** Upkeep run records kept this long. */
export const UPKEEP_RUN_RETENTION_DAYS = 7;

const daysBefore = (now: Date, days: number) => new Date(now.getTime() - days * DAY_MS);

/** Login states past their expiry (each holds a sealed PKCE verifier). */
export function deleteExpiredLogins({ deps, now }: UpkeepContext): Promise<number> {
  return deleteExpiredLoginStates(deps.db, now);
}

/** Sessions expired or revoked. */
export function deleteDeadSessions({ deps, now }: UpkeepContext): Promise<number> {
  return deleteDeadSessionRows(deps.db, now);
}

/** Rate-limit windows older than an hour. */
export function deleteOldRateLimits({ deps, now }: UpkeepContext): Promise<number> {
  return deleteOldRateLimitWindows(deps.db, new Date(now.getTime() - RATE_LIMIT_WINDOW_RETENTION_MS));
}

/** Instances that failed before ever becoming ready, hold nothing on GitLab and were untouched for 30 days. */
export function deleteAbandoned({ deps, now }: UpkeepContext): Promise<number> {
  return deleteAbandonedInstances(deps.db, daysBefore(now, ABANDONED_INSTANCE_RETENTION_DAYS), ABANDONED_PURGE_LIMIT);
}

/** The upkeep's own run records beyond their retention. */
export function deleteOldRuns({ deps, now }: UpkeepContext): Promise<number> {
  return deleteOldUpkeepRuns(deps.db, daysBefore(now, UPKEEP_RUN_RETENTION_DAYS));
}

/**
 * Runs still 'running' after UPKEEP_JOB_TIMEOUT_SECONDS: pg-boss has given their job up by then (its process
 * was killed, or the run overran) and retries it as a new run, so this one never ends by itself.
 */
export function markAbandonedRuns({ deps, now }: UpkeepContext): Promise<number> {
  const { jobTimeoutSeconds } = deps.config.upkeep;
  const reason = `abandoned: still running after UPKEEP_JOB_TIMEOUT_SECONDS (${String(jobTimeoutSeconds)} s), so its process stopped or it overran; the job was retried as a new run`;
  return markAbandonedUpkeepRuns(deps.db, new Date(now.getTime() - jobTimeoutSeconds * 1000), now, reason);
}

/** Webhook events older than WEBHOOK_EVENT_RETENTION_DAYS (the review workers have had them for that long). */
export function deleteOldWebhookEvents({ deps }: UpkeepContext): Promise<number> {
  return deleteExpiredWebhookEvents(deps);
}
