// All SQL on instances and instance_events.
import type { Transaction } from 'kysely';
import type { DB, Executor, Instance, InstanceUpdate, NewInstanceEvent } from './types.js';

export function findInstanceById(db: Executor, id: string): Promise<Instance | undefined> {
  return db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listInstances(db: Executor): Promise<Instance[]> {
  return db.selectFrom('instances').selectAll().orderBy('created_at').execute();
}

/** Updates the instance only while the bootstrap lease is still `leaseUntil`; undefined when it is not. */
export function updateLeasedInstance(db: Executor, id: string, leaseUntil: Date, changes: InstanceUpdate): Promise<Instance | undefined> {
  return db.updateTable('instances').set(changes).where('id', '=', id).where('bootstrap_lease_until', '=', leaseUntil).returningAll().executeTakeFirst();
}

export async function insertInstanceEvent(db: Executor, event: NewInstanceEvent): Promise<void> {
  await db.insertInto('instance_events').values(event).execute();
}

export function listInstanceEvents(db: Executor, instanceId: string) {
  return db.selectFrom('instance_events').selectAll().where('instance_id', '=', instanceId).orderBy('id').execute();
}

/**
 * Claims the right to bootstrap `url` until `leaseUntil`: inserts the instance, or takes over one whose
 * previous lease is gone. Undefined when another bootstrap holds the lease. One statement, so two
 * processes racing for the same URL cannot both win. A ready instance stays ready while it is repaired.
 */
export function claimInstanceForBootstrap(db: Executor, url: string, now: Date, leaseUntil: Date): Promise<Instance | undefined> {
  return db
    .insertInto('instances')
    .values({ url, status: 'bootstrapping', bootstrap_lease_until: leaseUntil })
    .onConflict((conflict) =>
      conflict
        .column('url')
        .doUpdateSet((eb) => ({
          bootstrap_lease_until: leaseUntil,
          status: eb.case().when('instances.status', '=', 'ready').then('ready' as const).else('bootstrapping' as const).end(),
          updated_at: now,
        }))
        .where((eb) => eb.or([eb('instances.bootstrap_lease_until', 'is', null), eb('instances.bootstrap_lease_until', '<=', now)])),
    )
    .returningAll()
    .executeTakeFirst();
}

/**
 * Reads the instance under a row lock (inside a transaction), or fails at once with lock_not_available
 * (55P03) when another transaction holds it: callers wait through retryWhileRowLocked, not on a connection.
 */
export function lockInstanceById(trx: Transaction<DB>, id: string): Promise<Instance | undefined> {
  return trx.selectFrom('instances').selectAll().where('id', '=', id).forUpdate().noWait().executeTakeFirst();
}

export async function storeBotToken(db: Executor, id: string, token: { tokenId: number; sealed: string; expiresAt: Date | null; now: Date }): Promise<void> {
  await db
    .updateTable('instances')
    .set({ bot_token_id: token.tokenId, bot_token_sealed: token.sealed, bot_token_expires_at: token.expiresAt, bot_token_issued_at: token.now, updated_at: token.now })
    .where('id', '=', id)
    .execute();
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
      oauth_application_id: null,
      oauth_client_id: null,
      oauth_client_secret_sealed: null,
      oauth_scopes: null,
      oauth_redirect_uri: null,
      bootstrap_lease_until: null,
      updated_at: now,
    })
    .where('id', '=', id)
    .execute();
}

/** GitLab refused the bot token (401): drop it, keep the instance ready (logins still work), and say why. */
export async function markBotTokenUnusable(db: Executor, id: string, failure: { detail: string; now: Date }): Promise<void> {
  await db
    .updateTable('instances')
    .set({ bot_token_sealed: null, last_error_step: 'bot_token', last_error_code: 'bot_token_unusable', last_error_detail: failure.detail, updated_at: failure.now })
    .where('id', '=', id)
    .execute();
}
