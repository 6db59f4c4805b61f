// Sessions: a random 256-bit token handed to the browser (cookie) or to an API client (bearer); only
// its sha256 is stored, so a database dump grants no session.
import { loginsBroken } from './instance-health.js';
import type { Config } from '../config.js';
import { hashSecret, randomSecret, SECRET_PATTERN } from '../crypto/tokens.js';
import { insertSession, revokeSessionByHash } from '../db/sessions.repo.js';
import type { Executor } from '../db/types.js';
import type { ServiceDeps } from './deps.js';

const HOUR_MS = 3_600_000;

export interface SessionContext {
  sessionId: string;
  tokenHash: string;
  expiresAt: Date;
  user: { id: string; gitlabUserId: number; username: string; name: string; email: string | null; avatarUrl: string | null };
  instance: { id: string; url: string };
  /** GitLab refuses the instance's OAuth application (instance-health.ts loginsBroken): the session is useless. */
  applicationGone: boolean;
  /** When the instance's OAuth client was last verified live (credential-verification.ts). */
  applicationVerifiedAt: Date | null;
}

/** Creates a session and returns its token (the only time the token exists in clear). */
export async function createSession(
  db: Executor,
  config: Config,
  input: { userId: string; instanceId: string; now: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomSecret();
  const expiresAt = new Date(input.now.getTime() + config.sessionTtlHours * HOUR_MS);
  await insertSession(db, { tokenHash: hashSecret(token), userId: input.userId, instanceId: input.instanceId, expiresAt, now: input.now });
  return { token, expiresAt };
}

/** The live session of a token, or undefined (unknown, malformed, expired, revoked). */
export async function findSession(deps: ServiceDeps, token: string): Promise<SessionContext | undefined> {
  if (!SECRET_PATTERN.test(token)) return undefined;
  const tokenHash = hashSecret(token);
  const row = await deps.userCache.liveSession(tokenHash, deps.clock());
  if (!row) return undefined;
  return {
    sessionId: row.sessionId,
    tokenHash,
    expiresAt: row.expiresAt,
    user: { id: row.userId, gitlabUserId: Number(row.gitlabUserId), username: row.username, name: row.name, email: row.email, avatarUrl: row.avatarUrl },
    instance: { id: row.instanceId, url: row.instanceUrl },
    applicationGone: loginsBroken({ status: row.instanceStatus, problemCode: row.instanceProblemCode }),
    applicationVerifiedAt: row.instanceOauthClientVerifiedAt,
  };
}

/** Revokes the session of a token; false when there was no live one. */
export async function revokeSession(deps: ServiceDeps, token: string): Promise<boolean> {
  return endSession(deps.db, token, deps.clock());
}

/** Revokes the session of a token inside the caller's transaction (`db`); false when there was no live one. */
export async function endSession(db: Executor, token: string, now: Date): Promise<boolean> {
  if (!SECRET_PATTERN.test(token)) return false;
  return revokeSessionByHash(db, hashSecret(token), now);
}
