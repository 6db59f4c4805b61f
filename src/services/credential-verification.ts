// Bounded live verification of the credentials the internal routes hand out, so that a credential
// revoked or deleted behind the service's back (GitLab answers 401 invalid_token for a revoked bot token
// and for every token of a deleted OAuth application) is not handed out for long, without a GitLab call
// on every request: per instance and credential at most one verification every VERIFY_INTERVAL_MS, across
// processes (claimed by one conditional update; the others go on at once with what is stored, so a
// credential that died is handed out for at most one interval and one GitLab round trip). A
// verification GitLab could not answer (unreachable, rate limited) changes nothing: the credential is
// served as the contract says, and the next interval tries again.
import type { Instance } from '../domain/types.js';
import type { RequestLog, ServiceDeps } from './deps.js';
import { checkApplication, degradeForRefusedClient } from './instance-check.service.js';
import { findInstanceById } from '../db/instances.repo.js';
import { claimVerification, verifiedRecently } from './verification-claim.js';

/**
 * The instance's OAuth client verified at GitLab's token endpoint at most once per interval
 * (oauthClientAccepted: `invalid_client` means the application was deleted or its secret replaced).
 * Returns false when GitLab refused it: the instance is then degraded (oauth_application_unusable, an
 * event by `actor`). True when it was accepted, verified recently, or GitLab could not answer.
 */
export async function oauthClientStillAccepted(deps: ServiceDeps, instance: Instance, actor: string, log: RequestLog): Promise<boolean> {
  if (!(await claimVerification(deps, instance, 'oauthClient'))) return true;
  let accepted: boolean;
  try {
    accepted = await checkApplication(deps, instance);
  } catch (error) {
    log.warn({ instanceId: instance.id, err: error }, 'the periodic OAuth client verification could not reach GitLab; the stored state stands');
    return true;
  }
  if (!accepted) await degradeForRefusedClient(deps, instance.id, actor, 'invalid_client at the periodic client verification');
  return accepted;
}

/**
 * For a session route (/me): does GitLab still accept the OAuth client of the session's instance?
 * Reads the instance only when its client was not verified within the interval, then verifies it as
 * oauthClientStillAccepted does (`actor`: who the audit trail names). False: the application is gone.
 */
export async function sessionApplicationAccepted(deps: ServiceDeps, session: { instanceId: string; applicationVerifiedAt: Date | null }, actor: string, log: RequestLog): Promise<boolean> {
  if (verifiedRecently(session.applicationVerifiedAt, deps.clock())) return true;
  const instance = await findInstanceById(deps.db, session.instanceId);
  return !instance || (await oauthClientStillAccepted(deps, instance, actor, log));
}
