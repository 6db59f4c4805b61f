// The bot's token for the review workers, rotated through GitLab before it expires. A rotation is
// never tried blindly: GitLab revokes the whole token family when a revoked token is rotated, so the
// token is first checked to be live (a rotation whose answer was lost has already revoked it).
import type { Kysely, Transaction } from 'kysely';
import type { Config } from '../config.js';
import { SEAL_BOT_TOKEN } from '../crypto/seal-purposes.js';
import type { Sealer } from '../crypto/sealer.js';
import { findInstanceById, insertInstanceEvent, lockInstanceById, markBotTokenUnusable, storeBotToken } from '../db/instances.repo.js';
import { retryWhileRowLocked } from '../db/row-lock.js';
import type { DB, Instance } from '../db/types.js';
import { AppError } from '../errors.js';
import type { GitlabApi, GitlabPersonalAccessToken, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError, toAppError, type GitlabLog } from '../gitlab/http.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../time.js';
import { foundInstance } from './instances.service.js';

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

export interface BotToken {
  token: string;
  expiresAt: string | null;
}

type WithBotToken = Instance & { bot_token_sealed: string };

/** A ready instance without a token lost it to a 401: only a new bootstrap gives it one again. */
function withBotToken(found: Instance | undefined, id: string): WithBotToken {
  const instance = foundInstance(found, id);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `Instance ${id} is ${instance.status}`);
  if (!instance.bot_token_sealed) throw unusable();
  return instance as WithBotToken;
}

function unusable(): AppError {
  return new AppError('bot_token_unusable', 'GitLab no longer accepts the bot token; run POST /instances/bootstrap with an admin token to repair it');
}

/**
 * Due when less than BOT_TOKEN_ROTATE_DAYS are left, or less than half the lifetime GitLab granted:
 * on an instance that caps tokens below the window, a fresh token must not be due at once.
 */
function needsRotation(instance: Instance, now: Date, rotateDays: number): boolean {
  if (instance.bot_token_expires_at === null) return false;
  const expiresAt = instance.bot_token_expires_at.getTime();
  const lifetime = instance.bot_token_issued_at ? expiresAt - instance.bot_token_issued_at.getTime() : Infinity;
  return expiresAt - now.getTime() < Math.min(rotateDays * DAY_MS, lifetime / 2);
}

/** GitLab's rotation default is 7 days: assume it when the expiry it answered cannot be read. */
function expiryOf(rotated: { expires_at: string | null }, now: Date): Date | null {
  if (rotated.expires_at === null) return null;
  try {
    return gitlabDateToInstant(rotated.expires_at);
  } catch {
    return new Date(now.getTime() + 7 * DAY_MS);
  }
}

function hasExpired(instance: Instance, now: Date): boolean {
  return instance.bot_token_expires_at !== null && instance.bot_token_expires_at.getTime() <= now.getTime();
}

function stored(sealer: Sealer, instance: WithBotToken): BotToken {
  return { token: sealer.open(instance.bot_token_sealed, SEAL_BOT_TOKEN), expiresAt: instance.bot_token_expires_at?.toISOString() ?? null };
}

type LockedOutcome = { served: BotToken } | { failure: AppError };

/** A rotation holds the lock for up to three GitLab calls (liveness check, rotation, one retry within the lifetime limit). */
export const rotationLockWait = (gitlabTimeoutMs: number) => ({ gitlabTimeoutMs, slackMs: 2 * gitlabTimeoutMs + 5000 });

const LIFETIME_LIMIT = /must be before (\d{4}-\d{2}-\d{2})/;

/**
 * Asks for ROTATED_LIFETIME_DAYS. An instance with a shorter maximum lifetime refuses with a 400 that
 * names its limit, and rotates nothing: asking once more for the day before that limit is safe.
 */
async function rotateWithinLifetime(gitlab: GitlabApi, target: GitlabTarget, token: string, tokenId: string, now: Date) {
  try {
    return await gitlab.rotateOwnToken(target, token, tokenId, dateOnly(new Date(now.getTime() + ROTATED_LIFETIME_DAYS * DAY_MS)));
  } catch (error) {
    const limit = error instanceof GitlabApiError && error.status === 400 ? LIFETIME_LIMIT.exec(error.message)?.[1] : undefined;
    if (!limit) throw error;
    return gitlab.rotateOwnToken(target, token, tokenId, dateOnly(new Date(gitlabDateToInstant(limit).getTime() - DAY_MS)));
  }
}

/** The token as GitLab sees it now: a 401, or an inactive token, means it is dead. */
async function isLive(gitlab: GitlabApi, target: GitlabTarget, token: string): Promise<boolean> {
  try {
    const self = await gitlab.tokenSelf(target, token);
    return self.active && !self.revoked;
  } catch (error) {
    if (error instanceof GitlabApiError && error.status === 401) return false;
    throw error;
  }
}

/**
 * Under the row lock: rotate only if nobody else did since our plain read and rotation is still due.
 * A failure is returned, not thrown, so that what it recorded is committed.
 */
async function rotateUnderLock(deps: BotTokenDeps, trx: Transaction<DB>, id: string, seenSealed: string, actor: string): Promise<LockedOutcome> {
  const { config, sealer, gitlab, clock, log } = deps;
  const instance = withBotToken(await lockInstanceById(trx, id), id);
  const now = clock();
  // A changed token means another caller rotated between our read and our lock.
  if (instance.bot_token_sealed !== seenSealed || !needsRotation(instance, now, config.botTokenRotateDays)) return { served: stored(sealer, instance) };

  const current = sealer.open(instance.bot_token_sealed, SEAL_BOT_TOKEN);
  const target: GitlabTarget = { url: instance.url, caCertificate: instance.ca_certificate, log };
  const event = { instance_id: instance.id, step: 'bot_token_rotate', actor };
  let rotated: GitlabPersonalAccessToken | 'dead';
  try {
    const live = instance.bot_token_id !== null && (await isLive(gitlab, target, current));
    rotated = live ? await rotateWithinLifetime(gitlab, target, current, instance.bot_token_id!, now) : 'dead';
  } catch (error) {
    if (!(error instanceof GitlabApiError && error.status === 401)) {
      // GitLab failed otherwise (5xx, timeout): the current token still works until it expires, so it
      // is served; the next call checks it is live before it tries again.
      const failure = toAppError(error);
      const expired = hasExpired(instance, now);
      await insertInstanceEvent(trx, { ...event, outcome: 'failed', detail: expired ? failure.message : `${failure.message}; the current token is still served`, error_code: failure.code });
      if (expired) return { failure };
      log.warn({ instanceId: instance.id, code: failure.code }, 'bot token rotation failed; serving the current token until it expires');
      return { served: stored(sealer, instance) };
    }
    rotated = 'dead';
  }
  if (rotated === 'dead') {
    // Revoked, expired, or rotated by a call whose answer was lost. Rotating it would revoke the whole
    // family, so it is dropped: later calls fail fast without asking GitLab, and a new bootstrap,
    // which creates a token when none is stored, repairs it.
    const failure = unusable();
    await markBotTokenUnusable(trx, instance.id, { detail: failure.message, now });
    await insertInstanceEvent(trx, { ...event, outcome: 'failed', detail: failure.message, error_code: failure.code });
    return { failure };
  }
  const expiresAt = expiryOf(rotated, now);
  await storeBotToken(trx, instance.id, { tokenId: rotated.id, sealed: sealer.seal(rotated.token!, SEAL_BOT_TOKEN), expiresAt, now });
  await insertInstanceEvent(trx, { ...event, outcome: 'succeeded', detail: `rotated; expires ${rotated.expires_at ?? 'never'}`, error_code: null });
  return { served: { token: rotated.token!, expiresAt: expiresAt?.toISOString() ?? null } };
}

/**
 * Returns the bot token, rotating it first when it expires within BOT_TOKEN_ROTATE_DAYS. Only then is
 * the row locked: concurrent callers, in any process, wait (off the pool) for one rotation and then
 * read its result.
 */
export async function botTokenFor(deps: BotTokenDeps, instanceId: string, actor: string): Promise<BotToken> {
  const { db, config, sealer, clock } = deps;
  const outcome = await retryWhileRowLocked(async (): Promise<LockedOutcome> => {
    const seen = withBotToken(await findInstanceById(db, instanceId), instanceId);
    if (!needsRotation(seen, clock(), config.botTokenRotateDays)) return { served: stored(sealer, seen) };
    // Only `trx` inside: on PGlite (one connection) a query on db here would wait forever.
    return db.transaction().execute((trx) => rotateUnderLock(deps, trx, instanceId, seen.bot_token_sealed, actor));
  }, rotationLockWait(config.gitlabTimeoutMs));
  if ('failure' in outcome) throw outcome.failure;
  return outcome.served;
}
