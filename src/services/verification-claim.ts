// When an internal route verifies a credential live (credential-verification.ts, bot-token.service.ts):
// per instance and credential at most once every VERIFY_INTERVAL_MS, across processes, claimed by one
// conditional update on the instance.
import { claimCredentialVerification, type VerifiedCredential } from '../db/instances.repo.js';
import type { Instance } from '../domain/types.js';
import type { ServiceDeps } from './deps.js';

/** At most one live verification of each credential of an instance per this many milliseconds. */
export const VERIFY_INTERVAL_MS = 60_000;

/** Has `credential` been verified within the interval (by the bootstrap, the check, or a route)? */
export function verifiedRecently(verifiedAt: Date | null, now: Date): boolean {
  return verifiedAt !== null && verifiedAt.getTime() > now.getTime() - VERIFY_INTERVAL_MS;
}

/**
 * True when this caller should verify `credential` of `instance` now: not verified within the interval
 * (as `instance` was read), and the claim won (no other process verifies it in this interval).
 */
export async function claimVerification(deps: ServiceDeps, instance: Pick<Instance, 'id' | 'botTokenVerifiedAt' | 'oauthClientVerifiedAt'>, credential: VerifiedCredential): Promise<boolean> {
  const now = deps.clock();
  if (verifiedRecently(credential === 'botToken' ? instance.botTokenVerifiedAt : instance.oauthClientVerifiedAt, now)) return false;
  return claimCredentialVerification(deps.db, instance.id, credential, { now, cutoff: new Date(now.getTime() - VERIFY_INTERVAL_MS) });
}

