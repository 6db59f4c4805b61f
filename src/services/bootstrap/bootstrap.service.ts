// POST /instances/bootstrap: sets an instance up on GitLab with an admin token used for this call only.
// Idempotent and resumable (each step reuses what exists), one at a time per instance (a lease in the
// database), and every step recorded as an instance event. Four stages: claim, probe and verify,
// ensure resources, finish (or fail).
import { randomUUID } from 'node:crypto';
import { claimInstanceForBootstrap } from '../../db/instances.repo.js';
import type { Instance } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import type { GitlabApplication, GitlabPersonalAccessToken, GitlabUser } from '../../gitlab/api.js';
import { assertPemCertificate } from '../../gitlab/http.js';
import type { RequestLog, ServiceDeps } from '../deps.js';
import { normalizeInstanceUrl } from '../instance-url.js';
import { judgeAdminToken, judgeProbe, judgeVersion, type Outcome } from './checks.js';
import { ensureBotUser, verifyBotCanUseApi } from './bot-account.js';
import { AlreadyRegistered, judgeIdentity, refuseKnownAlias } from './identity.js';
import { ensureBotToken, ensureOauthApplication, type GitlabSession } from './resources.js';
import { SEAL_BOT_TOKEN } from '../../crypto/seal-purposes.js';
import { BootstrapRun, inStep, LeaseLost, StepFailure, type RepairableStep } from './run.js';
import { withSuggestedUrl } from './suggest.js';

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
  oauthApplication: { id: number; clientId: string; scopes: string[] };
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
  /** The stored bot token as GitLab describes it; undefined when none is stored or it could not be read. */
  storedToken: GitlabPersonalAccessToken | undefined;
}

const takenOver = (url: string) => new AppError('bootstrap_in_progress', `Another bootstrap of ${url} took over after this one ran out of time`);

/** Stage 1: the URL and certificate checked, the instance claimed under a lease (or bootstrap_in_progress). */
async function claim(deps: ServiceDeps, input: BootstrapInput, actor: string): Promise<BootstrapRun> {
  const url = normalizeInstanceUrl(input.url);
  await refuseKnownAlias(deps, url);
  await deps.gitlabHttp.assertUrlResolvesAllowed(url);
  if (input.caCertificate !== undefined) assertPemCertificate(input.caCertificate);
  const now = deps.clock();
  // Short, and renewed by the run's heartbeat: a process that dies mid-way frees the instance within LEASE_MS.
  const leaseHolder = randomUUID();
  const claimed = await claimInstanceForBootstrap(deps.db, url, { holder: leaseHolder, now, until: new Date(now.getTime() + deps.config.leaseMs) });
  if (!claimed) throw new AppError('bootstrap_in_progress', `A bootstrap of ${url} is already running; look the instance up again shortly`);
  return new BootstrapRun(deps, claimed, { actor, leaseHolder, now });
}

/** Stage 2: is it GitLab, of a supported version, and can the admin token set it up. One round trip for every read the later stages need. */
async function probeAndVerify(run: BootstrapRun, session: GitlabSession): Promise<Verified> {
  const { api, target, adminToken, config, now } = session;
  // A ready instance's audit trail gets nothing before the caller has proven to administer it.
  const recordUrl = () => run.record('url', 'succeeded', target.url);
  if (!run.wasReady) await recordUrl();
  await run.enter('probe');
  const [openid, anonymousVersion] = await Promise.allSettled([api.openidConfiguration(target), api.anonymousVersion(target)]);
  await inStep('probe', async () => {
    try {
      judgeProbe(target.url, openid, anonymousVersion);
    } catch (error) {
      throw await withSuggestedUrl(api, target, error);
    }
  });

  const { botTokenId, botUserId } = run.instance;
  await run.enter('verify_token');
  const [version, user, self, applications, namedBots, storedToken, storedBot] = await Promise.allSettled([
    api.version(target, adminToken),
    api.currentUser(target, { privateToken: adminToken }),
    api.tokenSelf(target, adminToken),
    api.applications(target, adminToken),
    api.usersNamed(target, adminToken, config.botUsername),
    botTokenId ? api.personalAccessToken(target, adminToken, botTokenId).catch(() => undefined) : undefined,
    botUserId ? api.user(target, adminToken, botUserId) : undefined,
  ]);
  if (version.status === 'fulfilled') await inStep('probe', () => judgeVersion(version.value.version));
  await inStep('verify_token', () => judgeAdminToken(now, user, self, applications));
  if (version.status === 'rejected') throw new StepFailure('probe', version.reason);
  const gitlabVersion = version.value.version;
  const openidIssuer = openid.status === 'fulfilled' && typeof openid.value.issuer === 'string' ? openid.value.issuer : null;
  const own = { storedBot, applications: applications.status === 'fulfilled' ? applications.value : [] };
  const issuerChange = await judgeIdentity(run, openidIssuer, own).catch((error: unknown) => {
    throw error instanceof AlreadyRegistered ? error : new StepFailure('probe', error);
  });
  await run.save({ gitlabVersion, caCertificate: target.caCertificate, openidIssuer });
  if (run.wasReady) await recordUrl();
  await run.record('probe', 'succeeded', issuerChange ? `GitLab ${gitlabVersion}; ${issuerChange}` : `GitLab ${gitlabVersion}`);
  await run.record('verify_token', 'succeeded', 'administrator token with the api scope');
  return {
    gitlabVersion,
    namedBots,
    storedBot,
    applications: own.applications,
    storedToken: storedToken.status === 'fulfilled' ? storedToken.value : undefined,
  };
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
  const bot = await inStep('bot_user', () => ensureBotUser(session, run.instance, { stored: verified.storedBot, named: namedBots.value }));
  await run.save({ botUserId: String(bot.value.id), botUsername: bot.value.username });
  await run.note('bot_user', bot, `bot user ${bot.value.username}`);

  // The bot token and the OAuth application are made together: lookup shows the first of the two.
  await run.enter('bot_token');
  const [botToken, application] = await Promise.allSettled([
    inStep('bot_token', () => ensureBotToken(session, run.instance, bot, verified.storedToken)),
    inStep('oauth_application', () => ensureOauthApplication(session, run.instance, verified.applications)),
  ]);
  if (botToken.status === 'fulfilled') {
    const { id, sealed, expiresAt } = botToken.value.value;
    if (botToken.value.outcome !== 'kept') await run.save({ botTokenId: String(id), botTokenSealed: sealed, botTokenExpiresAt: expiresAt, botTokenIssuedAt: session.now });
    await run.note('bot_token', botToken.value, 'bot token');
  }
  if (application.status === 'fulfilled') {
    const { id, clientId, secretSealed, scopes, redirectUri } = application.value.value;
    if (application.value.outcome !== 'kept') {
      await run.save({ oauthApplicationId: String(id), oauthClientId: clientId, oauthClientSecretSealed: secretSealed, oauthScopes: scopes, oauthRedirectUri: redirectUri });
    }
    await run.note('oauth_application', application.value, `OAuth application ${clientId}`);
  }
  for (const outcome of [botToken, application]) if (outcome.status === 'rejected') throw outcome.reason;
  const botTokenSealed = run.instance.botTokenSealed!;
  await inStep('bot_user', () => verifyBotCanUseApi(session, bot.value, session.sealer.open(botTokenSealed, SEAL_BOT_TOKEN)));
  return bot.value;
}

/** Stage 4: the lease released, the instance ready. */
async function finish(run: BootstrapRun, verified: Verified, bot: GitlabUser): Promise<BootstrappedInstance> {
  await run.save({ status: 'ready', bootstrapLeaseUntil: null, bootstrapLeaseHolder: null, bootstrapStep: null, lastErrorStep: null, lastErrorCode: null, lastErrorDetail: null });
  const repaired = run.wasReady ? run.repaired : [];
  await run.record('ready', 'succeeded', run.repaired.length ? `repaired: ${run.repaired.join(', ')}` : null);
  const instance: Instance = run.instance;
  return {
    instanceId: instance.id,
    url: instance.url,
    status: 'ready',
    gitlabVersion: verified.gitlabVersion,
    bot: { userId: bot.id, username: bot.username },
    oauthApplication: { id: Number(instance.oauthApplicationId), clientId: instance.oauthClientId!, scopes: run.deps.config.oauthScopes },
    repaired,
  };
}

/**
 * Sets up (or re-checks and repairs) the instance at `input.url`. `created` is true on a first set-up.
 * Throws AppErrors: invalid_url, url_not_allowed, bootstrap_in_progress, the probe and token codes
 * (with the failed `step` in extras), the GitLab failure codes, and gitlab_rate_limited (retryAfter) when
 * BOOTSTRAP_MAX_CONCURRENT bootstraps already run in this process. The admin token is never stored.
 */
export function bootstrapInstance(deps: ServiceDeps, input: BootstrapInput, actor: string, log: RequestLog): Promise<{ created: boolean; instance: BootstrappedInstance }> {
  // Beyond BOOTSTRAP_MAX_CONCURRENT in this process: 503 gitlab_rate_limited, nothing claimed or sent.
  return deps.bootstraps.run(() => runBootstrap(deps, input, actor, log));
}

/** The bootstrap itself, once it has a slot: the four stages, and the failure recorded. */
async function runBootstrap(deps: ServiceDeps, input: BootstrapInput, actor: string, log: RequestLog): Promise<{ created: boolean; instance: BootstrappedInstance }> {
  const run = await claim(deps, input, actor);
  const target = { url: run.instance.url, caCertificate: input.caCertificate ?? run.instance.caCertificate, log, credentialTimeoutMs: deps.config.gitlabCredentialTimeoutMs };
  const session: GitlabSession = { api: deps.gitlab, target, adminToken: input.adminToken, config: deps.config, sealer: deps.sealer, now: run.startedAt };
  const stopHeartbeat = run.startHeartbeat();
  try {
    const verified = await probeAndVerify(run, session);
    const bot = await ensureResources(run, session, verified);
    return { created: !run.wasReady, instance: await finish(run, verified, bot) };
  } catch (error) {
    if (error instanceof AlreadyRegistered) throw error.answer;
    if (error instanceof LeaseLost) throw takenOver(run.instance.url);
    // Not GitLab's doing (the database, a bug): recorded once the database answers again.
    if (!(error instanceof StepFailure)) {
      run.recordWhenPossible(error);
      throw error;
    }
    throw await run.fail(error, log).catch((saveError: unknown) => {
      if (saveError instanceof LeaseLost) throw takenOver(run.instance.url);
      run.recordWhenPossible(saveError);
      throw saveError;
    });
  } finally {
    stopHeartbeat();
  }
}
