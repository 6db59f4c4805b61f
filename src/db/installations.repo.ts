// All SQL on installations: the bot on a GitLab project, its hook and who installed it.
import { sql } from 'kysely';
import type { Installation } from '../domain/types.js';
import { fromRow, fromRowOrUndefined } from './rows.js';
import type { Executor } from './types.js';

/**
 * The installation of (instance, project), created when there is none. `created` says whether this call
 * inserted it (concurrent calls: exactly one does).
 */
export async function claimInstallation(db: Executor, input: { instanceId: string; projectId: number; pathWithNamespace: string; now: Date }): Promise<{ installation: Installation; created: boolean }> {
  const row = await db
    .insertInto('installations')
    .values({ instance_id: input.instanceId, project_id: input.projectId, path_with_namespace: input.pathWithNamespace, created_at: input.now, updated_at: input.now })
    .onConflict((oc) => oc.columns(['instance_id', 'project_id']).doUpdateSet({ path_with_namespace: input.pathWithNamespace }))
    .returningAll()
    .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
    .executeTakeFirstOrThrow();
  const { inserted, ...installation } = row;
  return { installation: fromRow(installation), created: inserted };
}

export async function findInstallationById(db: Executor, id: string): Promise<Installation | undefined> {
  return fromRowOrUndefined(await db.selectFrom('installations').selectAll().where('id', '=', id).executeTakeFirst());
}

/** What the webhook intake needs of an installation: one primary-key read. */
export async function findInstallationForDelivery(db: Executor, id: string) {
  return db.selectFrom('installations').select(['id', 'instance_id as instanceId', 'project_id as projectId', 'hook_token_hash as hookTokenHash']).where('id', '=', id).executeTakeFirst();
}

export async function findInstallation(db: Executor, instanceId: string, projectId: number): Promise<Installation | undefined> {
  return fromRowOrUndefined(await db.selectFrom('installations').selectAll().where('instance_id', '=', instanceId).where('project_id', '=', String(projectId)).executeTakeFirst());
}

/** The installations of `instanceId` among `projectIds`. */
export async function installationsOfProjects(db: Executor, instanceId: string, projectIds: number[]): Promise<Installation[]> {
  if (projectIds.length === 0) return [];
  const rows = await db.selectFrom('installations').selectAll().where('instance_id', '=', instanceId).where('project_id', 'in', projectIds.map(String)).execute();
  return rows.map((row) => fromRow(row));
}

export async function installationsOfInstance(db: Executor, instanceId: string): Promise<Installation[]> {
  const rows = await db.selectFrom('installations').selectAll().where('instance_id', '=', instanceId).orderBy('created_at').execute();
  return rows.map((row) => fromRow(row));
}

/** Records the hook and membership an install (or a repair) left on GitLab; the installation works again. */
export async function recordInstallationHook(
  db: Executor,
  id: string,
  values: { hookId: number; hookTokenHash: string | null; membershipAddedByUs?: boolean; installedBy?: string; now: Date },
): Promise<Installation> {
  const row = await db
    .updateTable('installations')
    .set({
      hook_id: values.hookId,
      ...(values.hookTokenHash === null ? {} : { hook_token_hash: values.hookTokenHash }),
      ...(values.membershipAddedByUs === undefined ? {} : { membership_added_by_us: values.membershipAddedByUs }),
      ...(values.installedBy === undefined ? {} : { installed_by: values.installedBy }),
      broken_reason: null,
      checked_at: values.now,
      updated_at: values.now,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

/** Marks an installation broken with what the user must do (null: working again). */
export async function markInstallationBroken(db: Executor, id: string, reason: string | null, now: Date): Promise<void> {
  await db.updateTable('installations').set({ broken_reason: reason, checked_at: now, updated_at: now }).where('id', '=', id).execute();
}

export async function deleteInstallation(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('installations').where('id', '=', id).execute();
}

/** How many installations an instance has, and how many of them are broken. */
export async function countInstallations(db: Executor, instanceId: string): Promise<{ total: number; broken: number }> {
  const row = await db
    .selectFrom('installations')
    .select([sql<string>`count(*)`.as('total'), sql<string>`count(*) filter (where broken_reason is not null)`.as('broken')])
    .where('instance_id', '=', instanceId)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), broken: Number(row.broken) };
}
