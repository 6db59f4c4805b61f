// Where this process hears of writes: LISTEN on a channel the tables' triggers notify (instance_changes,
// migration 20261201010000; user_changes, migration 20261205010000), over a dedicated connection that
// reconnects. This process's own writes are reported sooner by table-writes.ts.
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

/**
 * Starts listening on `channel` and returns a function that stops; `changed` receives each
 * notification's payload. PostgreSQL: a pg.Client outside the pool (LISTEN is per session; it cannot
 * go through a transaction-pooling PgBouncer). PGlite: its own in-process listen. Never throws:
 * failures are logged and retried while not stopped.
 */
export function listenForNotifications(database: Database, channel: string, log: Logger, handlers: ChangeHandlers, options: ListenerOptions): () => Promise<void> {
  if (database.listen) {
    const unlisten = database.listen(channel, (payload) => { handlers.changed(payload); }).then((stop) => (handlers.listening(), stop));
    return async () => (await unlisten)();
  }
  if (!database.connectionString) return async () => {};
  return listenOverPostgres(database.connectionString, channel, log, handlers, options);
}

function listenOverPostgres(connectionString: string, channel: string, log: Logger, handlers: ChangeHandlers, options: ListenerOptions): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoffMs = 100;

  const lost = (dead: pg.Client, reason: unknown) => {
    if (client !== dead) return;
    client = undefined;
    clearInterval(heartbeat);
    handlers.deaf();
    void endWithin(dead, options.heartbeatMs);
    if (stopped) return;
    log.warn({ err: reason, channel }, 'a notification listener lost its connection; reconnecting');
    retry = setTimeout(() => void connect(), backoffMs);
    backoffMs = Math.min(backoffMs * 2, options.maxBackoffMs);
  };

  async function connect() {
    const candidate = new pg.Client({ connectionString, keepAlive: true, connectionTimeoutMillis: options.heartbeatMs });
    candidate.on('notification', (message) => { handlers.changed(message.payload ?? ''); });
    candidate.on('error', (error) => { lost(candidate, error); });
    candidate.on('end', () => { lost(candidate, new Error('connection ended')); });
    client = candidate;
    try {
      await candidate.connect();
      await candidate.query(`listen ${channel}`);
    } catch (error) {
      lost(candidate, error);
      return;
    }
    if (stopped || client !== candidate) return;
    backoffMs = 100;
    // A half-open connection gives no error: a probe that does not answer within the period is a loss.
    heartbeat = setInterval(() => {
      const probe = candidate.query('select 1');
      const timeout = setTimeout(() => { lost(candidate, new Error('heartbeat unanswered')); }, options.heartbeatMs);
      probe.then(() => { clearTimeout(timeout); }, (error: unknown) => {
        clearTimeout(timeout);
        lost(candidate, error);
      });
    }, options.heartbeatMs);
    heartbeat.unref();
    handlers.listening();
  }

  void connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    const current = client;
    client = undefined;
    clearInterval(heartbeat);
    if (current) await endWithin(current, options.heartbeatMs);
  };
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
