// Builds the real app for a test: a fresh database, a config from test defaults plus overrides, and the
// log lines captured so tests can prove what never reaches them.
import { Writable } from 'node:stream';
import pino from 'pino';
import tap, { type Test } from 'tap';
import { buildApp, type App, type AppDeps, type Clock } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_POSTGRES_TIMEOUTS, openPostgres } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { proxyDatabase, type TcpProxy } from './tcp-proxy.js';

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
export const TEST_INTERNAL_TOKEN = 'internal-test-token-0123456789';

export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApp {
  app: App;
  testDatabase: TestDatabase;
  logs: LogCapture;
}

export function testConfig(env: Record<string, string> = {}) {
  return loadConfig({
    PUBLIC_URL: 'http://connect.test',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    INTERNAL_API_TOKENS: TEST_INTERNAL_TOKEN,
    LOG_LEVEL: 'info',
    DATA_DIR: '/nonexistent-data-dir',
    // The upkeep's scheduler polls the database: only the tests of the upkeep turn it on.
    UPKEEP_ENABLED: 'false',
    // A suite's tests share one database and so its rate-limit counts (per client address and minute):
    // at the defaults (10, 60) a fast run's calls from 127.0.0.1 would pass a limit within one minute.
    // The tests of the limits set theirs.
    BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '10000',
    LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
    ...env,
  });
}

let fileDatabase: Promise<TestDatabase> | undefined;

/**
 * The test process's fresh database, shared by its tests and dropped when the process ends: a test
 * file's own when the file runs alone, its suite's (test/suites/) in `npm test`.
 */
export function testFileDatabase(): Promise<TestDatabase> {
  if (!fileDatabase) {
    fileDatabase = createTestDatabase();
    tap.teardown(async () => (await fileDatabase!).close());
  }
  return fileDatabase;
}

export interface TestAppDeps extends Omit<AppDeps, 'database' | 'logger'> {
  /** A fresh database of this test's own, dropped when it ends: for a test that counts rows across the whole database. */
  ownDatabase?: boolean;
}

/** The real app on the test process's database (or, with `ownDatabase`, the test's own), closed when the test ends. */
export async function buildTestApp(t: Test, env: Record<string, string> = {}, deps: TestAppDeps = {}): Promise<TestApp> {
  const { ownDatabase = false, ...appDeps } = deps;
  const testDatabase = ownDatabase ? await createTestDatabase() : await testFileDatabase();
  const logs = new LogCapture();
  const { LOG_LEVEL: level = 'info' } = env;
  const app = await buildApp(testConfig(env), { ...appDeps, database: testDatabase.database, logger: createLogger(level, logs) });
  t.teardown(async () => {
    await app.close();
    if (ownDatabase) await testDatabase.close();
  });
  return { app, testDatabase, logs };
}

export interface BehindProxyOptions {
  env?: Record<string, string>;
  clock?: Clock;
  /** The pool's size (10, as the service's, unless told). */
  maxConnections?: number;
  statementTimeoutMs?: number;
}

/**
 * The real app on this test process's PostgreSQL database reached through a TCP proxy the test controls
 * (stop, stall, reset, delay new connections), logging nothing; both closed when the test ends. Needs
 * TEST_DATABASE_URL.
 */
export async function buildAppBehindProxy(t: Test, options: BehindProxyOptions = {}): Promise<{ app: App; proxy: TcpProxy }> {
  const { url } = await testFileDatabase();
  if (!url) throw new Error('buildAppBehindProxy needs TEST_DATABASE_URL (a PostgreSQL server)');
  const { proxy, url: viaProxy } = await proxyDatabase(url);
  const logger = pino({ level: 'silent' });
  const database = openPostgres(viaProxy, logger, options.maxConnections, { statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs });
  const app = await buildApp(testConfig(options.env), { database, logger, ...(options.clock ? { clock: options.clock } : {}) });
  t.teardown(async () => {
    await app.close();
    await proxy.close();
    await database.close();
  });
  return { app, proxy };
}

/**
 * A clock stopped at the middle of the current minute: calls a test makes in a row fall in one fixed
 * rate-limit window, whatever second the real clock is at (a window turning over between them would
 * reset the count).
 */
export function midMinuteClock(): () => Date {
  const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000);
  return () => at;
}
