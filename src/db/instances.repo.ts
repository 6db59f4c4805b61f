// All SQL on instances and instance_events.
import { sql, type Transaction } from 'kysely';
import type { Instance, InstanceChanges, InstanceEvent, NewInstanceEvent } from '../domain/types.js';
import { fromRow, fromRowOrUndefined, toRow } from './rows.js';
import type { DB, Executor, InstanceUpdate } from './types.js';

export async function findInstanceById(db: Executor, id: string): Promise<Instance | undefined> {
  return fromRowOrUndefined(await db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst());
}

export async function listInstances(db: Executor): Promise<Instance[]> {
  return (await db.selectFrom('instances').selectAll().orderBy('created_at').execute()).map(fromRow);
}

/** Updates the instance only while `holder` holds the bootstrap lease; undefined when it does not. */
export async function updateLeasedInstance(db: Executor, id: string, holder: string, changes: InstanceChanges): Promise<Instance | undefined> {
  const updated = await db
    .updateTable('instances')
    .set(toRow<InstanceUpdate>(changes))
    .where('id', '=', id)
    .where('bootstrap_lease_holder', '=', holder)
    .returningAll()
    .executeTakeFirst();
  return fromRowOrUndefined(updated);
}

/** The longest event detail kept: details may quote GitLab, and the audit trail is served whole. */
const MAX_EVENT_DETAIL_LENGTH = 2000;

/** Appends one event to an instance's audit trail (`detail` cut to 2000 characters). */
export async function insertInstanceEvent(db: Executor, event: NewInstanceEvent): Promise<void> {
  await db
    .insertInto('instance_events')
    .values({ instance_id: event.instanceId, step: event.step, outcome: event.outcome, actor: event.actor, detail: event.detail?.slice(0, MAX_EVENT_DETAIL_LENGTH) ?? null, error_code: event.errorCode })
    .execute();
}

export async function listInstanceEvents(db: Executor, instanceId: string): Promise<InstanceEvent[]> {
  return (await db.selectFrom('instance_events').selectAll().where('instance_id', '=', instanceId).orderBy('id').execute()).map(fromRow);
}

/** Extends the bootstrap lease while `holder` still has it (the heartbeat); false when it was lost. */
export async function renewBootstrapLease(db: Executor, id: string, holder: string, until: Date): Promise<boolean> {
  const renewed = await db.updateTable('instances').set({ bootstrap_lease_until: until }).where('id', '=', id).where('bootstrap_lease_holder', '=', holder).executeTakeFirst();
  return renewed.numUpdatedRows > 0n;
}

/**
 * Claims the right to bootstrap `url` for `holder` until `lease.until`: inserts the instance, or takes
 * over one whose previous lease is gone. Undefined when another bootstrap holds the lease. One
 * statement, so two processes racing for the same URL cannot both win. A ready instance stays ready
 * while it is repaired.
 */
export async function claimInstanceForBootstrap(db: Executor, url: string, lease: { holder: string; now: Date; until: Date }): Promise<Instance | undefined> {
  const { holder, now, until: leaseUntil } = lease;
  const claimed = await db
    .insertInto('instances')
    .values({ url, status: 'bootstrapping', bootstrap_lease_until: leaseUntil, bootstrap_lease_holder: holder })
    .onConflict((conflict) =>
      conflict
        .column('url')
        .doUpdateSet((eb) => ({
          bootstrap_lease_until: leaseUntil,
          bootstrap_lease_holder: holder,
          status: eb.case().when('instances.status', '=', 'ready').then('ready' as const).else('bootstrapping' as const).end(),
          updated_at: now,
        }))
        .where((eb) => eb.or([eb('instances.bootstrap_lease_until', 'is', null), eb('instances.bootstrap_lease_until', '<=', now)])),
    )
    .returningAll()
    .executeTakeFirst();
  return fromRowOrUndefined(claimed);
}

/** Reads the instance under a row lock, inside a short transaction (no lock here is ever held across a GitLab call). */
export async function lockInstanceById(trx: Transaction<DB>, id: string): Promise<Instance | undefined> {
  return fromRowOrUndefined(await trx.selectFrom('instances').selectAll().where('id', '=', id).forUpdate().executeTakeFirst());
}

/** One stored bot token: GitLab's id, the sealed secret, its expiry and when it was issued. */
export interface StoredBotToken {
  tokenId: string;
  sealed: string;
  expiresAt: Date | null;
  issuedAt: Date | null;
}

/**
 * Stores the bot's tokens after a rotation: `served` is handed out, `standby` (null: none, a one-token
 * instance) is the one the next rotation rotates; a stored problem whose code is `endsProblem` is cleared.
 * Only while `holder` holds the rotation lease; false when it was lost.
 */
export async function storeBotTokens(
  db: Executor,
  id: string,
  holder: string,
  tokens: { served: StoredBotToken; standby: StoredBotToken | null; now: Date; endsProblem: string },
): Promise<boolean> {
  const { served, standby, endsProblem } = tokens;
  const stored = await db
    .updateTable('instances')
    .set({
      bot_token_id: served.tokenId,
      bot_token_sealed: served.sealed,
      bot_token_expires_at: served.expiresAt,
      bot_token_issued_at: served.issuedAt,
      bot_standby_token_id: standby?.tokenId ?? null,
      bot_standby_token_sealed: standby?.sealed ?? null,
      bot_standby_token_expires_at: standby?.expiresAt ?? null,
      bot_standby_token_issued_at: standby?.issuedAt ?? null,
      problem_code: sql<string | null>`case when problem_code = ${endsProblem} then null else problem_code end`,
      problem_step: sql<string | null>`case when problem_code = ${endsProblem} then null else problem_step end`,
      problem_detail: sql<string | null>`case when problem_code = ${endsProblem} then null else problem_detail end`,
      updated_at: tokens.now,
    })
    .where('id', '=', id)
    .where('credential_lease_holder', '=', holder)
    .executeTakeFirst();
  return stored.numUpdatedRows > 0n;
}

/**
 * Deletes (with their events) at most `limit` instances that never became ready and are abandoned: status
 * failed (or bootstrapping with a lapsed lease), no reference to anything on GitLab (bot user, bot token,
 * OAuth application), no user, and not touched since `cutoff`. Strangers can create such rows with a made-up
 * token or an unresolvable name; this keeps them from piling up. Returns how many were deleted.
 */
export async function deleteAbandonedInstances(db: Executor, cutoff: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('instances')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('instances as i')
        .select('i.id')
        .where((w) => w.or([w('i.status', '=', 'failed'), w.and([w('i.status', '=', 'bootstrapping'), w('i.bootstrap_lease_until', '<', cutoff)])]))
        .where('i.bot_user_id', 'is', null)
        .where('i.bot_token_id', 'is', null)
        .where('i.oauth_application_id', 'is', null)
        .where('i.updated_at', '<', cutoff)
        .where((w) => w.not(w.exists(w.selectFrom('users').select('users.id').whereRef('users.instance_id', '=', 'i.id'))))
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Takes the instance out of service: status removed, every secret and GitLab resource reference wiped, any lease dropped. */
export async function markInstanceRemoved(db: Executor, id: string, now: Date): Promise<void> {
  await db
    .updateTable('instances')
    .set({
      status: 'removed',
      bot_token_id: null,
      bot_token_sealed: null,
      bot_token_expires_at: null,
      bot_standby_token_id: null,
      bot_standby_token_sealed: null,
      bot_standby_token_expires_at: null,
      oauth_application_id: null,
      oauth_client_id: null,
      oauth_client_secret_sealed: null,
      oauth_scopes: null,
      oauth_redirect_uri: null,
      bootstrap_lease_until: null,
      bootstrap_lease_holder: null,
      credential_lease_holder: null,
      credential_lease_until: null,
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

/** An instance's problem as stored (problem_code, problem_step, problem_detail): `title` says what to do. */
export interface StoredProblem {
  code: string;
  step: string;
  title: string;
}

/**
 * GitLab refused the bot token (401) and no standby token works: drop both and store `problem` as the
 * failed step and the instance's problem (degraded; logins still work). Fenced on the rotation lease:
 * false when `holder` no longer holds it (nothing written).
 */
export async function markBotTokenUnusable(db: Executor, id: string, holder: string, problem: StoredProblem, now: Date): Promise<boolean> {
  const marked = await db
    .updateTable('instances')
    .set({
      bot_token_sealed: null,
      bot_standby_token_sealed: null,
      last_error_step: problem.step,
      last_error_code: problem.code,
      last_error_detail: problem.title,
      // The instance is degraded (instance-health.ts) until a bootstrap or new credentials give it a token.
      problem_code: problem.code,
      problem_step: problem.step,
      problem_detail: problem.title,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('credential_lease_holder', '=', holder)
    .executeTakeFirst();
  return marked.numUpdatedRows > 0n;
}

/**
 * Stores what a live check found on a ready instance (`problem` null: nothing dead) and when it ran;
 * false when the instance is not ready (nothing written).
 */
export async function storeCheckedProblem(
  db: Executor,
  id: string,
  found: { problem: StoredProblem | null; checkedAt: Date; verified?: { botToken: boolean; oauthClient: boolean } },
): Promise<boolean> {
  const { problem, checkedAt, verified } = found;
  const stored = await db
    .updateTable('instances')
    .set({
      problem_code: problem?.code ?? null,
      problem_step: problem?.step ?? null,
      problem_detail: problem?.title ?? null,
      checked_at: checkedAt,
      updated_at: checkedAt,
      // What the check found live needs no verification by the internal routes for an interval.
      ...(verified?.botToken ? { bot_token_verified_at: checkedAt } : {}),
      ...(verified?.oauthClient ? { oauth_client_verified_at: checkedAt } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', 'ready')
    .executeTakeFirst();
  return stored.numUpdatedRows > 0n;
}

/** A credential of a ready instance found dead outside a check: the instance degraded with `problem`. False when it already was (or is not ready). */
export async function markInstanceProblem(db: Executor, id: string, problem: StoredProblem, now: Date): Promise<boolean> {
  const marked = await db
    .updateTable('instances')
    .set({ problem_code: problem.code, problem_step: problem.step, problem_detail: problem.title, updated_at: now })
    .where('id', '=', id)
    .where('status', '=', 'ready')
    .where((eb) => eb.or([eb('problem_code', 'is', null), eb('problem_code', '!=', problem.code)]))
    .executeTakeFirst();
  return marked.numUpdatedRows > 0n;
}

/** Which live verification an internal route claims: the bot token's or the OAuth client's. */
export type VerifiedCredential = 'botToken' | 'oauthClient';

const VERIFIED_AT_COLUMN = { botToken: 'bot_token_verified_at', oauthClient: 'oauth_client_verified_at' } as const;

/**
 * Claims the live verification of `credential` on a ready instance when none ran since `cutoff`: one
 * conditional update, so of all processes at most one verifies per interval. True when claimed.
 */
export async function claimCredentialVerification(db: Executor, id: string, credential: VerifiedCredential, times: { now: Date; cutoff: Date }): Promise<boolean> {
  const column = VERIFIED_AT_COLUMN[credential];
  const claimed = await db
    .updateTable('instances')
    .set({ [column]: times.now })
    .where('id', '=', id)
    .where('status', '=', 'ready')
    .where((eb) => eb.or([eb(column, 'is', null), eb(column, '<=', times.cutoff)]))
    .executeTakeFirst();
  return claimed.numUpdatedRows > 0n;
}
