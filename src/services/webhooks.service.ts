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

/** A cursor this feed never handed out; the route names the field it came in. */
export class InvalidCursorError extends AppError {
  constructor() {
    super('validation_failed', "The cursor is not one this feed handed out (a nextCursor or an event's cursor)");
    this.name = 'InvalidCursorError';
  }
}

function parseCursor(cursor: string | undefined) {
  if (cursor === undefined || cursor === '') return null;
  const match = /^(\d{1,20})-(\d{1,19})$/.exec(cursor);
  if (!match) throw new InvalidCursorError();
  return { tx: match[1], id: match[2] };
}

export interface FeedQuery {
  after?: string;
  limit: number;
  waitSeconds: number;
}

/** While committed events wait on an older transaction (FeedRead.pending), readers ask again after 25 ms, doubling up to 1 s. */
const PENDING_POLL_MS = { first: 25, max: 1000 };

/**
 * Events after the cursor, in order; with `waitSeconds`, waits (holding no database connection) until
 * an event arrives or the time is up. A NOTIFY wakes the wait; events committed behind a transaction
 * still running are asked for again every ≤ 1 s, as no notification says when it ends. `nextCursor` is
 * the last event's cursor, or `after` when none came. Throws 429 rate_limited when this process already
 * has the maximum of waiting readers.
 */
export async function readFeed(deps: ServiceDeps, query: FeedQuery): Promise<{ events: FeedRow[]; nextCursor: string | null }> {
  const after = parseCursor(query.after);
  let deadline = Date.now() + query.waitSeconds * 1000;
  let pollMs = PENDING_POLL_MS.first;
  for (;;) {
    const generation = deps.webhookFeed.generation;
    const { rows: events, pending } = await readWebhookFeed(deps.db, after, query.limit, FEED_MAX_BYTES);
    const last = events.at(-1);
    if (last) return { events, nextCursor: cursorOf(last) };
    const left = deadline - Date.now();
    if (left <= 0) return { events, nextCursor: query.after || null };
    const waitMs = pending ? Math.min(left, pollMs) : left;
    if (pending) pollMs = Math.min(pollMs * 2, PENDING_POLL_MS.max);
    const outcome = await deps.webhookFeed.wait(waitMs, generation);
    if (outcome === 'full') throw new AppError('rate_limited', 'Too many feed readers are waiting on this process: retry in a second', { retryAfter: 1 });
    // Time is up (or the process is shutting down): one last read, then the answer.
    if (outcome === 'released' || (outcome === 'timeout' && waitMs === left)) deadline = 0;
  }
}

/** Deletes stored webhook events older than WEBHOOK_EVENT_RETENTION_DAYS; returns how many (an upkeep task). */
export async function deleteExpiredWebhookEvents(deps: ServiceDeps): Promise<number> {
  return deleteWebhookEventsBefore(deps.db, new Date(deps.clock().getTime() - deps.config.webhookEventRetentionDays * DAY_MS));
}
