// The bot's token for the review workers, rotated through GitLab before it expires. A rotation is
// never retried blindly: GitLab revokes the whole token family when a revoked token is rotated.
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { SEAL_BOT_TOKEN } from '../crypto/seal-purposes.js';
import type { Sealer } from '../crypto/sealer.js';
import { insertInstanceEvent, lockInstanceById, storeBotToken } from '../db/instances.repo.js';
import type { DB, Instance } from '../db/types.js';
import { AppError } from '../errors.js';
import type { GitlabApi, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError, toAppError, type GitlabLog } from '../gitlab/http.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../time.js';

/** GitLab caps a rotated token at one year; stay clear of the boundary. */
const ROTATED_LIFETIME_DAYS = 360;

export interface BotTokenDeps {
  db: Kysely<DB>;
  config: Config;
  sealer: Sealer;
  gitlab: GitlabApi;
  clock: () => Date;
  log: GitlabLog;
}

function needsRotation(instance: Instance, now: Date, rotateDays: number): boolean {
  return instance.bot_token_expires_at !== null && instance.bot_token_expires_at.getTime() - now.getTime() < rotateDays * DAY_MS;
}

/**
 * Returns the bot token, rotating it first when it expires within BOT_TOKEN_ROTATE_DAYS. The row lock
 * makes concurrent callers, in any process, wait for one rotation and then read its result.
 */
export async function botTokenFor(deps: BotTokenDeps, instanceId: string, actor: string): Promise<{ token: string; expiresAt: string | null }> {
  const { db, config, sealer, gitlab, clock, log } = deps;
  const outcome = await db.transaction().execute(async (trx) => {
    const instance = await lockInstanceById(trx, instanceId);
    if (!instance) throw new AppError('instance_not_found', `No instance ${instanceId}`);
    if (instance.status !== 'ready' || !instance.bot_token_sealed) throw new AppError('instance_not_ready', `Instance ${instanceId} is ${instance.status}`);
    const now = clock();
    const current = sealer.open(instance.bot_token_sealed, SEAL_BOT_TOKEN);
    if (!needsRotation(instance, now, config.botTokenRotateDays)) {
      return { token: current, expiresAt: instance.bot_token_expires_at?.toISOString() ?? null };
    }
    const target: GitlabTarget = { url: instance.url, caCertificate: instance.ca_certificate, log };
    const expiresOn = dateOnly(new Date(now.getTime() + ROTATED_LIFETIME_DAYS * DAY_MS));
    let rotated;
    try {
      rotated = await gitlab.rotateSelf(target, current, expiresOn);
    } catch (error) {
      // A 401 means the token is already dead (revoked, expired, or rotated by a call whose answer was
      // lost): rotating again would revoke the whole family, so only a new bootstrap can repair it.
      const dead = error instanceof GitlabApiError && error.status === 401;
      const failure = dead ? new AppError('bot_token_unusable', 'GitLab no longer accepts the bot token; run POST /instances/bootstrap with an admin token to repair it') : toAppError(error);
      return { failure };
    }
    const expiresAt = rotated.expires_at ? gitlabDateToInstant(rotated.expires_at) : null;
    await storeBotToken(trx, instance.id, { tokenId: rotated.id, sealed: sealer.seal(rotated.token!, SEAL_BOT_TOKEN), expiresAt, now });
    await insertInstanceEvent(trx, { instance_id: instance.id, step: 'bot_token_rotate', outcome: 'succeeded', actor, detail: `rotated; expires ${rotated.expires_at ?? 'never'}`, error_code: null });
    return { token: rotated.token!, expiresAt: expiresAt?.toISOString() ?? null };
  });
  if (!outcome.failure) return { token: outcome.token, expiresAt: outcome.expiresAt };
  // Recorded outside the transaction, which rolled nothing back but must not hold the failure.
  await insertInstanceEvent(db, { instance_id: instanceId, step: 'bot_token_rotate', outcome: 'failed', actor, detail: outcome.failure.message, error_code: outcome.failure.code });
  throw outcome.failure;
}
