// Where this process hears of writes: LISTEN on a channel the tables' triggers notify (instance_changes,
// migration 20261201010000; user_changes, migration 20261205010000; webhook_events), every channel over
// one dedicated connection that reconnects. This process's own writes are reported sooner by
// table-writes.ts.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Database } from './database.js';

/** Payload: the URL of an instance written (an empty string: any instance, e.g. a truncate). */
export const INSTANCE_CHANGES_CHANNEL = 'instance_changes';
/**
 * Payload: `user:<id>`, `session:<token hash>` or `instance:<id>` of a row updated or deleted (an
 * insert changes no kept read), or `*` (a truncate: anything).
 */
export const USER_CHANGES_CHANNEL = 'user_changes';

export interface ChangeHandlers {
  /** A write was announced with `payload` (the channel's format). */
  changed(payload: string): void;
  /** The listener is (again) receiving every notification: what was cached before may be stale. */
  listening(): void;
  /** The listener lost its connection: notifications may be missed until listening() again. */
  deaf(): void;
}

export interface ListenerOptions {
  /** A connection silent for this long is probed with `select 1` (ms). */
  heartbeatMs: number;
  /** Waits between reconnection attempts grow from 100 ms up to this (ms). */
  maxBackoffMs: number;
}

/** What a process hears through: one connection for every channel. */
export interface NotificationListener {
  /**
   * Hears `channel` with `handlers` until the returned function is called: `listening()` once the channel
   * is listened to (again after every reconnection), `deaf()` when the connection is lost, `changed()`
   * per notification. One subscriber per channel. Throws (a programming error) when `channel` is not a
   * lowercase identifier (CHANNEL_NAME) or already has a subscriber; never after: failures are logged
   * and retried until `close()`, and a handler that throws is logged without disturbing the others.
   */
  listen(channel: string, handlers: ChangeHandlers): () => Promise<void>;
  /** Stops listening on every channel and ends the connection. */
  close(): Promise<void>;
}

/**
 * A channel name PostgreSQL keeps as written in an unquoted `LISTEN`: it folds an unquoted identifier to
 * lowercase and reports notifications under the folded name, and truncates past 63 bytes (NAMEDATALEN -
 * 1). https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS
 */
const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Refuses a channel name outside CHANNEL_NAME, or one that `subscribed` already holds. */
function assertNewChannel(channel: string, subscribed: { has(channel: string): boolean }): void {
  if (!CHANNEL_NAME.test(channel)) throw new Error(`notifications: "${channel}" is not a lowercase identifier of at most 63 characters`);
  if (subscribed.has(channel)) throw new Error(`notifications: "${channel}" already has a subscriber`);
}

/**
 * Runs `act` (a call into a subscriber's handlers); one that throws is logged and goes no further: not
 * into the other channels, nor into the connection that delivered the notification (PGlite's single
 * session is left mid-protocol by a callback that throws).
 */
function callSafely(log: Logger, channel: string, act: () => void): void {
  try {
    act();
  } catch (error) {
    log.error({ err: error, channel }, 'a notification handler threw');
  }
}

/** The name the listening connection gives PostgreSQL (pg_stat_activity.application_name). */
export const LISTENER_APPLICATION_NAME = 'gitlab-connect notifications';

/**
 * The process's listener. PostgreSQL: one pg.Client outside the pool (LISTEN is per session; it cannot go
 * through a transaction-pooling PgBouncer) for every channel, so a replica holds one such connection, not
 * one per channel: each costs PostgreSQL a backend (a process and its memory) and a start-up beside the
 * service's own. PGlite: its own in-process listen per channel.
 */
export function createNotificationListener(database: Database, log: Logger, options: ListenerOptions): NotificationListener {
  const inProcess = database.listen?.bind(database);
  if (inProcess) {
    const subscribed = new Set<string>();
    return {
      listen(channel, handlers) {
        assertNewChannel(channel, subscribed);
        subscribed.add(channel);
        const unlisten = inProcess(channel, (payload) => { callSafely(log, channel, () => { handlers.changed(payload); }); }).then((stop) => {
          callSafely(log, channel, () => { handlers.listening(); });
          return stop;
        });
        return async () => {
          subscribed.delete(channel);
          await (await unlisten)();
        };
      },
      close: () => Promise.resolve(),
    };
  }
  if (!database.connectionString) return { listen: () => () => Promise.resolve(), close: () => Promise.resolve() };
  return new PostgresListener(database.connectionString, log, options);
}

/** Every channel over one pg.Client that reconnects with a growing backoff and is probed every heartbeatMs. */
class PostgresListener implements NotificationListener {
  private readonly channels = new Map<string, ChangeHandlers>();
  private stopped = false;
  private client: pg.Client | undefined;
  /** The client once it listens on every channel subscribed while it connected; later ones LISTEN on it one by one. */
  private live: pg.Client | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs = 100;

  constructor(
    private readonly connectionString: string,
    private readonly log: Logger,
    private readonly options: ListenerOptions,
  ) {}

  listen(channel: string, handlers: ChangeHandlers): () => Promise<void> {
    assertNewChannel(channel, this.channels);
    this.channels.set(channel, handlers);
    if (this.client === undefined && this.retry === undefined && !this.stopped) void this.connect();
    else this.listenOnLive(channel, handlers);
    return () => {
      if (this.channels.get(channel) === handlers) this.channels.delete(channel);
      return Promise.resolve();
    };
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const current = this.client;
    this.client = undefined;
    this.live = undefined;
    clearInterval(this.heartbeat);
    this.channels.clear();
    if (current) await endWithin(current, this.options.heartbeatMs);
  }

  private async connect(): Promise<void> {
    const candidate = new pg.Client({ connectionString: this.connectionString, keepAlive: true, connectionTimeoutMillis: this.options.heartbeatMs, application_name: LISTENER_APPLICATION_NAME });
    candidate.on('notification', (message) => { this.tell(message.channel, (handlers) => { handlers.changed(message.payload ?? ''); }); });
    candidate.on('error', (error) => { this.lost(candidate, error); });
    candidate.on('end', () => { this.lost(candidate, new Error('connection ended')); });
    this.client = candidate;
    // Every subscribed channel, including those subscribed meanwhile: nothing awaits between the last
    // look at `channels` and `live` being set, so a later subscriber finds `live` and LISTENs itself.
    const heard = new Set<string>();
    const unheard = () => [...this.channels.keys()].find((channel) => !heard.has(channel));
    try {
      await candidate.connect();
      if (this.client !== candidate) return;
      // From here, not from `live`: a LISTEN that never answers is a lost connection too.
      this.heartbeat = probeEvery(candidate, this.options.heartbeatMs, (reason) => { this.lost(candidate, reason); });
      for (let next = unheard(); next !== undefined; next = unheard()) {
        await candidate.query(`listen ${next}`);
        heard.add(next);
      }
    } catch (error) {
      this.lost(candidate, error);
      return;
    }
    if (this.stopped || this.client !== candidate) return;
    this.live = candidate;
    this.backoffMs = 100;
    for (const channel of heard) this.tell(channel, (handlers) => { handlers.listening(); });
  }

  /** Runs `act` on the handlers of `channel`, if any (callSafely). */
  private tell(channel: string, act: (handlers: ChangeHandlers) => void): void {
    const handlers = this.channels.get(channel);
    if (handlers) callSafely(this.log, channel, () => { act(handlers); });
  }

  /** A channel subscribed while the connection is live: LISTEN on it now (else the next connect() does). */
  private listenOnLive(channel: string, handlers: ChangeHandlers): void {
    const current = this.live;
    if (!current) return;
    current.query(`listen ${channel}`).then(() => {
      if (this.live === current && this.channels.get(channel) === handlers) this.tell(channel, () => { handlers.listening(); });
    }, (error: unknown) => { this.lost(current, error); });
  }

  private lost(dead: pg.Client, reason: unknown): void {
    if (this.client !== dead) return;
    this.client = undefined;
    this.live = undefined;
    clearInterval(this.heartbeat);
    for (const channel of this.channels.keys()) this.tell(channel, (handlers) => { handlers.deaf(); });
    void endWithin(dead, this.options.heartbeatMs);
    if (this.stopped) return;
    this.log.warn({ err: reason, channels: [...this.channels.keys()] }, 'the notification listener lost its connection; reconnecting');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
  }
}

/**
 * A half-open connection gives no error: every `ms` `client` is probed with `select 1`, and one that
 * fails or does not answer within `ms` calls `lost`. Returns the (unref'd) interval to clear.
 */
function probeEvery(client: pg.Client, ms: number, lost: (reason: unknown) => void): NodeJS.Timeout {
  const heartbeat = setInterval(() => {
    const probe = client.query('select 1');
    const timeout = setTimeout(() => { lost(new Error('heartbeat unanswered')); }, ms);
    probe.then(() => { clearTimeout(timeout); }, (error: unknown) => {
      clearTimeout(timeout);
      lost(error);
    });
  }, ms);
  heartbeat.unref();
  return heartbeat;
}

/** Ends `client` politely, or destroys its socket after `ms`: a stalled server never answers the goodbye. */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => { resolve('timeout'); }, ms);
  });
  const outcome = await Promise.race([client.end().then(() => 'ended' as const, () => 'ended' as const), gaveUp]);
  clearTimeout(timer);
  if (outcome === 'timeout') (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}
