// POST /instances/bootstrap: sets an instance up on GitLab with an admin token used for this call only.
// Idempotent and resumable (each step reuses what exists), one at a time per instance (a lease in the
// database), and every step recorded as an instance event. Four stages: claim, probe and verify,
// ensure resources, finish (or fail).
import { NO_PROBLEM } from '../instance-health.js';
import { markInstanceUsersReauthorizationRequired } from '../../db/users.repo.js';
import type { Instance } from '../../domain/types.js';
import { AppError, present } from '../../errors.js';
import type { GitlabApplication, GitlabUser } from '../../gitlab/api.js';
import { credentialTargetOf, type RequestLog, type ServiceDeps } from '../deps.js';
import { judgeAdminToken, type Outcome } from './checks.js';
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../../crypto/seal-purposes.js';
import { oauthClientAccepted, registeredRedirectUri } from '../gitlab-oauth.js';
import { ensureBotUser, verifyBotCanUseApi } from './bot-account.js';
import { judgeIdentity } from './identity.js';
import { ensureBotTokens, ensureOauthApplication, type ApplicationFacts, type Ensured, type GitlabSession } from './resources.js';
import { BootstrapRun, inStep, StepFailure, type RepairableStep } from './run.js';
import { claim, completeRun, judgeVersionAndToken, probeGitlab, recordVerified, runLeased } from './stages.js';

export type { BootstrapStep } from './run.js';
export { InvalidCaCertificateError } from '../../gitlab/http.js';

export interface BootstrapInput {
  url: string;
  adminToken: string;
  caCertificate?: string | undefined;
}

/** A ready instance, as the bootstrap leaves it. */
export interface BootstrappedInstance {
  instanceId: string;
  url: string;
  status: 'ready';
  gitlabVersion: string;
  bot: { userId: number; username: string };
  /** `id` is null on a manual instance: the admin gave only the client id. */
  oauthApplication: { id: number | null; clientId: string; scopes: string[] };
  /** automated: set up with an admin token; manual: registered with the admin's own bot and application. */
  mode: 'automated' | 'manual';
  /** What a re-check of a ready instance re-created; a first set-up repairs nothing. */
  repaired: RepairableStep[];
}

/** What the probe and the admin token checks learnt, and the reads the later stages need. */
interface Verified {
  gitlabVersion: string;
  namedBots: Outcome<GitlabUser[]>;
  /** The stored bot as GitLab has it (GET /users/:id); fulfilled with undefined when none is stored. */
  storedBot: Outcome<GitlabUser | undefined>;
  applications: GitlabApplication[];
  /** Did GitLab's token endpoint accept the stored client secret; undefined when none of ours is stored. */
  clientAccepted: Outcome<boolean | undefined>;
}

/**
 * The stored OAuth client tried at GitLab's token endpoint (oauthClientAccepted: a code never issued):
 * the only way to see a secret an admin renewed. Undefined when this service stores no application
 * of its own (a first set-up; a manual instance, whose application is the admin's).
 */
async function storedClientAccepted(run: BootstrapRun, target: GitlabSession['target']): Promise<boolean | undefined> {
  const { instance, deps } = run;
  if (instance.mode !== 'automated' || !instance.oauthApplicationId || !instance.oauthClientId || !instance.oauthClientSecretSealed) return undefined;
  const clientSecret = deps.sealer.open(instance.oauthClientSecretSealed, SEAL_OAUTH_CLIENT_SECRET);
  const server = { url: instance.url, openidIssuer: instance.openidIssuer, caCertificate: target.caCertificate };
  return oauthClientAccepted(deps, server, { clientId: instance.oauthClientId, clientSecret }, registeredRedirectUri(deps.config, instance));
}

/**
 * The stored bot as GitLab has it (fulfilled with undefined when none is stored): found among the
 * holders of BOT_USERNAME without a call; else (renamed, or deleted) read by id, one more round trip.
 */
async function readStoredBot(session: GitlabSession, botUserId: string | null, named: Outcome<GitlabUser[]>): Promise<Outcome<GitlabUser | undefined>> {
  if (!botUserId) return { status: 'fulfilled', value: undefined };
  const holder = named.status === 'fulfilled' ? named.value.find((user) => String(user.id) === botUserId) : undefined;
  if (holder) return { status: 'fulfilled', value: holder };
  const [read] = await Promise.allSettled([session.api.user(session.target, session.adminToken, botUserId)]);
  return read;
}

/**
 * Stage 2: is it GitLab, of a supported version, and can the admin token set it up. One round trip for
 * every read the later stages need, at most six calls (GITLAB_MAX_CONCURRENT_PER_INSTANCE's default, so
 * none waits for a turn): the stored bot is read by id only when it no longer holds BOT_USERNAME, and
 * the settings (the maximum token lifetime) only at a first set-up; a re-check uses the stored lifetime
 * (a lowered one is named by GitLab's refusal, resources.ts createToken).
 */
async function probeAndVerify(run: BootstrapRun, session: GitlabSession): Promise<Verified> {
  const { api, target, adminToken, config, now } = session;
  const openidIssuer = await probeGitlab(run, api, target);
  // A manual instance's bot is the admin's, not ours: not read, so the admin's user never becomes the bot.
  const botUserId = run.instance.mode === 'automated' ? run.instance.botUserId : null;
  await run.enter('verify_token');
  const [version, user, self, applications, namedBots, clientAccepted, settings] = await Promise.allSettled([
    api.version(target, adminToken),
    api.currentUser(target, { privateToken: adminToken }),
    api.tokenSelf(target, adminToken),
    api.applications(target, adminToken),
    api.usersNamed(target, adminToken, config.botUsername),
    storedClientAccepted(run, target),
    run.wasReady ? undefined : api.applicationSettings(target, adminToken),
  ]);
  const gitlabVersion = await judgeVersionAndToken(version, () => inStep('verify_token', () => { judgeAdminToken(now, user, self, applications); }));
  const storedBot = await readStoredBot(session, botUserId, namedBots);
  const own = { storedBot, applications: applications.status === 'fulfilled' ? applications.value : [] };
  const issuerChange = await judgeIdentity(run, openidIssuer, own);
  // The maximum token lifetime, when the admin may read the settings; else GitLab's refusal names it (resources.ts createToken).
  session.lifetimeDays = run.wasReady ? run.instance.botTokenLifetimeDays : settings.status === 'fulfilled' ? (settings.value?.max_personal_access_token_lifetime ?? null) : null;
  await recordVerified(run, { gitlabVersion, caCertificate: target.caCertificate, openidIssuer, botTokenLifetimeDays: session.lifetimeDays }, 'administrator token with the api scope', issuerChange);
  return {
    gitlabVersion,
    namedBots,
    storedBot,
    applications: own.applications,
    clientAccepted,
  };
}

/** What ensureOauthApplication needs from the reads; a client check that failed (not a refusal) fails the step. */
function applicationFacts(verified: Verified): ApplicationFacts {
  const { clientAccepted } = verified;
  if (clientAccepted.status === 'rejected') throw clientAccepted.reason;
  return { applications: verified.applications, clientAccepted: clientAccepted.value, gitlabVersion: verified.gitlabVersion };
}

/**
 * A manual instance taken over by an admin-token bootstrap: the bot, token and application the admin made
 * are not ours (probeAndVerify reads none of them, the application's id is not stored), so they are
 * neither kept nor deleted; ours are created, and for the caller they are repairs.
 */
function asTakeover<T>(run: BootstrapRun, ensured: Ensured<T>): Ensured<T> {
  return run.instance.mode === 'manual' && ensured.outcome === 'created' ? { ...ensured, outcome: 'repaired' } : ensured;
}

/**
 * Stage 3: the bot user, then its token and the OAuth application. The last two do not depend on each
 * other: one round trip for both, and whichever succeeded is kept even when the other failed, so a
 * retry resumes. What was kept is not written back: a bot token rotation may have replaced it since.
 */
async function ensureResources(run: BootstrapRun, session: GitlabSession, verified: Verified): Promise<GitlabUser> {
  const { namedBots } = verified;
  if (namedBots.status === 'rejected') throw new StepFailure('bot_user', namedBots.reason);
  await run.enter('bot_user');
  const bot = await inStep('bot_user', async () => asTakeover(run, await ensureBotUser(session, run.instance, { stored: verified.storedBot, named: namedBots.value })));
  await run.save({ botUserId: String(bot.value.id), botUsername: bot.value.username });
  await run.note('bot_user', bot, `bot user ${bot.value.username}`);

  // The stored served token is tried as the bot meanwhile: when it stays served, no round trip is added for it.
  const early = earlyBotCheck(run, session, bot);
  // The bot token and the OAuth application are made together: lookup shows the first of the two.
  await run.enter('bot_token');
  const [botToken, application] = await Promise.allSettled([
    inStep('bot_token', async () => asTakeover(run, await ensureBotTokens(session, run.instance, bot))),
    inStep('oauth_application', async () => asTakeover(run, await ensureOauthApplication(session, run.instance, applicationFacts(verified)))),
  ]);
  if (botToken.status === 'fulfilled') {
    const { served, standby } = botToken.value.value;
    if (botToken.value.outcome !== 'kept') {
      await run.save({
        ...{ botTokenId: String(served.id), botTokenSealed: served.sealed, botTokenExpiresAt: served.expiresAt, botTokenIssuedAt: served.issuedAt },
        ...{ botStandbyTokenId: String(standby.id), botStandbyTokenSealed: standby.sealed, botStandbyTokenExpiresAt: standby.expiresAt, botStandbyTokenIssuedAt: standby.issuedAt },
      });
    }
    await run.note('bot_token', botToken.value, 'bot tokens (served and standby)');
  }
  if (application.status === 'fulfilled') {
    const { id, clientId, secretSealed, scopes, redirectUri } = application.value.value;
    if (application.value.outcome !== 'kept') {
      // A new application (not a renewed secret): GitLab deleted the old one with every user token it issued.
      const replaced = run.instance.oauthApplicationId !== null && run.instance.oauthApplicationId !== String(id);
      await run.save({ oauthApplicationId: String(id), oauthClientId: clientId, oauthClientSecretSealed: secretSealed, oauthScopes: scopes, oauthRedirectUri: redirectUri });
      if (replaced) await markInstanceUsersReauthorizationRequired(run.deps.db, run.instance.id, run.deps.clock());
    }
    await run.note('oauth_application', application.value, `OAuth application ${clientId}`);
  }
  for (const outcome of [botToken, application]) if (outcome.status === 'rejected') throw outcome.reason;
  await inStep('bot_user', () => verifyServedBotToken(run, session, bot.value, early));
  return bot.value;
}

/** What the bot check with the stored served token found, and which token it was. */
interface EarlyBotCheck {
  tokenId: string;
  outcome: Outcome<void>;
}

/**
 * On a re-check (the bot and its tokens exist), one call as the bot with the stored served token
 * (verifyBotCanUseApi), started alongside the token and application round; undefined otherwise.
 */
function earlyBotCheck(run: BootstrapRun, session: GitlabSession, bot: Ensured<GitlabUser>): Promise<EarlyBotCheck> | undefined {
  const { botTokenId, botTokenSealed } = run.instance;
  if (bot.outcome === 'created' || !botTokenId || !botTokenSealed) return undefined;
  const token = session.sealer.open(botTokenSealed, SEAL_BOT_TOKEN);
  return verifyBotCanUseApi(session, bot.value, token).then(
    () => ({ tokenId: botTokenId, outcome: { status: 'fulfilled', value: undefined } }),
    (reason: unknown) => ({ tokenId: botTokenId, outcome: { status: 'rejected', reason } }),
  );
}

/**
 * The bot can use the API with the token now served (one call as the bot, the only way to see enforced
 * terms of service): the early check's answer when that token is still the one served, else one call
 * with the new token. A refusal of the bot account (terms) holds whatever the token. Throws
 * bot_account_unusable or the GitLab failure.
 */
async function verifyServedBotToken(run: BootstrapRun, session: GitlabSession, bot: GitlabUser, early: Promise<EarlyBotCheck> | undefined): Promise<void> {
  const checked = await early;
  if (checked?.outcome.status === 'rejected' && checked.outcome.reason instanceof AppError && checked.outcome.reason.code === 'bot_account_unusable') throw checked.outcome.reason;
  if (checked?.outcome.status === 'fulfilled' && checked.tokenId === run.instance.botTokenId) return;
  const botTokenSealed = present(run.instance.botTokenSealed, 'the sealed bot token');
  await verifyBotCanUseApi(session, bot, session.sealer.open(botTokenSealed, SEAL_BOT_TOKEN));
}

/** Stage 4: the lease released, the instance ready. */
async function finish(run: BootstrapRun, verified: Verified, bot: GitlabUser): Promise<BootstrappedInstance> {
  // Both credentials were just verified live: the internal routes need not verify them for an interval.
  const verifiedAt = run.deps.clock();
  await completeRun(run, { mode: 'automated', botTokenWarnAt: null, ...NO_PROBLEM, botTokenVerifiedAt: verifiedAt, oauthClientVerifiedAt: verifiedAt }, run.repaired.length ? `repaired: ${run.repaired.join(', ')}` : null);
  const repaired = run.wasReady ? run.repaired : [];
  const instance: Instance = run.instance;
  return {
    instanceId: instance.id,
    url: instance.url,
    status: 'ready',
    gitlabVersion: verified.gitlabVersion,
    bot: { userId: bot.id, username: bot.username },
    oauthApplication: { id: Number(instance.oauthApplicationId), clientId: present(instance.oauthClientId, 'the OAuth client id'), scopes: run.deps.config.oauthScopes },
    repaired,
    mode: 'automated',
  };
}

/**
 * Sets up (or re-checks and repairs) the instance at `input.url`. `created` is true on a first set-up.
 * Throws AppErrors: invalid_url, url_not_allowed, bootstrap_in_progress, the probe and token codes
 * (with the failed `step` in extras), the GitLab failure codes, and service_busy (retryAfter) when
 * BOOTSTRAP_MAX_CONCURRENT bootstraps already run in this process. The admin token is never stored.
 */
export function bootstrapInstance(deps: ServiceDeps, input: BootstrapInput, actor: string, log: RequestLog): Promise<{ created: boolean; instance: BootstrappedInstance }> {
  // Beyond BOOTSTRAP_MAX_CONCURRENT in this process: 503 service_busy, nothing claimed or sent.
  return deps.bootstraps.run(() => runBootstrap(deps, input, actor, log));
}

/** The bootstrap itself, once it has a slot: the four stages, and the failure recorded. */
async function runBootstrap(deps: ServiceDeps, input: BootstrapInput, actor: string, log: RequestLog): Promise<{ created: boolean; instance: BootstrappedInstance }> {
  const run = await claim(deps, input, actor);
  const target = credentialTargetOf(deps, { url: run.instance.url, caCertificate: input.caCertificate ?? run.instance.caCertificate }, log);
  const session: GitlabSession = { api: deps.gitlab, target, adminToken: input.adminToken, config: deps.config, sealer: deps.sealer, now: run.startedAt, lifetimeDays: null };
  return runLeased(run, log, async () => {
    const verified = await probeAndVerify(run, session);
    const bot = await ensureResources(run, session, verified);
    return { created: !run.wasReady, instance: await finish(run, verified, bot) };
  });
}
