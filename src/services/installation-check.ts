// The upkeep's check of every installation of an instance, with the bot's token: the hook exists,
// points here and is not disabled by GitLab; repaired where the bot may (Maintainer), else the
// installation is marked broken with what the user must do. Plain functions for the upkeep scheduler.
import { installationsOfInstance, markInstallationBroken, recordInstallationHook } from '../db/installations.repo.js';
import type { Installation } from '../domain/types.js';
import { findInstanceById } from '../db/instances.repo.js';
import type { Auth, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError } from '../gitlab/http.js';
import { isAppError } from '../errors.js';
import { botTokenFor } from './bot-token.service.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { ensureHook } from './installations.service.js';

const REINSTALL = 'a project Maintainer installs the bot again (PUT /repositories/:projectId/installation)';

/** GitLab's status behind an error: raw, or as installations.service mapped it (projectError). */
function status(error: unknown): number | undefined {
  if (error instanceof GitlabApiError) return error.status;
  if (isAppError(error) && error.code === 'project_not_found') return 404;
  if (isAppError(error) && error.code === 'project_access_insufficient') return 403;
  return undefined;
}

/** One installation's outcome: ok, repaired, or broken with what the user must do. */
type CheckOutcome = { kind: 'ok' } | { kind: 'repaired' } | { kind: 'broken'; reason: string };

async function checkOne(deps: ServiceDeps, target: GitlabTarget, auth: Auth, installation: Installation, botUserId: string): Promise<CheckOutcome> {
  const projectId = Number(installation.projectId);
  try {
    const hook = await ensureHook(deps, target, auth, installation);
    await recordInstallationHook(deps.db, installation.id, { hookId: hook.hookId, hookTokenHash: hook.tokenHash, now: deps.clock() });
    return { kind: hook.tokenHash === null ? 'ok' : 'repaired' };
  } catch (error) {
    // Below Maintainer the bot cannot see hooks (403); the project gone or hidden from it: 404.
    if (status(error) === 404) return { kind: 'broken', reason: `The project is gone or the bot can no longer see it: ${REINSTALL}` };
    if (status(error) !== 403) throw error;
  }
  try {
    await deps.gitlab.projectMember(target, auth, projectId, botUserId);
    return { kind: 'ok' };
  } catch (error) {
    if (status(error) === 404) return { kind: 'broken', reason: `The bot is no longer a member of the project: ${REINSTALL}` };
    throw error;
  }
}

/**
 * Checks each installation of `instanceId` with the bot token; answers how many were ok, repaired and
 * broken. A GitLab failure on one installation is logged and leaves it as it was.
 */
export async function checkInstallationHooks(deps: ServiceDeps, instanceId: string, log: RequestLog): Promise<{ ok: number; repaired: number; broken: number }> {
  const instance = await findInstanceById(deps.db, instanceId);
  const counts = { ok: 0, repaired: 0, broken: 0 };
  if (instance?.status !== 'ready' || instance.botUserId === null) return counts;
  const installations = await installationsOfInstance(deps.db, instanceId);
  if (installations.length === 0) return counts;
  const { token } = await botTokenFor(deps, instanceId, 'upkeep', log);
  const target = gitlabTargetOf(instance, log);
  for (const installation of installations) {
    let outcome: CheckOutcome;
    try {
      outcome = await checkOne(deps, target, { privateToken: token }, installation, instance.botUserId);
    } catch (error) {
      log.warn({ err: error, installationId: installation.id }, 'installation check failed; left as it was');
      continue;
    }
    counts[outcome.kind]++;
    if (outcome.kind === 'broken') await markInstallationBroken(deps.db, installation.id, outcome.reason, deps.clock());
    else if (outcome.kind === 'ok' && installation.brokenReason !== null) await markInstallationBroken(deps.db, installation.id, null, deps.clock());
  }
  return counts;
}
