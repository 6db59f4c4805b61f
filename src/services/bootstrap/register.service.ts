// Manual onboarding: POST /instances/register and PUT /internal/instances/:id/credentials. The admin
// created the bot user and the instance-wide OAuth application; the service checks the credentials it
// is given (the bot token with itself, the client with GitLab's token endpoint), stores them encrypted
// and creates nothing on GitLab. Same lease, probe, events and failure handling as the bootstrap (stages.ts).
import { NO_PROBLEM } from '../instance-health.js';
import { instanceCallbackUrl } from '../../auth-paths.js';
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../../crypto/seal-purposes.js';
import type { Instance, InstanceChanges } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import type { GitlabTarget } from '../../gitlab/api.js';
import { gitlabDateToInstant } from '../../time.js';
import { credentialTargetOf, type RequestLog, type ServiceDeps } from '../deps.js';
import { oauthClientAccepted } from '../gitlab-oauth.js';
import { getInstance } from '../instances.service.js';
import { botTokenWarnAt } from '../manual-bot-token.js';
import type { BootstrappedInstance } from './bootstrap.service.js';
import { judgeBotToken } from './checks.js';
import { judgeIdentity } from './identity.js';
import { BootstrapRun, inStep } from './run.js';
import { claim, completeRun, judgeVersionAndToken, probeGitlab, recordVerified, runLeased } from './stages.js';

export interface OauthClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface ManualCredentials {
  botToken?: string | undefined;
  oauthApplication?: OauthClientCredentials | undefined;
}

export interface RegisterInput {
  url: string;
  botToken: string;
  oauthApplication: OauthClientCredentials;
  caCertificate?: string | undefined;
}

/** The client check's answer as a step outcome: oauth_client_invalid when GitLab refuses the id or secret. */
async function checkOauthClient(deps: ServiceDeps, run: BootstrapRun, target: GitlabTarget, credentials: OauthClientCredentials, openidIssuer: string | null): Promise<InstanceChanges> {
  const redirectUri = instanceCallbackUrl(deps.config.publicUrl, run.instance.url);
  const accepted = await inStep('oauth_application', () => oauthClientAccepted(deps, { url: target.url, caCertificate: target.caCertificate, openidIssuer }, credentials, redirectUri));
  if (!accepted) {
    const detail = `GitLab does not accept client id ${credentials.clientId.slice(0, 80)} with this secret: copy the Application ID and Secret of the instance-wide application (Admin area > Applications) again, or renew its secret`;
    await inStep('oauth_application', () => Promise.reject(new AppError('oauth_client_invalid', detail)));
  }
  await run.record('oauth_application', 'succeeded', `OAuth application ${credentials.clientId} given by the admin`);
  return {
    oauthApplicationId: null,
    oauthClientId: credentials.clientId,
    oauthClientSecretSealed: deps.sealer.seal(credentials.clientSecret, SEAL_OAUTH_CLIENT_SECRET),
    oauthScopes: deps.config.oauthScopes.join(' '),
    oauthRedirectUri: redirectUri,
  };
}

/**
 * Probes the instance and checks the credentials given; returns what to store. The version is read with
 * the new bot token; without one (only the application replaced), the stored version is kept.
 */
async function verifyCredentials(deps: ServiceDeps, run: BootstrapRun, target: GitlabTarget, given: ManualCredentials): Promise<InstanceChanges> {
  const { gitlab, sealer } = deps;
  const openidIssuer = await probeGitlab(run, gitlab, target);
  // One GitLab, one instance, as for the bootstrap: another URL of a registered GitLab becomes its
  // alias. Without an admin token nothing of ours can be seen there, so an issuer change is refused.
  await judgeIdentity(run, openidIssuer, { storedBot: { status: 'fulfilled', value: undefined }, applications: [] });
  const botToken = given.botToken;
  const [version, user, self] = await Promise.allSettled([
    botToken ? gitlab.version(target, botToken) : Promise.resolve({ version: run.instance.gitlabVersion ?? '', revision: '' }),
    botToken ? gitlab.currentUser(target, { privateToken: botToken }) : Promise.reject(new Error('no bot token given')),
    botToken ? gitlab.tokenSelf(target, botToken) : Promise.reject(new Error('no bot token given')),
  ]);
  let changes: InstanceChanges = {};
  const gitlabVersion = await judgeVersionAndToken(version, async () => {
    if (!botToken) return;
    const { bot, token } = await inStep('verify_token', () => judgeBotToken(run.startedAt, user, self));
    const expiresAt = token.expires_at ? gitlabDateToInstant(token.expires_at) : null;
    changes = {
      botUserId: String(bot.id),
      botUsername: bot.username,
      botTokenId: String(token.id),
      botTokenSealed: sealer.seal(botToken, SEAL_BOT_TOKEN),
      botTokenExpiresAt: expiresAt,
      botTokenIssuedAt: run.startedAt,
      // A rotation of the replaced token still in flight holds this lease: dropping it fences its write out.
      credentialLeaseHolder: null,
      credentialLeaseUntil: null,
    };
  });
  await recordVerified(run, { gitlabVersion, caCertificate: target.caCertificate, openidIssuer }, botToken ? 'bot token with the api scope, owned by a user who is not an administrator' : 'stored bot token kept');
  if (changes.botUsername) await run.record('bot_token', 'succeeded', `bot token of ${changes.botUsername} given by the admin`);
  const client = given.oauthApplication ? await checkOauthClient(deps, run, target, given.oauthApplication, openidIssuer) : {};
  const expiresAt = changes.botTokenExpiresAt === undefined ? run.instance.botTokenExpiresAt : changes.botTokenExpiresAt;
  return { ...changes, ...client, ...NO_PROBLEM, mode: 'manual', botTokenWarnAt: botTokenWarnAt('manual', gitlabVersion || null, expiresAt) };
}

function registeredInstance(deps: ServiceDeps, instance: Instance): BootstrappedInstance {
  return {
    instanceId: instance.id,
    url: instance.url,
    status: 'ready',
    gitlabVersion: instance.gitlabVersion ?? '',
    bot: { userId: Number(instance.botUserId), username: instance.botUsername ?? '' },
    oauthApplication: { id: null, clientId: instance.oauthClientId ?? '', scopes: deps.config.oauthScopes },
    mode: 'manual',
    repaired: [],
  };
}

function targetOf(deps: ServiceDeps, run: BootstrapRun, caCertificate: string | undefined, log: RequestLog): GitlabTarget {
  return credentialTargetOf(deps, { url: run.instance.url, caCertificate: caCertificate ?? run.instance.caCertificate }, log);
}

/**
 * Registers an instance with the admin's own bot token and OAuth application (manual onboarding). Throws
 * AppErrors: invalid_url, url_not_allowed, bootstrap_in_progress, instance_already_registered (a ready
 * instance: its credentials change only through PUT /internal/instances/:id/credentials or a bootstrap),
 * the probe codes, the bot_-prefixed token codes, bot_token_is_admin, oauth_client_invalid (each with its
 * `step`), the GitLab failure codes, and service_busy beyond BOOTSTRAP_MAX_CONCURRENT. Creates nothing on GitLab.
 */
export function registerInstance(deps: ServiceDeps, input: RegisterInput, actor: string, log: RequestLog): Promise<BootstrappedInstance> {
  // Counted with the bootstraps against BOOTSTRAP_MAX_CONCURRENT: 503 service_busy beyond it.
  return deps.bootstraps.run(() => runRegistration(deps, input, actor, log));
}

async function runRegistration(deps: ServiceDeps, input: RegisterInput, actor: string, log: RequestLog): Promise<BootstrappedInstance> {
  const run = await claim(deps, input, actor);
  if (run.wasReady) {
    await run.save({ bootstrapLeaseUntil: null, bootstrapLeaseHolder: null });
    throw new AppError('instance_already_registered', `${run.instance.url} is already registered; change its credentials with PUT /internal/instances/${run.instance.id}/credentials`, {
      instanceId: run.instance.id,
      canonicalUrl: run.instance.url,
    });
  }
  return runLeased(run, log, async () => {
    const changes = await verifyCredentials(deps, run, targetOf(deps, run, input.caCertificate, log), input);
    await completeRun(run, changes, 'registered with the credentials the admin gave');
    return registeredInstance(deps, run.instance);
  });
}

/**
 * Replaces the bot token and/or the OAuth client of a ready instance after the checks of register; the
 * instance is manual from then on. Throws instance_not_found, instance_not_ready, bootstrap_in_progress
 * and the codes of register.
 */
export async function replaceCredentials(deps: ServiceDeps, instanceId: string, given: ManualCredentials, actor: string, log: RequestLog): Promise<BootstrappedInstance> {
  const instance = await getInstance(deps, instanceId);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `Instance ${instanceId} is ${instance.status}: register or bootstrap it first`);
  const run = await claim(deps, { url: instance.url }, actor);
  return runLeased(run, log, async () => {
    const changes = await verifyCredentials(deps, run, targetOf(deps, run, undefined, log), given);
    await completeRun(run, changes, `credentials replaced: ${[given.botToken && 'bot token', given.oauthApplication && 'OAuth application'].filter(Boolean).join(', ')}`);
    return registeredInstance(deps, run.instance);
  });
}
