// POST /instances/bootstrap: sets an instance up on GitLab with an admin token used for this call only.
// Idempotent and resumable (each step reuses what exists), one at a time per instance (a lease in the
// database), and every step recorded as an instance event.
import type { Kysely } from 'kysely';
import type { Config } from '../../config.js';
import type { Sealer } from '../../crypto/sealer.js';
import { claimInstanceForBootstrap, insertInstanceEvent, updateLeasedInstance } from '../../db/instances.repo.js';
import type { DB, EventOutcome, Instance, InstanceUpdate } from '../../db/types.js';
import { AppError } from '../../errors.js';
import type { GitlabApi } from '../../gitlab/api.js';
import { assertPemCertificate, toAppError, type GitlabHttp, type GitlabLog } from '../../gitlab/http.js';
import type { BootstrapResultBody } from '../../schemas/instances.js';
import { normalizeInstanceUrl } from '../instance-url.js';
import { loginUrlOf } from '../instances.service.js';
import { judgeAdminToken, judgeProbe, judgeVersion } from './checks.js';
import { ensureBotToken, ensureBotUser, ensureOauthApplication, type Ensured, type GitlabSession } from './resources.js';

export type BootstrapStep = 'url' | 'probe' | 'verify_token' | 'bot_user' | 'bot_token' | 'oauth_application' | 'ready';

/** At most this many sequential GitLab round trips (see the bench): the lease outlasts them all at their timeout. */
const MAX_SEQUENTIAL_CALLS = 8;

/** A process that dies mid-way frees the instance when its lease runs out. */
function leaseMs(timeoutMs: number): number {
  return Math.max(5 * 60_000, MAX_SEQUENTIAL_CALLS * timeoutMs);
}

export interface BootstrapDeps {
  db: Kysely<DB>;
  config: Config;
  sealer: Sealer;
  gitlab: GitlabApi;
  gitlabHttp: GitlabHttp;
  clock: () => Date;
  log: GitlabLog;
}

export interface BootstrapInput {
  url: string;
  adminToken: string;
  caCertificate?: string | undefined;
}

/** Our lease ran out and another bootstrap took the instance over: stop writing. */
class LeaseLost extends Error {}

const takenOver = (url: string) => new AppError('bootstrap_in_progress', `Another bootstrap of ${url} took over after this one ran out of time`);

class StepFailure extends Error {
  constructor(
    readonly step: BootstrapStep,
    readonly error: AppError,
  ) {
    super(error.message);
  }
}

async function inStep<T>(step: BootstrapStep, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new StepFailure(step, toAppError(error));
  }
}

const eventOutcome = { created: 'succeeded', kept: 'skipped', repaired: 'repaired' } as const satisfies Record<Ensured<unknown>['outcome'], EventOutcome>;

export async function bootstrapInstance(deps: BootstrapDeps, input: BootstrapInput, actor: string) {
  const { db, config, sealer, gitlab: api, clock, log } = deps;
  const url = normalizeInstanceUrl(input.url);
  await deps.gitlabHttp.assertUrlResolvesAllowed(url);
  if (input.caCertificate !== undefined) assertPemCertificate(input.caCertificate);
  const now = clock();
  const leaseUntil = new Date(now.getTime() + leaseMs(config.gitlabTimeoutMs));
  const claimed = await claimInstanceForBootstrap(db, url, now, leaseUntil);
  if (!claimed) throw new AppError('bootstrap_in_progress', `A bootstrap of ${url} is already running; look the instance up again shortly`);

  const wasReady = claimed.status === 'ready';
  let instance: Instance = claimed;
  const caCertificate = input.caCertificate ?? claimed.ca_certificate;
  const session: GitlabSession = { api, target: { url, caCertificate, log }, adminToken: input.adminToken, config, sealer, now };
  const { target, adminToken } = session;
  const record = (step: BootstrapStep, outcome: EventOutcome, detail: string | null, errorCode: string | null = null) =>
    insertInstanceEvent(db, { instance_id: instance.id, step, outcome, actor, detail, error_code: errorCode });
  // Every write is fenced by our lease, so a bootstrap that outlived it cannot overwrite its successor.
  const save = async (changes: InstanceUpdate) => {
    const updated = await updateLeasedInstance(db, instance.id, leaseUntil, { ...changes, updated_at: clock() });
    if (!updated) throw new LeaseLost();
    instance = updated;
  };
  const repaired: BootstrapResultBody['repaired'] = [];
  const note = async (step: BootstrapResultBody['repaired'][number], ensured: Ensured<unknown>, what: string) => {
    if (ensured.outcome === 'repaired') repaired.push(step);
    await record(step, eventOutcome[ensured.outcome], `${what} ${ensured.outcome}`);
  };

  try {
    await record('url', 'succeeded', url);
    const [openid, anonymousVersion] = await Promise.allSettled([api.openidConfiguration(target), api.anonymousVersion(target)]);
    await inStep('probe', () => judgeProbe(url, openid, anonymousVersion));

    // One round trip for every read the later steps need.
    const [version, user, self, applications, namedBots, storedToken] = await Promise.allSettled([
      api.version(target, adminToken),
      api.currentUser(target, { privateToken: adminToken }),
      api.tokenSelf(target, adminToken),
      api.applications(target, adminToken),
      api.usersNamed(target, adminToken, config.botUsername),
      instance.bot_token_id ? api.personalAccessToken(target, adminToken, instance.bot_token_id) : Promise.reject(new Error('no stored token')),
    ]);
    if (version.status === 'fulfilled') await inStep('probe', () => judgeVersion(version.value.version));
    await inStep('verify_token', () => judgeAdminToken(now, user, self, applications));
    const gitlabVersion = await inStep('probe', () => (version.status === 'fulfilled' ? version.value.version : Promise.reject(version.reason)));
    const openidIssuer = openid.status === 'fulfilled' && typeof openid.value.issuer === 'string' ? openid.value.issuer : null;
    await save({ gitlab_version: gitlabVersion, ca_certificate: caCertificate, openid_issuer: openidIssuer });
    await record('probe', 'succeeded', `GitLab ${gitlabVersion}`);
    await record('verify_token', 'succeeded', 'administrator token with the api scope');

    const bot = await inStep('bot_user', () => (namedBots.status === 'fulfilled' ? ensureBotUser(session, instance, namedBots.value) : Promise.reject(namedBots.reason)));
    await save({ bot_user_id: bot.value.id, bot_username: bot.value.username });
    await note('bot_user', bot, `bot user ${bot.value.username}`);

    // The token and the application do not depend on each other: one round trip for both, and
    // whichever succeeded is kept even when the other failed, so a retry resumes.
    const [botToken, application] = await Promise.allSettled([
      inStep('bot_token', () => ensureBotToken(session, instance, bot, storedToken.status === 'fulfilled' ? storedToken : undefined)),
      inStep('oauth_application', () => ensureOauthApplication(session, instance, applications.status === 'fulfilled' ? applications.value : [])),
    ]);
    // What was kept is not written back: a bot token rotation may have replaced it since our read.
    if (botToken.status === 'fulfilled') {
      const { id, sealed, expiresAt } = botToken.value.value;
      if (botToken.value.outcome !== 'kept') await save({ bot_token_id: id, bot_token_sealed: sealed, bot_token_expires_at: expiresAt, bot_token_issued_at: now });
      await note('bot_token', botToken.value, 'bot token');
    }
    if (application.status === 'fulfilled') {
      const { id, clientId, secretSealed, scopes } = application.value.value;
      if (application.value.outcome !== 'kept') {
        await save({ oauth_application_id: id, oauth_client_id: clientId, oauth_client_secret_sealed: secretSealed, oauth_scopes: scopes, oauth_redirect_uri: config.callbackUrl });
      }
      await note('oauth_application', application.value, `OAuth application ${clientId}`);
    }
    for (const outcome of [botToken, application]) if (outcome.status === 'rejected') throw outcome.reason;

    await save({ status: 'ready', bootstrap_lease_until: null, last_error_step: null, last_error_code: null, last_error_detail: null });
    await record('ready', 'succeeded', repaired.length ? `repaired: ${repaired.join(', ')}` : null);
    return {
      created: !wasReady,
      result: {
        instanceId: instance.id,
        url,
        status: 'ready' as const,
        gitlabVersion,
        bot: { userId: bot.value.id, username: bot.value.username },
        oauthApplication: { id: Number(instance.oauth_application_id), clientId: instance.oauth_client_id!, scopes: config.oauthScopes },
        loginUrl: loginUrlOf(config, instance.id),
        // What a re-check of a ready instance re-created; a first set-up repairs nothing.
        repaired: wasReady ? repaired : [],
      },
    };
  } catch (error) {
    if (error instanceof LeaseLost) throw takenOver(url);
    // Not GitLab's doing (the database, a bug): no step to blame; the lease runs out by itself.
    if (!(error instanceof StepFailure)) throw error;
    // The address rule belongs to the url step, though it is judged when the probe connects.
    const failure = error.error.code === 'url_not_allowed' ? new StepFailure('url', error.error) : error;
    // A ready instance stays ready: what it has on GitLab may well still work, and logins go on.
    try {
      await save({ status: wasReady ? 'ready' : 'failed', bootstrap_lease_until: null, last_error_step: failure.step, last_error_code: failure.error.code, last_error_detail: failure.error.message });
    } catch (saveError) {
      if (saveError instanceof LeaseLost) throw takenOver(url);
      throw saveError;
    }
    await record(failure.step, 'failed', failure.error.message, failure.error.code);
    const answer = new AppError(failure.error.code, failure.error.message, { ...failure.error.extras, step: failure.step });
    answer.cause = failure.error.cause;
    throw answer;
  }
}
