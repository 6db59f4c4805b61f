// GitLab's webhook deliveries: checked against the installation's secret token in constant time, stored
// once per delivery, and read back in order by the review workers (with a long-poll that a NOTIFY wakes).
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { hashSecret } from '../crypto/tokens.js';
import { findInstallationForDelivery } from '../db/installations.repo.js';
import { deleteWebhookEventsBefore, readWebhookFeed, storeWebhookEvent, type FeedRow } from '../db/webhook-events.repo.js';
import { AppError } from '../errors.js';
import type { RequestLog, ServiceDeps } from './deps.js';

const DAY_MS = 86_400_000;
/** A feed answer carries at most this many bytes of event bodies (at least one event, whatever its size). */
export const FEED_MAX_BYTES = 16 * 1024 * 1024;
/**
 * While the next event is hidden behind an older transaction still running, the feed looks again after
 * this long, doubling up to HIDDEN_RECHECK_MAX_MS: no notification comes when that transaction ends.
 */
const HIDDEN_RECHECK_MS = 25;
const HIDDEN_RECHECK_MAX_MS = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WebhookDelivery {
  installationId: string;
  /** X-Gitlab-Token as sent. */
  token: string | undefined;
  /** X-Gitlab-Event, e.g. `Merge Request Hook`. */
  eventKind: string;
  webhookUuid?: string | undefined;
  eventUuid?: string | undefined;
  idempotencyKey?: string | undefined;
  /** The JSON body exactly as received. */
  body: string;
}

const unauthorized = () => new AppError('webhook_unauthorized', 'Unknown installation or wrong X-Gitlab-Token: reinstall the bot on the project (PUT /repositories/:projectId/installation) to give its webhook a fresh secret token');

/**
 * The key under which a delivery is stored once: GitLab's `Idempotency-Key` (17.4+, the same on each of
 * its retries), else `X-Gitlab-Event-UUID` (kept across retries, shared by the hooks one request
 * triggers, so with the event kind), else nothing that survives a retry (a random key: no dedupe).
 */
export function deliveryKeyOf(delivery: Pick<WebhookDelivery, 'idempotencyKey' | 'eventUuid' | 'eventKind'>): string {
  if (delivery.idempotencyKey) return `idempotency:${delivery.idempotencyKey}`;
  if (delivery.eventUuid) return `event:${delivery.eventUuid}:${delivery.eventKind}`;
  return `random:${randomUUID()}`;
}

/**
 * Stores a delivery for its installation after checking its token in constant time; answers whether
 * it was new (`stored`) or seen before. Throws 401 webhook_unauthorized (nothing stored) for an unknown
 * installation or a wrong token.
 */
export async function receiveWebhook(deps: ServiceDeps, delivery: WebhookDelivery, log: RequestLog): Promise<{ stored: boolean }> {
  if (!UUID.test(delivery.installationId) || delivery.token === undefined) throw unauthorized();
  const installation = await findInstallationForDelivery(deps.db, delivery.installationId);
  const expected = Buffer.from(installation?.hookTokenHash ?? hashSecret(randomUUID()), 'hex');
  // Both sides are sha256 digests: equal lengths, compared in constant time.
  if (!timingSafeEqual(Buffer.from(hashSecret(delivery.token), 'hex'), expected) || !installation) throw unauthorized();
  const stored = await storeWebhookEvent(deps.db, {
    installationId: installation.id,
    instanceId: installation.instanceId,
    projectId: installation.projectId,
    eventKind: delivery.eventKind,
    deliveryKey: deliveryKeyOf(delivery),
    webhookUuid: delivery.webhookUuid ?? null,
    eventUuid: delivery.eventUuid ?? null,
    idempotencyKey: delivery.idempotencyKey ?? null,
    body: delivery.body,
    now: deps.clock(),
  });
  deps.webhookFeed.wake();
  if (!stored) log.info({ installationId: installation.id }, 'webhook delivery seen before; acknowledged, not stored again');
  return { stored };
}

/** The opaque cursor of an event: its transaction and id. */
export const cursorOf = (row: Pick<FeedRow, 'tx' | 'id'>) => `${row.tx}-${row.id}`;

function parseCursor(cursor: string | undefined) {
  if (cursor === undefined || cursor === '') return null;
  const match = /^(\d{1,20})-(\d{1,19})$/.exec(cursor);
  if (!match) throw new AppError('validation_failed', 'after must be a cursor this feed handed out (nextCursor or an event\'s cursor)', { errors: [{ field: 'after', message: 'not a cursor of this feed' }] });
  return { tx: match[1], id: match[2] };
}

export interface FeedQuery {
  after?: string;
  limit: number;
  waitSeconds: number;
}

/**
 * Events after the cursor, in order; with `waitSeconds`, waits (holding no database connection) until
 * an event arrives or the time is up. `nextCursor` is the last event's cursor, or `after` when none
 * came. Throws 429 rate_limited when this process already has the maximum of waiting readers.
 */
export async function readFeed(deps: ServiceDeps, query: FeedQuery): Promise<{ events: FeedRow[]; nextCursor: string | null }> {
  const after = parseCursor(query.after);
  let deadline = Date.now() + query.waitSeconds * 1000;
  let recheckMs = HIDDEN_RECHECK_MS;
  for (;;) {
    const generation = deps.webhookFeed.generation;
    const { rows: events, hidden } = await readWebhookFeed(deps.db, after, query.limit, FEED_MAX_BYTES);
    const last = events.at(-1);
    if (last) return { events, nextCursor: cursorOf(last) };
    const left = deadline - Date.now();
    if (left <= 0) return { events, nextCursor: query.after || null };
    const outcome = await deps.webhookFeed.wait(hidden ? Math.min(left, recheckMs) : left, generation);
    if (outcome === 'full') throw new AppError('rate_limited', 'Too many feed readers are waiting on this process: retry in a second', { retryAfter: 1 });
    if (hidden) recheckMs = Math.min(recheckMs * 2, HIDDEN_RECHECK_MAX_MS);
    // Time is up (or the process is shutting down): one last read, then the answer.
    if (outcome === 'released' || (outcome === 'timeout' && !hidden)) deadline = 0;
  }
}

/** Deletes stored webhook events older than WEBHOOK_EVENT_RETENTION_DAYS; returns how many (an upkeep task). */
export async function deleteExpiredWebhookEvents(deps: ServiceDeps): Promise<number> {
  return deleteWebhookEventsBefore(deps.db, new Date(deps.clock().getTime() - deps.config.webhookEventRetentionDays * DAY_MS));
}
