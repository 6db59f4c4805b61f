// The bot's token for the review workers, rotated through GitLab before it expires. The bootstrap gives
// the bot two tokens with staggered expiries: the served one (handed out) and the standby. A rotation
// only ever rotates the standby, authenticated by the served token, then promotes the new token to
// served and demotes the old served one to standby (still live: workers holding it keep working). So a
// rotation whose answer is lost (timeout, process killed, database down at the write) revokes only the
// standby, never the token being served; the next rotation finds the standby dead and adopts the token
// GitLab created for the lost answer (bot-token-rotation.ts). An instance bootstrapped before the pair
// existed has one token, rotated in place as before (a lost answer there still needs a new bootstrap,
// which restores the pair). A token GitLab refused is never rotated: that would revoke its whole family.
import { SEAL_BOT_TOKEN } from '../crypto/seal-purposes.js';
import { findInstanceById, insertInstanceEvent, markBotTokenUnusable, storeBotTokens, type StoredBotToken } from '../db/instances.repo.js';
import type { Instance } from '../domain/types.js';
import { AppError, present } from '../errors.js';
import type { GitlabPersonalAccessToken } from '../gitlab/api.js';
import { GitlabApiError, toAppError } from '../gitlab/http.js';
import { DAY_MS } from '../time.js';
import { expiryOf, isLive, renewStandby, rotateWithinLifetime, type BotSession } from './bot-token-rotation.js';
import { dueAt, isDue, LeaseLost, refreshOnce, type HeldLease, type SingleFlightRefresh } from './credential-refresh.js';
import { credentialTargetOf, gitlabTargetOf, type RequestLog, type ServiceDeps } from './deps.js';
import { BOT_TOKEN_EXPIRING, STORED_PROBLEMS } from './instance-health.js';
import { foundInstance } from './instances.service.js';
import { canRotateBotToken } from './manual-bot-token.js';
import { claimVerification } from './verification-claim.js';

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

const hasStandby = (instance: Instance) => instance.botStandbyTokenSealed !== null && instance.botStandbyTokenId !== null;

/** Which tokens are stored: when it changed between two reads, someone else rotated. */
const pairKey = (instance: WithBotToken) => `${instance.botTokenSealed}|${instance.botStandbyTokenSealed ?? ''}`;

/**
 * Due when either token has less than BOT_TOKEN_ROTATE_DAYS left, or less than half the lifetime GitLab
 * granted it: on an instance that caps tokens below the window, a fresh token must not be due at once.
 */
function needsRotation(instance: Instance, now: Date, rotateDays: number): boolean {
  const margin = rotateDays * DAY_MS;
  const served = isDue({ expiresAt: instance.botTokenExpiresAt, issuedAt: instance.botTokenIssuedAt }, now, margin);
  return served || (hasStandby(instance) && isDue({ expiresAt: instance.botStandbyTokenExpiresAt, issuedAt: instance.botStandbyTokenIssuedAt }, now, margin));
}

/**
 * When a rotation falls due (needsRotation with `rotateDays`): the earlier of the two tokens' due times;
 * null when neither expires or the token cannot be rotated by the service (manual, before GitLab 16.10).
 */
export function nextRotationAt(instance: Instance, rotateDays: number): Date | null {
  if (!instance.botTokenSealed || !canRotateBotToken(instance)) return null;
  const margin = rotateDays * DAY_MS;
  const times = [dueAt({ expiresAt: instance.botTokenExpiresAt, issuedAt: instance.botTokenIssuedAt }, margin)];
  if (hasStandby(instance)) times.push(dueAt({ expiresAt: instance.botStandbyTokenExpiresAt, issuedAt: instance.botStandbyTokenIssuedAt }, margin));
  const known = times.filter((time): time is Date => time !== null).map((time) => time.getTime());
  return known.length ? new Date(Math.min(...known)) : null;
}

function hasExpired(instance: Instance, now: Date): boolean {
  return instance.botTokenExpiresAt !== null && instance.botTokenExpiresAt.getTime() <= now.getTime();
}

type LockedOutcome = { served: BotToken } | { failure: AppError };

/** A rotation holds the lease for up to five GitLab calls: liveness, standby state, leftovers, rotation, one retry within the lifetime limit. */
const ROTATION_GITLAB_CALLS = 5;
/** An operator's rotation rotates both tokens: two more calls. */
const LEAK_ROTATION_GITLAB_CALLS = ROTATION_GITLAB_CALLS + 2;

interface RotationContext {
  now: Date;
  log: RequestLog;
  lease: HeldLease;
  event: { instanceId: string; step: string; actor: string };
  /** An operator's rotation (suspected leak): a failure is an error, never the old token served. */
  forced: boolean;
}

function sessionAs(deps: ServiceDeps, instance: Instance, token: string, context: RotationContext): BotSession {
  const target = credentialTargetOf(deps, instance, context.log);
  return { gitlab: deps.gitlab, target, token, now: context.now, lifetimeDays: instance.botTokenLifetimeDays, owner: { publicUrl: deps.config.publicUrl, instanceId: instance.id } };
}

const servedSlot = (instance: WithBotToken): StoredBotToken => ({
  tokenId: present(instance.botTokenId, 'the served bot token id'), sealed: instance.botTokenSealed, expiresAt: instance.botTokenExpiresAt, issuedAt: instance.botTokenIssuedAt,
});
const standbySlot = (instance: Instance): StoredBotToken => ({
  tokenId: present(instance.botStandbyTokenId, 'the standby bot token id'), sealed: present(instance.botStandbyTokenSealed, 'the standby bot token'), expiresAt: instance.botStandbyTokenExpiresAt, issuedAt: instance.botStandbyTokenIssuedAt,
});

function slotOf(deps: ServiceDeps, rotated: GitlabPersonalAccessToken, now: Date): StoredBotToken {
  return { tokenId: String(rotated.id), sealed: deps.sealer.seal(present(rotated.token, "the token in GitLab's rotation answer"), SEAL_BOT_TOKEN), expiresAt: expiryOf(rotated, now), issuedAt: now };
}

/** Stores the pair, fenced on the lease; then records the event (a rotation `succeeded`, a token lost and worked around `repaired`). */
async function store(deps: ServiceDeps, context: RotationContext, tokens: { served: StoredBotToken; standby: StoredBotToken | null }, event: { detail: string; outcome?: 'succeeded' | 'repaired' }): Promise<void> {
  if (!(await storeBotTokens(deps.db, context.event.instanceId, context.lease.holder, { ...tokens, now: context.now, endsProblem: BOT_TOKEN_EXPIRING.code }))) throw new LeaseLost();
  const detail = `${context.forced ? 'operator rotation: ' : ''}${event.detail}`;
  await insertInstanceEvent(deps.db, { ...context.event, outcome: event.outcome ?? 'succeeded', detail, errorCode: null });
}

/**
 * GitLab failed otherwise than with a 401 (5xx, timeout, lost answer). The served token is served until
 * it expires unless the failed call may have revoked it (`mayBeRevoked`: a lost answer to its own
 * rotation) or an operator asked for it to die (`forced`); the next call tries again.
 */
async function gitlabFailed(deps: ServiceDeps, instance: WithBotToken, error: unknown, context: RotationContext & { mayBeRevoked: boolean }): Promise<LockedOutcome> {
  const failure = toAppError(error);
  const serve = !context.forced && !context.mayBeRevoked && !hasExpired(instance, context.now);
  const detail = serve ? `${failure.message}; the served token is untouched and still served` : failure.message;
  await insertInstanceEvent(deps.db, { ...context.event, outcome: 'failed', detail, errorCode: failure.code });
  if (!serve) return { failure };
  context.log.warn({ instanceId: instance.id, code: failure.code }, 'bot token rotation failed; serving the current token until it expires');
  return { served: { token: deps.sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN), expiresAt: instance.botTokenExpiresAt } };
}

/**
 * Revoked, expired, or rotated by a call whose answer was lost, and no standby works. Rotating it would
 * revoke the whole family, so it is dropped: later calls fail fast without asking GitLab, and a new
 * bootstrap, which creates tokens when none is stored, repairs it.
 */
async function dropDeadToken(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  const failure = unusable();
  if (!(await markBotTokenUnusable(deps.db, instance.id, context.lease.holder, { ...STORED_PROBLEMS.botToken, title: failure.message }, context.now))) throw new LeaseLost();
  await insertInstanceEvent(deps.db, { ...context.event, outcome: 'failed', detail: failure.message, errorCode: failure.code });
  return { failure };
}

/** One token (an instance bootstrapped before the pair, or a pair that lost a token): it rotates itself. */
async function rotateSingle(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  const session = sessionAs(deps, instance, deps.sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN), context);
  let rotating = false;
  let rotated: GitlabPersonalAccessToken | 'dead';
  try {
    rotating = instance.botTokenId !== null && (await isLive(session.gitlab, session.target, session.token));
    rotated = rotating ? await rotateWithinLifetime(session, instance.mode === 'manual' ? 'self' : present(instance.botTokenId, 'the served bot token id')) : 'dead';
  } catch (error) {
    if (!(error instanceof GitlabApiError && error.status === 401)) return gitlabFailed(deps, instance, error, { ...context, mayBeRevoked: rotating && !(error instanceof GitlabApiError) });
    rotated = 'dead';
  }
  if (rotated === 'dead') return dropDeadToken(deps, instance, context);
  const served = slotOf(deps, rotated, context.now);
  await store(deps, context, { served, standby: null }, { detail: `rotated; expires ${rotated.expires_at ?? 'never'}` });
  return { served: { token: present(rotated.token, "the token in GitLab's rotation answer"), expiresAt: served.expiresAt } };
}

/** GitLab refused the served token: the standby, when live, is served alone until a bootstrap restores the pair. */
async function promoteStandby(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  const standby = standbySlot(instance);
  const token = deps.sealer.open(standby.sealed, SEAL_BOT_TOKEN);
  let live: boolean;
  try {
    live = await isLive(deps.gitlab, sessionAs(deps, instance, token, context).target, token);
  } catch (error) {
    return gitlabFailed(deps, instance, error, { ...context, mayBeRevoked: true });
  }
  if (!live) return dropDeadToken(deps, instance, context);
  const detail = 'GitLab refused the served token; the standby token is served alone until a new bootstrap restores the pair';
  await store(deps, context, { served: standby, standby: null }, { detail, outcome: 'repaired' });
  const promoted = { ...instance, botTokenId: standby.tokenId, botTokenSealed: standby.sealed, botTokenExpiresAt: standby.expiresAt, botTokenIssuedAt: standby.issuedAt };
  return continueAlone(deps, promoted, context);
}

/**
 * The token left alone after its partner was lost: rotated in place at once when it is due itself, or
 * when an operator asked for a rotation (it may have leaked too); else served as it is.
 */
function continueAlone(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> | LockedOutcome {
  const alone = { ...instance, botStandbyTokenId: null, botStandbyTokenSealed: null };
  if (context.forced || needsRotation(alone, context.now, deps.config.botTokenRotateDays)) return rotateSingle(deps, alone, context);
  return { served: { token: deps.sealer.open(alone.botTokenSealed, SEAL_BOT_TOKEN), expiresAt: alone.botTokenExpiresAt } };
}

type PairOutcome = LockedOutcome & { promoted?: GitlabPersonalAccessToken };

/**
 * Rotates the standby with the served token and promotes the new one; the served token is not touched,
 * so any GitLab failure leaves it served. The standby gone for good (expired, or revoked outside the
 * service): the served token is kept alone (continueAlone).
 */
async function rotatePair(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<PairOutcome> {
  const session = sessionAs(deps, instance, deps.sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN), context);
  let fresh: GitlabPersonalAccessToken | null | 'served_dead';
  const ids = {
    served: present(instance.botTokenId, 'the served bot token id'),
    standby: present(instance.botStandbyTokenId, 'the standby bot token id'),
    botUserId: present(instance.botUserId, 'the bot user id'),
  };
  try {
    fresh = (await isLive(session.gitlab, session.target, session.token)) ? await renewStandby(session, ids) : 'served_dead';
  } catch (error) {
    return gitlabFailed(deps, instance, error, { ...context, mayBeRevoked: false });
  }
  if (fresh === 'served_dead') return promoteStandby(deps, instance, context);
  if (fresh === null) {
    const detail = 'the standby token is gone (expired, or revoked outside this service): the served token is kept alone until a new bootstrap restores the pair';
    await store(deps, { ...context, forced: false }, { served: servedSlot(instance), standby: null }, { detail, outcome: 'repaired' });
    return continueAlone(deps, instance, context);
  }
  const promoted = slotOf(deps, fresh, context.now);
  await store(deps, context, { served: promoted, standby: servedSlot(instance) }, { detail: `standby rotated and promoted; expires ${fresh.expires_at ?? 'never'}` });
  return { served: { token: present(fresh.token, "the token in GitLab's rotation answer"), expiresAt: promoted.expiresAt }, promoted: fresh };
}

/**
 * An operator's rotation (suspected leak): both tokens may have been handed out, so both die. The
 * standby is rotated and promoted first, so a token is served throughout; then the demoted one is
 * rotated by the new served token. Should that second answer be lost, the leaked token is revoked
 * anyway and the next rotation adopts its successor.
 */
async function rotateForLeak(deps: ServiceDeps, instance: WithBotToken, context: RotationContext): Promise<LockedOutcome> {
  if (!hasStandby(instance)) return rotateSingle(deps, instance, context);
  const first = await rotatePair(deps, instance, context);
  if (!first.promoted) return first;
  const served = slotOf(deps, first.promoted, context.now);
  const promotedToken = present(first.promoted.token, "the token in GitLab's rotation answer");
  const demotedId = present(instance.botTokenId, 'the demoted bot token id');
  let renewed: GitlabPersonalAccessToken;
  try {
    renewed = await rotateWithinLifetime(sessionAs(deps, instance, promotedToken, context), demotedId);
  } catch (error) {
    return gitlabFailed(deps, instance, error, { ...context, mayBeRevoked: true });
  }
  await store(deps, context, { served, standby: slotOf(deps, renewed, context.now) }, { detail: 'the demoted token rotated too' });
  return first;
}

function flight(deps: ServiceDeps, instanceId: string, rotate: (instance: WithBotToken, now: Date, lease: HeldLease) => Promise<LockedOutcome>) {
  return {
    leased: { table: 'instances', id: instanceId },
    read: async () => withBotToken(await findInstanceById(deps.db, instanceId), instanceId),
    sealedOf: pairKey,
    serve: (instance) => ({ served: { token: deps.sealer.open(instance.botTokenSealed, SEAL_BOT_TOKEN), expiresAt: instance.botTokenExpiresAt } }),
    refresh: rotate,
    callTimeoutMs: deps.config.gitlabCredentialTimeoutMs,
  } satisfies Omit<SingleFlightRefresh<WithBotToken, LockedOutcome>, 'isDue' | 'holderGitlabCalls'>;
}

function outcomeOf(outcome: LockedOutcome): BotToken {
  if ('failure' in outcome) throw outcome.failure;
  return outcome.served;
}

const contextOf = (instance: Instance, now: Date, lease: HeldLease, log: RequestLog, who: { actor: string; forced: boolean }): RotationContext => ({
  now, log, lease, forced: who.forced, event: { instanceId: instance.id, step: 'bot_token_rotate', actor: who.actor },
});

/**
 * The served bot token, rotated first when due (single-flight across processes, credential-refresh.ts):
 * due `rotateDays` before expiry (BOT_TOKEN_ROTATE_DAYS for a worker's call; the upkeep asks with a wider
 * margin, so it rotates before a worker would, still through the same lease). Throws as botTokenFor.
 */
async function servedBotToken(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog, rotateDays = deps.config.botTokenRotateDays): Promise<BotToken> {
  const rotate = (instance: WithBotToken, now: Date, lease: HeldLease) => {
    const context = contextOf(instance, now, lease, log, { actor, forced: false });
    return hasStandby(instance) ? rotatePair(deps, instance, context) : rotateSingle(deps, instance, context);
  };
  return outcomeOf(
    await refreshOnce(deps, {
      ...flight(deps, instanceId, rotate),
      // A manual instance before GitLab 16.10 cannot rotate (manual-bot-token.ts): its token is served until it
      // expires; then the liveness check drops it and bot_token_unusable is answered.
      isDue: (instance, now) => (canRotateBotToken(instance) ? needsRotation(instance, now, rotateDays) : hasExpired(instance, now)),
      // A rotation in flight touches only the standby: the served token is handed out meanwhile.
      serveWhileHeld: (instance, now) => hasStandby(instance) && !hasExpired(instance, now),
      holderGitlabCalls: ROTATION_GITLAB_CALLS,
    }),
  );
}

/**
 * At most once per VERIFY_INTERVAL_MS per instance (verification-claim.ts: one process, one caller), the
 * token about to be handed out is verified live with GET /personal_access_tokens/self, made with the token
 * itself (no admin token; any scope, gitlab-facts §3). One revoked behind the service's back (401) is
 * replaced by the standby when that is live (replaceRefusedToken, which verifies it), else both are
 * dropped, the instance is degraded and 409 bot_token_unusable is answered. GitLab failing otherwise
 * (unreachable, 5xx): the token is served, as without the verification.
 */
async function verifiedBotToken(deps: ServiceDeps, instanceId: string, served: BotToken, actor: string, log: RequestLog): Promise<BotToken> {
  const instance = await findInstanceById(deps.db, instanceId);
  if (!instance || !(await claimVerification(deps, instance, 'botToken'))) return served;
  let live: boolean;
  try {
    live = await isLive(deps.gitlab, gitlabTargetOf(instance, log), served.token);
  } catch (error) {
    log.warn({ instanceId, err: error }, 'the periodic bot token verification could not reach GitLab; the token is served');
    return served;
  }
  if (live) return served;
  log.warn({ instanceId }, 'GitLab refused the served bot token at its periodic verification');
  if (!(await replaceRefusedToken(deps, instanceId, actor, log))) throw unusable();
  return servedBotToken(deps, instanceId, actor, log);
}

/**
 * Returns the served bot token, rotating first when either token expires within BOT_TOKEN_ROTATE_DAYS
 * (single-flight across processes, credential-refresh.ts), and never one GitLab refused at the last
 * verification (verifiedBotToken: at most one GitLab call per instance per VERIFY_INTERVAL_MS). Throws
 * instance_not_found, instance_not_ready, bot_token_unusable (the instance then degraded), or a GitLab
 * failure code when the rotation failed and the served token cannot be served.
 */
export async function botTokenFor(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog): Promise<BotToken> {
  return verifiedBotToken(deps, instanceId, await servedBotToken(deps, instanceId, actor, log), actor, log);
}

/** What a scheduled rotation did: `rotated` (the stored tokens changed), and whether a token is still `due` afterwards (not rotated and due: the rotation failed). */
export interface ScheduledRotation {
  rotated: boolean;
  due: boolean;
  instance: Instance;
}

/**
 * The upkeep's rotation: the same single-flight rotation as a worker's call (so the two never both
 * rotate), due `rotateDays` before expiry or at half the lifetime. A GitLab failure leaves the served
 * token served (as for a worker) and is reported as `due: true` afterwards; throws bot_token_unusable and
 * instance_not_ready as botTokenFor.
 */
export async function rotateBotTokenIfDue(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog, rotateDays: number): Promise<ScheduledRotation> {
  const before = withBotToken(await findInstanceById(deps.db, instanceId), instanceId);
  if (!canRotateBotToken(before)) return { rotated: false, due: false, instance: before };
  await servedBotToken(deps, instanceId, actor, log, rotateDays);
  const after = withBotToken(await findInstanceById(deps.db, instanceId), instanceId);
  return { rotated: pairKey(after) !== pairKey(before), due: needsRotation(after, deps.clock(), rotateDays), instance: after };
}

/**
 * Operator rotations running in this process (per app, by instance id). A call arriving meanwhile joins
 * the one running: its own first read could come after that rotation ended (waiting for a new database
 * connection on a loaded machine, say) and would then rotate again. Calls on other processes are
 * coalesced by the lease (credential-refresh.ts) when their first read comes before the rotation ends.
 */
const operatorRotations = new WeakMap<ServiceDeps, Map<string, Promise<BotToken>>>();

/**
 * Rotates now (an operator's action, e.g. a suspected leak) and returns the new served token. Both
 * tokens are replaced; concurrent calls cause one rotation and all get its token. Throws as botTokenFor,
 * and the GitLab failure code whenever the rotation did not complete (the old token is then never returned).
 */
export function rotateBotTokenNow(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog): Promise<BotToken> {
  let running = operatorRotations.get(deps);
  if (!running) operatorRotations.set(deps, (running = new Map<string, Promise<BotToken>>()));
  // The id as the route got it: a UUID may come in capitals.
  const key = instanceId.toLowerCase();
  const joined = running.get(key);
  if (joined) return joined;
  const rotation = rotateForOperator(deps, instanceId, actor, log).finally(() => running.delete(key));
  running.set(key, rotation);
  return rotation;
}

async function rotateForOperator(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog): Promise<BotToken> {
  const rotations = flight(deps, instanceId, (instance, now, lease) => rotateForLeak(deps, instance, contextOf(instance, now, lease, log, { actor, forced: true })));
  const first = await rotations.read();
  const before = pairKey(first);
  return outcomeOf(
    await refreshOnce(deps, {
      ...rotations,
      firstRead: first,
      // Due until the tokens seen at the call's start have been replaced (by this call or a concurrent one).
      isDue: (instance) => pairKey(instance) === before,
      holderGitlabCalls: LEAK_ROTATION_GITLAB_CALLS,
    }),
  );
}

/**
 * GitLab refused the served token outside a rotation (a live check saw 401 with it): the standby, when
 * stored and live, is served from then on (promoteStandby); else both are dropped and the instance is
 * degraded (bot_token_unusable). Single-flight with rotations: a pair changed meanwhile is left alone.
 * Returns whether a working token is served afterwards. Throws instance_not_found, instance_not_ready,
 * bot_token_unusable (already dropped), or a GitLab failure code.
 */
export async function replaceRefusedToken(deps: ServiceDeps, instanceId: string, actor: string, log: RequestLog): Promise<boolean> {
  const replacing = flight(deps, instanceId, (instance, now, lease) => {
    const context = contextOf(instance, now, lease, log, { actor, forced: false });
    return hasStandby(instance) ? promoteStandby(deps, instance, context) : dropDeadToken(deps, instance, context);
  });
  const before = pairKey(await replacing.read());
  const outcome = await refreshOnce(deps, { ...replacing, isDue: (instance) => pairKey(instance) === before, holderGitlabCalls: ROTATION_GITLAB_CALLS });
  return 'served' in outcome;
}
