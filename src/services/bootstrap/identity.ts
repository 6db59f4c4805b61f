// "One GitLab, one instance" (contract): a GitLab is identified by its OpenID issuer (external_url).
// Another URL of a registered GitLab becomes an alias of it, with nothing created or deleted on
// GitLab; a ready instance whose address now answers with another issuer is checked against what it
// owns there.
import { findAliasedInstance, findInstanceAtIssuer, replaceClaimWithAlias, type RegisteredInstance } from '../../db/instance-aliases.repo.js';
import { AppError } from '../../errors.js';
import type { GitlabApplication, GitlabUser } from '../../gitlab/api.js';
import type { ServiceDeps } from '../deps.js';
import { normalizeInstanceUrl } from '../instance-url.js';
import type { Outcome } from './checks.js';
import { StepFailure, type BootstrapRun } from './run.js';

/** The bootstrap ends here with `answer`; the claimed row is already gone (it became an alias). */
export class AlreadyRegistered extends Error {
  constructor(readonly answer: AppError) {
    super(answer.message);
  }
}

function alreadyRegistered(url: string, registered: RegisteredInstance): AppError {
  return new AppError(
    'instance_already_registered',
    `${url} reaches the GitLab already registered as ${registered.canonicalUrl}: nothing was created; its users log in through that instance (lookup of ${url} now answers for it)`,
    { instanceId: registered.instanceId, canonicalUrl: registered.canonicalUrl },
  );
}

/** Before anything else: a URL known as an alias is answered at once, and nothing goes to GitLab. Throws instance_already_registered. */
export async function refuseKnownAlias(deps: ServiceDeps, url: string): Promise<void> {
  const registered = await findAliasedInstance(deps.db, url);
  if (registered) throw alreadyRegistered(url, registered);
}

/** The issuer's own URL in our normal form, or undefined when the issuer is no URL we would accept. */
function issuerUrlOf(issuer: string): string | undefined {
  try {
    return normalizeInstanceUrl(issuer);
  } catch {
    return undefined;
  }
}

/** What of the instance's own is still on the GitLab now answering at its address. */
export interface OwnResources {
  storedBot: Outcome<GitlabUser | undefined>;
  applications: GitlabApplication[];
}

/**
 * Judged after the admin token was verified, before anything is written. New instance whose issuer
 * is a ready instance's own URL: the claim becomes an alias and AlreadyRegistered is thrown. Ready
 * instance with a changed issuer: returns the event text when its bot or application is still there
 * (external_url changed), else throws 422 instance_identity_changed. Otherwise returns undefined.
 */
export async function judgeIdentity(run: BootstrapRun, issuer: string | null, own: OwnResources): Promise<string | undefined> {
  return judge(run, issuer, own).catch((error: unknown) => {
    throw error instanceof AlreadyRegistered ? error : new StepFailure('probe', error);
  });
}

async function judge(run: BootstrapRun, issuer: string | null, own: OwnResources): Promise<string | undefined> {
  const { instance } = run;
  if (!issuer) return undefined;
  if (run.wasReady) {
    if (!instance.openidIssuer || instance.openidIssuer === issuer) return undefined;
    const botThere = own.storedBot.status === 'fulfilled' && own.storedBot.value !== undefined;
    const applicationThere = own.applications.some((app) => String(app.id) === instance.oauthApplicationId && app.application_id === instance.oauthClientId);
    if (botThere || applicationThere) return `GitLab's issuer changed from ${instance.openidIssuer} to ${issuer}`;
    throw new AppError(
      'instance_identity_changed',
      `${instance.url} now answers as another GitLab (issuer ${issuer}, was ${instance.openidIssuer}) that holds neither this instance's bot nor its OAuth application: take the old instance out of service (DELETE /internal/instances/${instance.id}) before setting this GitLab up`,
    );
  }
  const issuerUrl = issuerUrlOf(issuer);
  if (!issuerUrl || issuerUrl === instance.url) return undefined;
  const registered = await findInstanceAtIssuer(run.deps.db, issuer, issuerUrl, instance.id);
  if (!registered) return undefined;
  if (await replaceClaimWithAlias(run.deps.db, { claimedId: instance.id, holder: run.leaseHolder, instanceId: registered.instanceId })) {
    throw new AlreadyRegistered(alreadyRegistered(instance.url, registered));
  }
  // This URL already holds resources of an earlier attempt: refused, and the record kept for its clean-up.
  throw alreadyRegistered(instance.url, registered);
}
