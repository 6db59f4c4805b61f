// Installing the bot on GitLab projects from the user's session: the bot as a Developer member and a
// project webhook (merge request and comment events) to this service, each re-created when found gone,
// and removed again by an uninstall (the membership only where this service added it). Every GitLab
// call here uses the user's own OAuth token; no database connection is held while GitLab answers.
import { hashSecret, randomSecret } from '../crypto/tokens.js';
import { findInstanceById } from '../db/instances.repo.js';
import { claimInstallation, deleteInstallation, findInstallation, installationsOfProjects, recordInstallationHook } from '../db/installations.repo.js';
import type { Installation, Instance } from '../domain/types.js';
import { AppError } from '../errors.js';
import { adviseDetail } from '../diagnoses.js';
import type { Auth, GitlabHook, GitlabProject, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError, toAppError } from '../gitlab/http.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { userGitlabToken } from './user-tokens.service.js';

/** GitLab's access levels (doc/api/members.md). */
export const DEVELOPER = 30;
export const MAINTAINER = 40;

export interface SessionUser {
  userId: string;
  instanceId: string;
  /** Who, for the logs. */
  actor: string;
}

/** The webhook URL of an installation: $PUBLIC_URL/webhooks/gitlab/<id>. */
export const webhookUrlOf = (deps: ServiceDeps, installationId: string) => `${deps.config.publicUrl}/webhooks/gitlab/${installationId}`;

/** GitLab's answer as this service's error; 404 and 403 about the project get their own codes. */
export function projectError(error: unknown, projectId: number): AppError {
  if (error instanceof GitlabApiError && error.status === 404) return new AppError('project_not_found', `GitLab has no project ${String(projectId)} that you can see: check the id, or ask for access to the project`);
  if (error instanceof GitlabApiError && error.status === 403) {
    return new AppError('project_access_insufficient', adviseDetail('project_access_insufficient', `GitLab refused the change on project ${String(projectId)} with your access`));
  }
  return toAppError(error);
}

/** The user's level on a project: the higher of their project and group access (GitLab's `permissions`). */
export const accessLevelOf = (project: GitlabProject) => Math.max(project.permissions?.project_access?.access_level ?? 0, project.permissions?.group_access?.access_level ?? 0);

async function readyInstance(deps: ServiceDeps, instanceId: string): Promise<Instance & { botUserId: string }> {
  const instance = await findInstanceById(deps.db, instanceId);
  if (instance?.status !== 'ready' || instance.botUserId === null) throw new AppError('instance_not_ready', 'The instance is not set up (or was taken out of service): an admin runs the bootstrap first');
  return instance as Instance & { botUserId: string };
}

/** The instance, the user's GitLab token as auth, and where to call. */
async function sessionGitlab(deps: ServiceDeps, user: SessionUser, log: RequestLog) {
  const instance = await readyInstance(deps, user.instanceId);
  const token = await userGitlabToken(deps, user.userId, user.actor, log);
  const auth: Auth = { bearerToken: token.accessToken };
  return { instance, auth, target: gitlabTargetOf(instance, log) };
}

async function gitlab<T>(projectId: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw projectError(error, projectId);
  }
}

/** A 404 answer (already gone) counts as done. */
async function ignoringNotFound(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof GitlabApiError && error.status === 404)) throw error;
  }
}

/**
 * The bot as a member at Developer level or above: an existing membership (direct or inherited,
 * someone else's) is kept as it is; none is added as Developer. Answers whether this call added it.
 */
async function ensureBotMember(deps: ServiceDeps, target: GitlabTarget, auth: Auth, projectId: number, botUserId: string): Promise<boolean> {
  try {
    await deps.gitlab.projectMember(target, auth, projectId, botUserId);
    return false;
  } catch (error) {
    if (!(error instanceof GitlabApiError && error.status === 404)) throw projectError(error, projectId);
  }
  await gitlab(projectId, () => deps.gitlab.addProjectMember(target, auth, projectId, botUserId, DEVELOPER));
  return true;
}

/** GitLab refusing our webhook URL: its local-network setting (lib/api/project_hooks.rb answers 422 "Invalid url given"). */
function hookCreationError(error: unknown, projectId: number, url: string): AppError {
  if (error instanceof GitlabApiError && (error.status === 422 || error.status === 400) && /url/i.test(error.message)) {
    return new AppError('webhook_url_blocked', adviseDetail('webhook_url_blocked', `GitLab refused the webhook URL ${url}`));
  }
  return projectError(error, projectId);
}

const executable = (hook: GitlabHook) => hook.alert_status === undefined || hook.alert_status === 'executable';

/**
 * The installation's hook, working: kept when it exists, points here and is not disabled; else created
 * anew with a fresh secret token. Other hooks to our URL (left by a lost answer) are deleted.
 * Answers the hook id and, when created, the new token's hash.
 */
export async function ensureHook(deps: ServiceDeps, target: GitlabTarget, auth: Auth, installation: Installation): Promise<{ hookId: number; tokenHash: string | null }> {
  const projectId = Number(installation.projectId);
  const url = webhookUrlOf(deps, installation.id);
  const hooks = await gitlab(projectId, () => deps.gitlab.projectHooks(target, auth, projectId));
  const ours = hooks.filter((hook) => hook.url === url);
  const kept = ours.find((hook) => String(hook.id) === installation.hookId && executable(hook) && installation.hookTokenHash !== null);
  for (const hook of ours) if (hook !== kept) await gitlab(projectId, () => ignoringNotFound(() => deps.gitlab.deleteProjectHook(target, auth, projectId, hook.id)));
  if (kept) return { hookId: kept.id, tokenHash: null };
  const token = randomSecret();
  let created: GitlabHook;
  try {
    created = await deps.gitlab.createProjectHook(target, auth, projectId, { url, token });
  } catch (error) {
    throw hookCreationError(error, projectId, url);
  }
  return { hookId: created.id, tokenHash: hashSecret(token) };
}

/**
 * PUT /repositories/:projectId/installation: the bot as a member and the webhook on the project, with the
 * user's token. Idempotent: `created` false when the installation existed; `repaired` names what was
 * found gone on GitLab and re-created. Throws project_not_found, project_access_insufficient (below
 * Maintainer), instance_not_ready, reauthorization_required, webhook_url_blocked, the GitLab failures.
 */
export async function installOnProject(deps: ServiceDeps, user: SessionUser, projectId: number, log: RequestLog) {
  const { instance, auth, target } = await sessionGitlab(deps, user, log);
  const project = await gitlab(projectId, () => deps.gitlab.project(target, auth, projectId));
  if (accessLevelOf(project) < MAINTAINER) {
    throw new AppError('project_access_insufficient', adviseDetail('project_access_insufficient', `You have access level ${String(accessLevelOf(project))} on ${project.path_with_namespace}; installing needs Maintainer (40) or Owner (50)`));
  }
  const { installation, created } = await claimInstallation(deps.db, { instanceId: instance.id, projectId, pathWithNamespace: project.path_with_namespace, now: deps.clock() });
  const added = await ensureBotMember(deps, target, auth, projectId, instance.botUserId);
  const hook = await ensureHook(deps, target, auth, installation);
  const repaired: ('membership' | 'hook')[] = [];
  if (!created && added && installation.membershipAddedByUs) repaired.push('membership');
  if (!created && hook.tokenHash !== null && installation.hookId !== null) repaired.push('hook');
  const stored = await recordInstallationHook(deps.db, installation.id, {
    hookId: hook.hookId,
    hookTokenHash: hook.tokenHash,
    membershipAddedByUs: added || installation.membershipAddedByUs,
    ...(created ? { installedBy: user.userId } : {}),
    now: deps.clock(),
  });
  log.info({ installationId: stored.id, projectId, created, repaired }, 'bot installed on a project');
  return { installation: stored, created: created || installation.hookId === null, repaired };
}

/**
 * DELETE /repositories/:projectId/installation: the hook deleted and, only when this service added it,
 * the bot's membership; then the record. Idempotent (nothing installed, or already gone on GitLab: done).
 */
export async function uninstallFromProject(deps: ServiceDeps, user: SessionUser, projectId: number, log: RequestLog): Promise<void> {
  const installation = await findInstallation(deps.db, user.instanceId, projectId);
  if (!installation) return;
  const { instance, auth, target } = await sessionGitlab(deps, user, log);
  const url = webhookUrlOf(deps, installation.id);
  let hooks: GitlabHook[] = [];
  try {
    hooks = await deps.gitlab.projectHooks(target, auth, projectId);
  } catch (error) {
    if (!(error instanceof GitlabApiError && error.status === 404)) throw projectError(error, projectId);
  }
  for (const hook of hooks.filter((candidate) => candidate.url === url)) {
    await gitlab(projectId, () => ignoringNotFound(() => deps.gitlab.deleteProjectHook(target, auth, projectId, hook.id)));
  }
  if (installation.membershipAddedByUs) await gitlab(projectId, () => ignoringNotFound(() => deps.gitlab.removeProjectMember(target, auth, projectId, instance.botUserId)));
  await deleteInstallation(deps.db, installation.id);
  log.info({ installationId: installation.id, projectId }, 'bot uninstalled from a project');
}

/** GET /repositories: one page of the projects where the user is Maintainer or above, each with its installation. */
export async function listRepositories(deps: ServiceDeps, user: SessionUser, query: { search?: string | undefined; page: number; perPage: number }, log: RequestLog) {
  const { instance, auth, target } = await sessionGitlab(deps, user, log);
  let page;
  try {
    page = await deps.gitlab.projectsPage(target, auth, { minAccessLevel: MAINTAINER, page: query.page, perPage: query.perPage, ...(query.search ? { search: query.search } : {}) });
  } catch (error) {
    throw toAppError(error);
  }
  const installations = await installationsOfProjects(deps.db, instance.id, page.projects.map((project) => project.id));
  const byProject = new Map(installations.map((installation) => [installation.projectId, installation]));
  const repositories = page.projects.map((project) => ({ project, installation: byProject.get(String(project.id)) }));
  return { repositories, nextPage: page.nextPage };
}
