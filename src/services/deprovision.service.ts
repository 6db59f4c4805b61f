// DELETE /internal/instances/:id: takes an instance out of service. With an admin token it also cleans
// GitLab up (OAuth application deleted, bot token revoked, bot blocked), each step an event.
import type { Kysely } from 'kysely';
import { findInstanceById, insertInstanceEvent, lockInstanceById, markInstanceRemoved } from '../db/instances.repo.js';
import { deleteInstanceLoginStates } from '../db/login-states.repo.js';
import { retryWhileRowLocked } from '../db/row-lock.js';
import { rotationLockWait } from './bot-token.service.js';
import { revokeInstanceSessions } from '../db/sessions.repo.js';
import type { DB, Instance } from '../db/types.js';
import { wipeInstanceUserTokens } from '../db/users.repo.js';
import { AppError } from '../errors.js';
import type { GitlabApi } from '../gitlab/api.js';
import { GitlabApiError, toAppError, type GitlabLog } from '../gitlab/http.js';
import { describeLeftovers, gitlabLeftovers } from './gitlab-leftovers.js';
import { foundInstance } from './instances.service.js';

export interface DeprovisionDeps {
  db: Kysely<DB>;
  gitlab: GitlabApi;
  clock: () => Date;
  log: GitlabLog;
  gitlabTimeoutMs: number;
}

export interface GitlabCleanup {
  oauthApplicationDeleted: boolean;
  botTokenRevoked: boolean;
  botBlocked: boolean;
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

async function cleanUpGitlab(deps: DeprovisionDeps, instance: Instance, adminToken: string, actor: string): Promise<GitlabCleanup> {
  const { gitlab, db, log } = deps;
  const target = { url: instance.url, caCertificate: instance.ca_certificate, log };
  const steps = [
    ['deprovision_oauth_application', instance.oauth_application_id ? gitlab.deleteApplication(target, adminToken, instance.oauth_application_id) : undefined],
    ['deprovision_bot_token', instance.bot_token_id ? gitlab.revokePersonalAccessToken(target, adminToken, instance.bot_token_id) : undefined],
    ['deprovision_bot_user', instance.bot_user_id ? gitlab.blockUser(target, adminToken, instance.bot_user_id) : undefined],
  ] as const;
  const results = await Promise.allSettled(steps.map(([, work]) => goneIsDone(work)));
  for (const [index, [step]] of steps.entries()) {
    const result = results[index]!;
    if (result.status === 'fulfilled' && !result.value) continue;
    const failure = result.status === 'rejected' ? toAppError(result.reason) : undefined;
    await insertInstanceEvent(db, {
      instance_id: instance.id,
      step,
      outcome: failure ? 'failed' : 'succeeded',
      actor,
      detail: failure?.message ?? null,
      error_code: failure?.code ?? null,
    });
  }
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw toAppError(failed.reason);
  const [oauthApplicationDeleted, botTokenRevoked, botBlocked] = results.map((result) => result.status === 'fulfilled' && result.value);
  return { oauthApplicationDeleted: oauthApplicationDeleted!, botTokenRevoked: botTokenRevoked!, botBlocked: botBlocked! };
}

/** A running bootstrap (its lease, by our clock, not over) would recreate what a removal wipes. */
function refuseDuringBootstrap(instance: Instance, now: Date): void {
  if (instance.bootstrap_lease_until !== null && instance.bootstrap_lease_until.getTime() > now.getTime()) {
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
export async function deprovisionInstance(deps: DeprovisionDeps, instanceId: string, adminToken: string | undefined, actor: string) {
  const { db, clock, gitlabTimeoutMs } = deps;
  const instance = foundInstance(await findInstanceById(db, instanceId), instanceId);
  refuseDuringBootstrap(instance, clock());
  const gitlab = adminToken ? await cleanUpGitlab(deps, instance, adminToken, actor) : null;
  const leftOnGitlab = gitlab ? null : gitlabLeftovers(instance, clock());
  // The row lock may be held by a bot token rotation, for as long as its GitLab call: wait off the pool.
  await retryWhileRowLocked(
    () =>
      db.transaction().execute(async (trx) => {
        const locked = foundInstance(await lockInstanceById(trx, instance.id), instanceId);
        const now = clock();
        refuseDuringBootstrap(locked, now);
        await revokeInstanceSessions(trx, instance.id, now);
        await wipeInstanceUserTokens(trx, instance.id, now);
        await deleteInstanceLoginStates(trx, instance.id);
        await markInstanceRemoved(trx, instance.id, now);
        await insertInstanceEvent(trx, { instance_id: instance.id, step: 'removed', outcome: 'succeeded', actor, detail: leftOnGitlab ? describeLeftovers(leftOnGitlab) : 'removed; GitLab cleaned up', error_code: null });
      }),
    rotationLockWait(gitlabTimeoutMs),
  );
  return { instanceId: instance.id, status: 'removed' as const, gitlab, leftOnGitlab };
}
