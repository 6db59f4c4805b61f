// Opens the database: PostgreSQL when DATABASE_URL is set, else an embedded PGlite under DATA_DIR.
// Both are a pg.Pool under Kysely's PostgresDialect, so they share one dialect and pg's exact types.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { lockDataDirectory } from './data-dir-lock.js';
import { namingClient } from './named-statements.js';
import { announceCommit } from './table-writes.js';
import type { DB } from './types.js';

export { DatabaseLockedError } from './data-dir-lock.js';
export { isDatabaseUnavailable } from './faults.js';

export interface Database {
  db: Kysely<DB>;
  kind: 'postgres' | 'pglite';
  /** PostgreSQL: where a connection outside the pool (LISTEN) connects. */
  connectionString?: string;
  /** PGlite: LISTEN inside the process; resolves to the function that stops listening. */
  listen?(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** PGlite: the data directory as an uncompressed tarball, to open again with `openPglite`'s `loadDataDir`. */
  dumpDataDir?: () => Promise<Blob>;
  close(): Promise<void>;
}

/** Bounds on every PostgreSQL query, in milliseconds. */
export interface PostgresTimeouts {
  /** PostgreSQL's statement_timeout: the server cancels a statement running longer (SQLSTATE 57014). */
  statementTimeoutMs: number;
}

export const DEFAULT_POSTGRES_TIMEOUTS: PostgresTimeouts = { statementTimeoutMs: 10_000 };

/** The client gives up this long after the server should have cancelled: a partition or a stalled peer. */
const CLIENT_MARGIN_MS = 2_000;

/**
 * A pool on PostgreSQL with TCP keepalive (a dead peer is noticed), a server-side statement timeout and a
 * client-side query timeout (a partition without resets cannot hang a request for its whole length), and
 * the statements marked by namedStatement prepared by name (named-statements.ts).
 */
export function openPostgres(connectionString: string, log: Logger, max = 10, timeouts: PostgresTimeouts = DEFAULT_POSTGRES_TIMEOUTS): Database {
  const pool = new pg.Pool({
    connectionString,
    Client: namingClient(log),
    max,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    statement_timeout: timeouts.statementTimeoutMs,
    query_timeout: timeouts.statementTimeoutMs + CLIENT_MARGIN_MS,
  });
  // A connection that dies (server restart, network) must not crash the process: the pool replaces it.
  const onConnectionError = (error: Error) => { log.warn({ err: error }, 'PostgreSQL connection failed'); };
  pool.on('error', onConnectionError);
  pool.on('connect', (client) => client.on('error', onConnectionError));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', connectionString, close: () => db.destroy() };
}

/**
 * `dataDir` of 'memory://' keeps the database in memory (tests); `loadDataDir`, a dump made by
 * `dumpDataDir()`, starts from it instead of an empty cluster (the tests' migrated template: PGlite's
 * initdb costs seconds of CPU).
 */
export async function openPglite(dataDir: string, options: { loadDataDir?: Blob } = {}): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const inMemory = dataDir === 'memory://';
  const directory = resolve(dataDir, 'pglite');
  let unlock = async () => {};
  if (!inMemory) {
    mkdirSync(directory, { recursive: true });
    unlock = await lockDataDirectory(resolve(dataDir));
  }
  try {
    const pglite = await PGlite.create({ ...(inMemory ? {} : { dataDir: directory }), ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}) });
    const pool = new pg.Pool({ ...(createPgConfig(pglite) as unknown as pg.PoolConfig), max: 1 });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'pglite',
      listen: (channel, onPayload) => pglite.listen(channel, onPayload),
      dumpDataDir: async () => pglite.dumpDataDir('none'),
      async close() {
        await db.destroy();
        await pglite.close();
        await unlock();
      },
    };
  } catch (error) {
    await unlock();
    throw error;
  }
}

export function openDatabase(options: { databaseUrl?: string; dataDir: string; databaseStatementTimeoutMs?: number }, log: Logger): Promise<Database> {
  if (!options.databaseUrl) return openPglite(options.dataDir);
  const timeouts = { statementTimeoutMs: options.databaseStatementTimeoutMs ?? DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs };
  return Promise.resolve(openPostgres(options.databaseUrl, log, 10, timeouts));
}

/**
 * Runs `work` in one transaction (committed when it resolves, rolled back when it throws): how a service
 * makes several repository writes one unit. `work` receives the transaction to pass to each repository
 * call; it must not wait on GitLab (the transaction holds a pooled connection). Once committed, the
 * caches of this process drop what they kept (a read between the writes and the commit saw old rows).
 */
export async function inTransaction<T>(db: Kysely<DB>, work: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const result = await db.transaction().execute(work);
  announceCommit(db);
  return result;
}
