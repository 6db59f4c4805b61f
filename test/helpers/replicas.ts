// Two replicas of the service on one PostgreSQL database, for the per-process caches' coherence tests:
// process A (the test's app) and process B (another app with its own pool, optionally reaching the
// database through a proxy), and writes that no trigger announces.
import pg from 'pg';
import pino from 'pino';
import type { Test } from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { openPostgres } from '../../src/db/database.js';
import { buildTestApp, testConfig, type TestAppDeps } from './app.js';
import { holdsWithin } from './poll.js';

/**
 * How long a test waits for something to happen (an announced change reaching the other process, a
 * listener losing or regaining its connection): a generous liveness bound (without the notification an
 * entry would stand for its cache's max age, 300 s by default), not a timing claim; the staleness itself
 * is a duration `npm run bench` measures (README: stated bound 1 s).
 */
export const LIVENESS = { everyMs: 10, withinMs: 20_000 };

/** Each of an app's caches that is on (a size of 0 turns one off) listens: it serves what it keeps. */
export function cachesServing(app: App): boolean {
  const { config, instanceLookups, userCache } = app.deps;
  return (config.lookupCacheSize === 0 || instanceLookups.serving) && (config.userCacheSize === 0 || userCache.serving);
}

async function writeOn(databaseUrl: string, statement: string, values: unknown[], triggers: 'on' | 'off'): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    if (triggers === 'off') await client.query('set session_replication_role = replica');
    await client.query(statement, values);
  } finally {
    await client.end();
  }
}

/** Writes with triggers off (session_replication_role = replica): no NOTIFY, so only a cache miss sees it. */
export function writeUnannounced(databaseUrl: string, statement: string, values: unknown[]): Promise<void> {
  return writeOn(databaseUrl, statement, values, 'off');
}

/** Writes as anyone would, outside every app: the triggers announce it. */
export function writeAnnounced(databaseUrl: string, statement: string, values: unknown[]): Promise<void> {
  return writeOn(databaseUrl, statement, values, 'on');
}

/**
 * Process A (buildTestApp on the test process's database) and process B, whose caches listen before
 * this returns; `databaseUrlOfB` (a proxy's) replaces the database URL for B alone. Needs
 * TEST_DATABASE_URL. `url` is the database's own URL.
 */
export async function twoProcesses(t: Test, env: Record<string, string> = {}, options: { databaseUrlOfB?: string; deps?: TestAppDeps } = {}) {
  const { app: a, testDatabase } = await buildTestApp(t, env, options.deps);
  const quiet = pino({ level: 'silent' });
  const databaseOfB = openPostgres(options.databaseUrlOfB ?? testDatabase.url!, quiet);
  const b = await buildApp(testConfig(env), { database: databaseOfB, logger: quiet, ...(options.deps?.clock ? { clock: options.deps.clock } : {}) });
  t.teardown(async () => {
    await b.close();
    await databaseOfB.close();
  });
  t.ok(await holdsWithin(() => cachesServing(b), LIVENESS), 'B listens');
  return { a, b, url: testDatabase.url! };
}
