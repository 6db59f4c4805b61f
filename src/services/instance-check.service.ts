// POST /internal/instances/:id/check: the live verification without an admin token. Two GitLab calls in
// parallel (one round trip): GET /user with the served bot token (it answers as the bot, or 401: the token
// is dead, or 403: the account is blocked, deactivated or held by the terms of service; lib/api/api_guard.rb
// and app/policies/global_policy.rb in gitlabhq), and the OAuth client at the token endpoint
// (oauthClientAccepted: invalid_client means the application was deleted or its secret replaced). A dead
// served token is repaired when the standby works (bot-token.service.ts); what is still dead makes the
// instance degraded with its problem, a clean check makes it ready again; every check is one event.
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../crypto/seal-purposes.js';
import { insertInstanceEvent, markInstanceProblem, storeCheckedProblem } from '../db/instances.repo.js';
import type { Instance } from '../domain/types.js';
import { AppError } from '../errors.js';
import { GitlabApiError } from '../gitlab/http.js';
import { replaceRefusedToken } from './bot-token.service.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { oauthClientAccepted, registeredRedirectUri } from './gitlab-oauth.js';
import { BOT_TOKEN_EXPIRING, STORED_PROBLEMS, type InstanceProblem } from './instance-health.js';
import { getInstance } from './instances.service.js';

type BotTokenFinding = 'live' | 'refused' | 'missing' | { forbidden: string };

const BOT_TOKEN_DEAD =
  'GitLab no longer accepts the bot token and no standby token works: run POST /instances/bootstrap with an admin token to create new ones, or (manual onboarding) send a new one with PUT /internal/instances/:id/credentials';
const APPLICATION_DEAD =
  "GitLab refuses this instance's OAuth client id and secret (the application was deleted, or its secret renewed): users cannot log in; run POST /instances/bootstrap with an admin token to re-create it, or (manual onboarding) send the new credentials with PUT /internal/instances/:id/credentials";

/** Why GitLab answers 403 to the bot, from its message (terms of service, blocked, deactivated). */
function forbiddenReason(message: string): string {
  if (/terms of service/i.test(message)) return 'terms_not_accepted';
  if (/deactivated/i.test(message)) return 'deactivated';
  if (/blocked/i.test(message)) return 'blocked';
  return 'forbidden';
}

/** GET /user with the served bot token. Throws on anything else than 200, 401, 403. */
async function checkBotToken(deps: ServiceDeps, instance: Instance, log: RequestLog): Promise<BotTokenFinding> {
  if (!instance.botTokenSealed) return 'missing';
  try {
    await deps.gitlab.currentUser(gitlabTargetOf(instance, log), { privateToken: deps.sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN) });
    return 'live';
  } catch (error) {
    if (error instanceof GitlabApiError && error.status === 401) return 'refused';
    if (error instanceof GitlabApiError && error.status === 403) return { forbidden: forbiddenReason(error.message) };
    throw error;
  }
}

/** Does GitLab accept the instance's OAuth client (one call to its token endpoint)? True when there is none to check. Throws the GitLab failure codes. */
export function checkApplication(deps: ServiceDeps, instance: Instance): Promise<boolean> | boolean {
  if (!instance.oauthClientId || !instance.oauthClientSecretSealed) return true;
  const credentials = { clientId: instance.oauthClientId, clientSecret: deps.sealer.open(instance.oauthClientSecretSealed, SEAL_OAUTH_CLIENT_SECRET) };
  return oauthClientAccepted(deps, instance, credentials, registeredRedirectUri(deps.config, instance));
}

/** The problem left after the findings and the repair; a dead application first (it stops logins). */
function problemOf(applicationAccepted: boolean, botToken: BotTokenFinding | 'repaired'): InstanceProblem | null {
  if (!applicationAccepted) return { ...STORED_PROBLEMS.application, title: APPLICATION_DEAD };
  if (botToken === 'refused' || botToken === 'missing') return { ...STORED_PROBLEMS.botToken, title: BOT_TOKEN_DEAD };
  if (typeof botToken === 'object') {
    const title = `GitLab refuses the bot account's API calls (${botToken.forbidden}): unblock or activate the bot, or have it accept the terms of service, on GitLab (Admin > Users), then run POST /instances/bootstrap with an admin token`;
    return { ...STORED_PROBLEMS.botAccount, title };
  }
  return null;
}

/** How a check records itself: the upkeep records an event only when something changed. */
export interface CheckOptions {
  eventOnChangeOnly?: boolean;
}

/**
 * A live check cannot see a failed rotation: a stored bot_token_expiring (the upkeep's) stays until a
 * rotation succeeds (storeBotTokens clears it).
 */
function keptProblem(instance: Instance): InstanceProblem | null {
  if (instance.problemCode !== BOT_TOKEN_EXPIRING.code) return null;
  return { code: instance.problemCode, step: instance.problemStep ?? BOT_TOKEN_EXPIRING.step, title: instance.problemDetail ?? instance.problemCode };
}

/**
 * Runs the live check of a ready instance now, repairs a refused served bot token from the standby, and
 * stores the outcome (degraded with its problem, or ready); records one `check` event by `actor`.
 * Returns the instance as stored afterwards. Throws instance_not_found, instance_not_ready, and the
 * GitLab failure codes (unreachable, rate limited, unexpected answer: nothing is changed then).
 */
export async function checkInstance(deps: ServiceDeps, id: string, actor: string, log: RequestLog, options: CheckOptions = {}): Promise<Instance> {
  const instance = await getInstance(deps, id);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `Instance ${id} is ${instance.status}: only a ready instance can be checked`);
  const [botToken, applicationAccepted] = await Promise.all([checkBotToken(deps, instance, log), checkApplication(deps, instance)]);
  const repaired = botToken === 'refused' && (await replaceRefusedToken(deps, id, actor, log));
  const problem = problemOf(applicationAccepted, repaired ? 'repaired' : botToken) ?? keptProblem(instance);
  const checkedAt = deps.clock();
  if (!(await storeCheckedProblem(deps.db, id, { problem, checkedAt, verified: { botToken: botToken === 'live', oauthClient: applicationAccepted } }))) throw new AppError('instance_not_ready', `Instance ${id} changed while it was checked; check it again`);
  // Compared with before the check: a token dropped during it (replaceRefusedToken) is a change too.
  const change = instance.problemCode === (problem?.code ?? null) ? 'unchanged' : problem ? 'now degraded' : 'ready again';
  if (options.eventOnChangeOnly && change === 'unchanged' && !repaired) return getInstance(deps, id);
  const detail = `${problem ? `${problem.code}: ${problem.title}` : 'bot token and OAuth application accepted by GitLab'}${repaired ? '; the refused served bot token replaced by the standby' : ''} (${change})`;
  await insertInstanceEvent(deps.db, { instanceId: id, step: 'check', actor, outcome: problem ? 'failed' : repaired ? 'repaired' : 'succeeded', detail, errorCode: problem?.code ?? null });
  return getInstance(deps, id);
}

/**
 * GitLab refused the instance's OAuth client (invalid_client) on an internal route: the instance is
 * degraded (oauth_application_unusable, logins stop until a bootstrap or new credentials), recorded as
 * an event by `actor` when it was not already.
 */
export async function degradeForRefusedClient(deps: ServiceDeps, instanceId: string, actor: string, found: string): Promise<void> {
  if (!(await markInstanceProblem(deps.db, instanceId, { ...STORED_PROBLEMS.application, title: APPLICATION_DEAD }, deps.clock()))) return;
  const detail = `GitLab refused the OAuth client at a token refresh (${found}): degraded until a bootstrap or new credentials`;
  await insertInstanceEvent(deps.db, { instanceId, step: 'oauth_application', actor, outcome: 'failed', detail, errorCode: STORED_PROBLEMS.application.code });
}
