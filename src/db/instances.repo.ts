// All SQL on instances and instance_events.
import type { Kysely, Transaction } from 'kysely';
import type { DB, Instance, InstanceUpdate, NewInstanceEvent } from './types.js';

type Executor = Kysely<DB> | Transaction<DB>;

export function findInstanceByUrl(db: Executor, url: string): Promise<Instance | undefined> {
  return db.selectFrom('instances').selectAll().where('url', '=', url).executeTakeFirst();
}

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
