// Opens the database: PostgreSQL when DATABASE_URL is set, else an embedded PGlite under DATA_DIR.
// Both are a pg.Pool under Kysely's PostgresDialect, so they share one dialect and pg's exact types.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DB } from './types.js';

export interface Database {
  db: Kysely<DB>;
  kind: 'postgres' | 'pglite';
  /** PostgreSQL: where a connection outside the pool (LISTEN) connects. */
  connectionString?: string;
  /** PGlite: LISTEN inside the process; resolves to the function that stops listening. */
  listen?(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export class DatabaseLockedError extends Error {}

const PGLITE_LOCK_FILE = 'pglite.lock';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** PGlite loses data silently when two processes open one directory: hold a lock file naming our pid. */
function lockDataDirectory(directory: string): () => void {
  const lockFile = join(directory, PGLITE_LOCK_FILE);
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = Number(readFileSync(lockFile, 'utf8'));
    if (holder !== process.pid && isRunning(holder)) {
      throw new DatabaseLockedError(`DATA_DIR ${directory} is in use by process ${holder}; the embedded database allows one process (set DATABASE_URL to share PostgreSQL)`);
    }
    writeFileSync(lockFile, String(process.pid));
  }
  return () => rmSync(lockFile, { force: true });
}

export function openPostgres(connectionString: string, log: Logger, max = 10): Database {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5000 });
  // A connection that dies (server restart, network) must not crash the process: the pool replaces it.
  const onConnectionError = (error: Error) => log.warn({ err: error }, 'PostgreSQL connection failed');
  pool.on('error', onConnectionError);
  pool.on('connect', (client) => client.on('error', onConnectionError));
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { db, kind: 'postgres', connectionString, close: () => db.destroy() };
}

/** `dataDir` of 'memory://' keeps the database in memory (tests). */
export async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const inMemory = dataDir === 'memory://';
  const directory = resolve(dataDir, 'pglite');
  let unlock = () => {};
  if (!inMemory) {
    mkdirSync(directory, { recursive: true });
    unlock = lockDataDirectory(resolve(dataDir));
  }
  try {
    const pglite = await PGlite.create(inMemory ? undefined : directory);
    const pool = new pg.Pool({ ...(createPgConfig(pglite) as unknown as pg.PoolConfig), max: 1 });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      kind: 'pglite',
      listen: (channel, onPayload) => pglite.listen(channel, onPayload),
      async close() {
        await db.destroy();
        await pglite.close();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

export function openDatabase(options: { databaseUrl?: string; dataDir: string }, log: Logger): Promise<Database> {
  return options.databaseUrl ? Promise.resolve(openPostgres(options.databaseUrl, log)) : openPglite(options.dataDir);
}
