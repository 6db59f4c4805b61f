// All SQL on webhook_events: storing a delivery once, the ordered feed, and the retention.
import { sql } from 'kysely';
import type { Executor } from './types.js';

export interface NewWebhookEvent {
  installationId: string;
  instanceId: string;
  projectId: number | string;
  eventKind: string;
  deliveryKey: string;
  webhookUuid: string | null;
  eventUuid: string | null;
  idempotencyKey: string | null;
  body: string;
  now: Date;
}

/**
 * Stores a delivery unless (installation, delivery key) is already stored; true when this call stored
 * it. Two processes storing the same delivery at once: the second waits for the first's commit, then
 * stores nothing (the unique constraint), so a delivery is never stored twice.
 */
export async function storeWebhookEvent(db: Executor, event: NewWebhookEvent): Promise<boolean> {
  const row = await db
    .insertInto('webhook_events')
    .values({
      installation_id: event.installationId,
      instance_id: event.instanceId,
      project_id: event.projectId,
      event_kind: event.eventKind,
      delivery_key: event.deliveryKey,
      webhook_uuid: event.webhookUuid,
      event_uuid: event.eventUuid,
      idempotency_key: event.idempotencyKey,
      body: event.body,
      body_bytes: Buffer.byteLength(event.body),
      received_at: event.now,
    })
    .onConflict((oc) => oc.columns(['installation_id', 'delivery_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export interface FeedPosition {
  tx: string;
  id: string;
}

export interface FeedRow {
  id: string;
  tx: string;
  installationId: string;
  instanceId: string;
  projectId: string;
  eventKind: string;
  deliveryKey: string;
  body: string;
  bodyBytes: number;
  receivedAt: Date;
}

export interface FeedRead {
  rows: FeedRow[];
  /**
   * No row returned, yet the event after the cursor is stored: a transaction older than its own is still
   * running, which hides it for now (no notification comes when that transaction ends).
   */
  hidden: boolean;
}

/**
 * Up to `limit` events after `after`, in (transaction, id) order, stopping once `maxBytes` of bodies are
 * read (at least one event). Only events of transactions older than every transaction still running
 * (`pg_snapshot_xmin`) are returned: a transaction that began earlier but commits later cannot then add
 * a row behind a cursor already handed out.
 */
export async function readWebhookFeed(db: Executor, after: FeedPosition | null, limit: number, maxBytes: number): Promise<FeedRead> {
  // First the positions and sizes only (no body), then the bodies of the events that fit. In (tx, id)
  // order the rows under the horizon come first: the positions stop at the first row over it.
  let positions = db
    .selectFrom('webhook_events')
    .select([sql<string>`id::text`.as('id'), 'body_bytes as bodyBytes', sql<boolean>`tx < pg_snapshot_xmin(pg_current_snapshot())`.as('visible')]);
  if (after) positions = positions.where(sql<boolean>`(tx, id) > (${after.tx}::xid8, ${after.id}::bigint)`);
  const found = await positions.orderBy(sql`tx`).orderBy('id').limit(limit).execute();
  const ids: string[] = [];
  let bytes = 0;
  for (const row of found) {
    bytes += row.bodyBytes;
    if (!row.visible || (ids.length > 0 && bytes > maxBytes)) break;
    ids.push(row.id);
  }
  if (ids.length === 0) return { rows: [], hidden: found.length > 0 };
  const rows = await db
    .selectFrom('webhook_events')
    .select([
      sql<string>`id::text`.as('id'),
      sql<string>`tx::text`.as('tx'),
      'installation_id as installationId',
      'instance_id as instanceId',
      sql<string>`project_id::text`.as('projectId'),
      'event_kind as eventKind',
      'delivery_key as deliveryKey',
      'body',
      'body_bytes as bodyBytes',
      'received_at as receivedAt',
    ])
    .where('id', 'in', ids)
    .orderBy(sql`tx`)
    .orderBy('id')
    .execute();
  return { rows, hidden: false };
}

/** Deletes events received before `before`; returns how many. */
export async function deleteWebhookEventsBefore(db: Executor, before: Date): Promise<number> {
  const result = await db.deleteFrom('webhook_events').where('received_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
