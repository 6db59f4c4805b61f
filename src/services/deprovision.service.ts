// DELETE /internal/instances/:id: takes an instance out of service. With an admin token it also cleans
// GitLab up (OAuth application deleted, bot token revoked, bot blocked), each step an event.
import { inTransaction } from '../db/database.js';
import { findInstanceById, insertInstanceEvent, lockInstanceById, markInstanceRemoved } from '../db/instances.repo.js';
import { deleteInstanceLoginStates } from '../db/login-states.repo.js';
import { revokeInstanceSessions } from '../db/sessions.repo.js';
import { wipeInstanceUserTokens } from '../db/users.repo.js';
import type { Instance } from '../domain/types.js';
import { AppError } from '../errors.js';
import { GitlabApiError, toAppError } from '../gitlab/http.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { describeLeftovers, gitlabLeftovers, type GitlabLeftovers } from './gitlab-leftovers.js';
import { foundInstance } from './instances.service.js';

export interface GitlabCleanup {
  oauthApplicationDeleted: boolean;
  botTokenRevoked: boolean;
  botBlocked: boolean;
}

/** A removed instance: what an admin token cleaned up on GitLab, or (without one) what is left there. */
export interface Deprovisioned {
  instanceId: string;
  gitlab: GitlabCleanup | null;
  leftOnGitlab: GitlabLeftovers | null;
}

/** A resource GitLab no longer has is as good as removed. */
async function goneIsDone(work: Promise<unknown> | undefined): Promise<boolean> {
  if (!work) return false;
  try {
    await work;
  } catch (error) {
    if (error instanceof GitlabApiError && error.status === 404) return true;
    throw error;
  }
  return true;
}

async function cleanUpGitlab(deps: ServiceDeps, instance: Instance, adminToken: string, actor: string, log: RequestLog): Promise<GitlabCleanup> {
  const { gitlab, db } = deps;
  const target = gitlabTargetOf(instance, log);
  const steps = [
    ['deprovision_oauth_application', instance.oauthApplicationId ? gitlab.deleteApplication(target, adminToken, instance.oauthApplicationId) : undefined],
    // Both bot tokens (served and standby); a standby already gone counts as revoked.
    ['deprovision_bot_token', instance.botTokenId ? Promise.all([instance.botTokenId, instance.botStandbyTokenId].filter((id) => id !== null).map((id) => goneIsDone(gitlab.revokePersonalAccessToken(target, adminToken, id)))) : undefined],
    // A manual instance's bot is the admin's own user: never blocked here (only its tokens, handed to us, are revoked).
    ['deprovision_bot_user', instance.botUserId && instance.mode !== 'manual' ? gitlab.blockUser(target, adminToken, instance.botUserId) : undefined],
  ] as const;
  const results = await Promise.allSettled(steps.map(([, work]) => goneIsDone(work)));
  for (const [index, [step]] of steps.entries()) {
    const result = results[index];
    if (result.status === 'fulfilled' && !result.value) continue;
    const failure = result.status === 'rejected' ? toAppError(result.reason) : undefined;
    await insertInstanceEvent(db, {
      instanceId: instance.id,
      step,
      outcome: failure ? 'failed' : 'succeeded',
      actor,
      detail: failure?.message ?? null,
      errorCode: failure?.code ?? null,
    });
  }
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw toAppError(failed.reason);
  const [oauthApplicationDeleted, botTokenRevoked, botBlocked] = results.map((result) => result.status === 'fulfilled' && result.value);
  return { oauthApplicationDeleted, botTokenRevoked, botBlocked };
}

/** A running bootstrap (its lease, by our clock, not over) would recreate what a removal wipes. */
function refuseDuringBootstrap(instance: Instance, now: Date): void {
  if (instance.bootstrapLeaseUntil !== null && instance.bootstrapLeaseUntil.getTime() > now.getTime()) {
    throw new AppError('bootstrap_in_progress', 'A bootstrap of this instance is running; remove it once the bootstrap has finished');
  }
}

/**
 * With an admin token GitLab is cleaned up first; if that fails nothing here changes, so the call can
 * be repeated. Then, in one transaction: sessions revoked, users' tokens and pending logins wiped,
 * the instance's secrets wiped and its status set to removed. Refused while a bootstrap holds the
 * lease: checked before GitLab is touched, and again under the row lock, which a bootstrap's claim
 * also needs, so none can start between the check and the removal.
 */
export async function deprovisionInstance(deps: ServiceDeps, instanceId: string, adminToken: string | undefined, actor: string, log: RequestLog): Promise<Deprovisioned> {
  const { db, clock } = deps;
  const instance = foundInstance(await findInstanceById(db, instanceId), instanceId);
  refuseDuringBootstrap(instance, clock());
  const gitlab = adminToken ? await cleanUpGitlab(deps, instance, adminToken, actor, log) : null;
  const leftOnGitlab = gitlab ? null : gitlabLeftovers(instance, clock());
  // A short transaction: no one holds this row's lock across a GitLab call (a rotation in flight holds a
  // lease, which the removal drops, so the rotation's fenced write stores nothing).
  await inTransaction(db, async (trx) => {
    const locked = foundInstance(await lockInstanceById(trx, instance.id), instanceId);
    const now = clock();
    refuseDuringBootstrap(locked, now);
    await revokeInstanceSessions(trx, instance.id, now);
    await wipeInstanceUserTokens(trx, instance.id, now);
    await deleteInstanceLoginStates(trx, instance.id);
    await markInstanceRemoved(trx, instance.id, now);
    const detail = leftOnGitlab ? describeLeftovers(leftOnGitlab) : 'removed; GitLab cleaned up';
    await insertInstanceEvent(trx, { instanceId: instance.id, step: 'removed', outcome: 'succeeded', actor, detail, errorCode: null });
  });
  return { instanceId: instance.id, gitlab, leftOnGitlab };
}
