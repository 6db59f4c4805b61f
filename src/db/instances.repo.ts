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

export async function updateInstance(db: Executor, id: string, changes: InstanceUpdate): Promise<Instance> {
  return db.updateTable('instances').set({ ...changes, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function insertInstanceEvent(db: Executor, event: NewInstanceEvent): Promise<void> {
  await db.insertInto('instance_events').values(event).execute();
}

export function listInstanceEvents(db: Executor, instanceId: string) {
  return db.selectFrom('instance_events').selectAll().where('instance_id', '=', instanceId).orderBy('id').execute();
}
