// The bot's token for the review workers, rotated through GitLab before it expires. A rotation is
// never tried blindly: GitLab revokes the whole token family when a revoked token is rotated, so the
// token is first checked to be live (a rotation whose answer was lost has already revoked it).
import { SEAL_BOT_TOKEN } from '../crypto/seal-purposes.js';
import type { Sealer } from '../crypto/sealer.js';
import { findInstanceById, insertInstanceEvent, markBotTokenUnusable, storeBotToken } from '../db/instances.repo.js';
import type { Instance } from '../domain/types.js';
import { AppError } from '../errors.js';
import type { GitlabApi, GitlabPersonalAccessToken, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError, toAppError } from '../gitlab/http.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../time.js';
import { isDue, LeaseLost, refreshOnce, type HeldLease } from './credential-refresh.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { foundInstance } from './instances.service.js';
import { canRotateBotToken, rotateBotTokenCall } from './manual-bot-token.js';

/** GitLab caps a rotated token at one year; stay clear of the boundary. */
const ROTATED_LIFETIME_DAYS = 360;

export interface BotToken {
  token: string;
  expiresAt: Date | null;
}

type WithBotToken = Instance & { botTokenSealed: string };

/** A ready instance without a token lost it to a 401: only a new bootstrap gives it one again. */
function withBotToken(found: Instance | undefined, id: string): WithBotToken {
  const instance = foundInstance(found, id);
  if (instance.status !== 'ready') throw new AppError('instance_not_ready', `Instance ${id} is ${instance.status}`);
  if (!instance.botTokenSealed) throw unusable();
  return instance as WithBotToken;
}

function unusable(): AppError {
  return new AppError(
    'bot_token_unusable',
    'GitLab no longer accepts the bot token; run POST /instances/bootstrap with an admin token to repair it, or (manual onboarding) send a new one with PUT /internal/instances/:id/credentials',
  );
}

/**
 * Due when less than BOT_TOKEN_ROTATE_DAYS are left, or less than half the lifetime GitLab granted:
 * on an instance that caps tokens below the window, a fresh token must not be due at once.
 */
function needsRotation(instance: Instance, now: Date, rotateDays: number): boolean {
  return isDue({ expiresAt: instance.botTokenExpiresAt, issuedAt: instance.botTokenIssuedAt }, now, rotateDays * DAY_MS);
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
  return instance.botTokenExpiresAt !== null && instance.botTokenExpiresAt.getTime() <= now.getTime();
}

function stored(sealer: Sealer, instance: WithBotToken): BotToken {
  return { token: sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN), expiresAt: instance.botTokenExpiresAt };
}

type LockedOutcome = { served: BotToken } | { failure: AppError };

/** A rotation holds the lease for up to three GitLab calls (liveness check, rotation, one retry within the lifetime limit). */
export const ROTATION_GITLAB_CALLS = 3;

const LIFETIME_LIMIT = /must be before (\d{4}-\d{2}-\d{2})/;

/**
 * Asks for ROTATED_LIFETIME_DAYS. An instance with a shorter maximum lifetime refuses with a 400 that
 * names its limit, and rotates nothing: asking once more for the day before that limit is safe.
 */
async function rotateWithinLifetime(rotate: (expiresAt: string) => Promise<GitlabPersonalAccessToken>, now: Date) {
  try {
    return await rotate(dateOnly(new Date(now.getTime() + ROTATED_LIFETIME_DAYS * DAY_MS)));
  } catch (error) {
    const limit = error instanceof GitlabApiError && error.status === 400 ? LIFETIME_LIMIT.exec(error.message)?.[1] : undefined;
    if (!limit) throw error;
    return rotate(dateOnly(new Date(gitlabDateToInstant(limit).getTime() - DAY_MS)));
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
 * GitLab failed otherwise than with a 401 (5xx, timeout): the current token still works until it
 * expires, so it is served; the next call checks it is live before it tries again.
 */
async function rotationFailed(deps: ServiceDeps, instance: WithBotToken, error: unknown, context: RotationContext & { answerLost: boolean }): Promise<LockedOutcome> {
  const failure = toAppError(error);
  // A rotate whose answer was lost (timeout, connection closed) may have revoked the current token:
  // it is never handed out on that guess; the next call checks it is live first.
  const expired = context.answerLost || hasExpired(instance, context.now);
  const detail = expired ? failure.message : `${failure.message}; the current token is still served`;
  await insertInstanceEvent(deps.db, { ...context.event, outcome: 'failed', detail, errorCode: failure.code });
  if (expired) return { failure };
  context.log.warn({ instanceId: instance.id, code: failure.code }, 'bot token rotation failed; serving the current token until it expires');
  return { served: stored(deps.sealer, instance) };
}

/**
 * Revoked, expired, or rotated by a call whose answer was lost. Rotating it would revoke the whole
 * family, so it is dropped: later calls fail fast without asking GitLab, and a new bootstrap, which
 * creates a token when none is stored, repairs it.
 */
async function dropDeadToken(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  const failure = unusable();
  if (!(await markBotTokenUnusable(deps.db, instance.id, context.lease.holder, { detail: failure.message, now: context.now }))) throw new LeaseLost();
  await insertInstanceEvent(deps.db, { ...context.event, outcome: 'failed', detail: failure.message, errorCode: failure.code });
  return { failure };
}

interface RotationContext {
  now: Date;
  log: RequestLog;
  lease: HeldLease;
  event: { instanceId: string; step: string; actor: string };
}

/** Holding the lease, rotation due: rotate a live token and store it (fenced). A failure is returned, not thrown, with what it recorded. */
async function rotateLeased(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  const { sealer, gitlab } = deps;
  const { now } = context;
  const current = sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN);
  const target = { ...gitlabTargetOf(instance, context.log), credentialTimeoutMs: deps.config.gitlabCredentialTimeoutMs };
  let rotated: GitlabPersonalAccessToken | 'dead';
  let rotating = false;
  try {
    const live = instance.botTokenId !== null && (await isLive(gitlab, target, current));
    rotating = live;
    rotated = live ? await rotateWithinLifetime(rotateBotTokenCall(gitlab, target, instance, current), now) : 'dead';
  } catch (error) {
    const answerLost = rotating && !(error instanceof GitlabApiError);
    if (!(error instanceof GitlabApiError && error.status === 401)) return rotationFailed(deps, instance, error, { ...context, answerLost });
    rotated = 'dead';
  }
  if (rotated === 'dead') return dropDeadToken(deps, instance, context);
  const expiresAt = expiryOf(rotated, now);
  const stored = await storeBotToken(deps.db, instance.id, context.lease.holder, { tokenId: rotated.id, sealed: sealer.seal(rotated.token!, SEAL_BOT_TOKEN), expiresAt, now });
  if (!stored) throw new LeaseLost();
  await insertInstanceEvent(deps.db, { ...context.event, outcome: 'succeeded', detail: `rotated; expires ${rotated.expires_at ?? 'never'}`, errorCode: null });
  return { served: { token: rotated.token!, expiresAt } };
}

/**
 * Returns the bot token, rotating it first when it expires within BOT_TOKEN_ROTATE_DAYS (single-flight
 * across processes, credential-refresh.ts). Throws instance_not_found, instance_not_ready,
 * bot_token_unusable, or a GitLab failure code when the rotation failed and the token has expired.
 */
export async function botTokenFor(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog): Promise<BotToken> {
  const { db, config, sealer } = deps;
  const outcome = await refreshOnce<WithBotToken, LockedOutcome>(deps, {
    leased: { table: 'instances', id: instanceId },
    read: async () => withBotToken(await findInstanceById(db, instanceId), instanceId),
    sealedOf: (instance) => instance.botTokenSealed,
    // A manual instance before GitLab 16.10 cannot rotate (manual-bot-token.ts): its token is served until it
    // expires; then the liveness check drops it and bot_token_unusable is answered.
    isDue: (instance, now) => (canRotateBotToken(instance) ? needsRotation(instance, now, config.botTokenRotateDays) : hasExpired(instance, now)),
    serve: (instance) => ({ served: stored(sealer, instance) }),
    refresh: (instance, now, lease) => rotateLeased(deps, instance, { now, log, lease, event: { instanceId: instance.id, step: 'bot_token_rotate', actor } }),
    holderGitlabCalls: ROTATION_GITLAB_CALLS,
    callTimeoutMs: config.gitlabCredentialTimeoutMs,
  });
  if ('failure' in outcome) throw outcome.failure;
  return outcome.served;
}
