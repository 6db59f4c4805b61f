// The stages the admin-token bootstrap and the manual registration share: the URL checked and the
// instance claimed under a lease, the GitLab probe, the verified facts saved with their events, and
// how a run that stopped is answered (lease lost, a step failed, the database went away).
import { randomUUID } from 'node:crypto';
import { claimInstanceForBootstrap } from '../../db/instances.repo.js';
import type { InstanceChanges } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import type { GitlabApi, GitlabTarget, GitlabVersion } from '../../gitlab/api.js';
import { assertPemCertificate } from '../../gitlab/http.js';
import type { RequestLog, ServiceDeps } from '../deps.js';
import { normalizeInstanceUrl } from '../instance-url.js';
import { judgeProbe, judgeVersion, type Outcome } from './checks.js';
import { AlreadyRegistered, refuseKnownAlias } from './identity.js';
import { withSuggestedUrl } from './suggest.js';
import { BootstrapRun, inStep, LeaseLost, StepFailure } from './run.js';

const takenOver = (url: string) => new AppError('bootstrap_in_progress', `Another bootstrap of ${url} took over after this one ran out of time`);

/** Stage 1: the URL and certificate checked, the instance claimed under a lease (or bootstrap_in_progress). */
export async function claim(deps: ServiceDeps, input: { url: string; caCertificate?: string | undefined }, actor: string): Promise<BootstrapRun> {
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

/**
 * Stage 2a: is it GitLab (fingerprints that need no credentials). Records the url step first, except
 * on a ready instance, whose trail gets nothing before the caller has proven its credentials.
 * Returns GitLab's OpenID issuer (external_url) when it told it.
 */
export async function probeGitlab(run: BootstrapRun, api: GitlabApi, target: GitlabTarget): Promise<string | null> {
  if (!run.wasReady) await run.record('url', 'succeeded', target.url);
  await run.enter('probe');
  const [openid, anonymousVersion] = await Promise.allSettled([api.openidConfiguration(target), api.anonymousVersion(target)]);
  await inStep('probe', async () => {
    try {
      judgeProbe(target.url, openid, anonymousVersion);
    } catch (error) {
      throw await withSuggestedUrl(api, target, error);
    }
  });
  // Unvalidated until here: the OpenID configuration is GitLab's to fill.
  const issuer: unknown = openid.status === 'fulfilled' ? openid.value?.issuer : undefined;
  if (issuer === undefined || issuer === null) return null;
  if (!isIssuerUrl(issuer)) {
    throw new StepFailure('probe', new AppError('gitlab_error', `GitLab's OpenID configuration names an issuer that is not an http(s) URL of at most ${String(MAX_ISSUER_LENGTH)} characters: check GitLab's external URL (gitlab.rb external_url), then run the bootstrap again`));
  }
  return issuer;
}

/** The longest OpenID issuer stored: an issuer is GitLab's external URL (OpenID Connect Discovery 1.0 §3), never long. */
const MAX_ISSUER_LENGTH = 2048;

/** An issuer as OpenID Connect Discovery 1.0 §3 requires: an https (here also http) URL, bounded, without user info. */
function isIssuerUrl(issuer: unknown): issuer is string {
  if (typeof issuer !== 'string' || issuer.length > MAX_ISSUER_LENGTH || !URL.canParse(issuer)) return false;
  const parsed = new URL(issuer);
  return (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username === '' && parsed.password === '';
}

/**
 * Stage 2b: the version (read with the caller's token) and the token judged, in the order that names
 * the real problem: an old version first when it was read, then the token, then a version that could
 * not be read. Returns the version.
 */
export async function judgeVersionAndToken(version: Outcome<GitlabVersion>, judgeToken: () => Promise<unknown>): Promise<string> {
  if (version.status === 'fulfilled') await inStep('probe', () => { judgeVersion(version.value.version); });
  await judgeToken();
  if (version.status === 'rejected') throw new StepFailure('probe', version.reason);
  return version.value.version;
}

/** Stage 2c: what the probe learnt saved on the instance, and the url, probe and token steps recorded (`probeNote`: e.g. an issuer change). */
export async function recordVerified(run: BootstrapRun, facts: { gitlabVersion: string; caCertificate: string | null; openidIssuer: string | null; botTokenLifetimeDays?: number | null }, tokenDetail: string, probeNote?: string): Promise<void> {
  await run.save(facts);
  if (run.wasReady) await run.record('url', 'succeeded', run.instance.url);
  await run.record('probe', 'succeeded', probeNote ? `GitLab ${facts.gitlabVersion}; ${probeNote}` : `GitLab ${facts.gitlabVersion}`);
  await run.record('verify_token', 'succeeded', tokenDetail);
}

/**
 * Runs the stages after the claim with the lease's heartbeat, and turns what stopped them into the
 * answer: a lost lease is bootstrap_in_progress; a failed step is recorded (BootstrapRun.fail) and
 * answered with its step; anything else (the database, a bug) is recorded once the database answers.
 */
export async function runLeased<T>(run: BootstrapRun, log: RequestLog, work: () => Promise<T>): Promise<T> {
  const stopHeartbeat = run.startHeartbeat();
  try {
    return await work();
  } catch (error) {
    if (error instanceof AlreadyRegistered) throw error.answer;
    if (error instanceof LeaseLost) throw takenOver(run.instance.url);
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

/** The last stage: the lease released, errors cleared, `changes` saved, the instance ready, the event recorded. */
export async function completeRun(run: BootstrapRun, changes: InstanceChanges, detail: string | null): Promise<void> {
  await run.save({ ...changes, status: 'ready', bootstrapLeaseUntil: null, bootstrapLeaseHolder: null, bootstrapStep: null, lastErrorStep: null, lastErrorCode: null, lastErrorDetail: null });
  await run.record('ready', 'succeeded', detail);
}
