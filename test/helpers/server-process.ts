// The real entry point as a child process, for the tests that start, signal or kill it: what `npm start`
// runs (`node <its flags> dist/src/server.js`, built first when a source is newer) on a free port, its
// output collected.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { migratedDataDir } from './database.js';
import { holdsWithin } from './poll.js';
import { startNodeFlags } from './start-command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** A cold embedded database start takes minutes on a loaded 2-core machine: bound the waits generously. */
export const slow = { timeout: 600_000 };

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => { resolve(port); });
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let built = false;

/** `npm start`'s build step (scripts/build-if-stale.mjs: nothing to do when dist/ is up to date), once per process. */
export function buildOnce(): void {
  if (built) return;
  // Its output to stderr: tap reads this process's stdout.
  const result = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`the build failed (exit ${String(result.status)})`);
  built = true;
}

/**
 * The environment of a child running dist/: this one's less DATABASE_URL and NODE_OPTIONS (tap's module
 * hooks), with coverage off (an empty NODE_V8_COVERAGE; left out, Node would copy it in: c8 measures src/
 * through the test processes, and the child runs dist/), and `env` over it.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = { ...process.env };
  delete inherited.DATABASE_URL;
  delete inherited.NODE_OPTIONS;
  return { ...inherited, NODE_V8_COVERAGE: '', ...env };
}

/**
 * Spawns `dist/src/server.js` (built first when stale), or `entry`, with `env` (see childEnv); its stdout
 * and stderr are collected. Compiled JavaScript, not tsx: a start through tsx's (and tap's) module hooks
 * costs about 3 s of CPU more, and these tests start a server some twenty times.
 */
export function startServer(env: Record<string, string>, entry = 'dist/src/server.js'): Started {
  buildOnce();
  const child = spawn(process.execPath, [...startNodeFlags(), entry], { cwd: root, env: childEnv(env) });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  return { child, output: () => output, exited };
}

/**
 * Where a started server keeps its data when the engine is not the test's subject: with TEST_DATABASE_URL
 * this test process's PostgreSQL database (the engine the run tests) and its apps' ENCRYPTION_KEY, else
 * a migrated embedded data directory. An embedded start costs some 3 s of CPU more (PGlite's
 * WebAssembly, the data directory).
 */
export async function serverDatabaseEnv(): Promise<Record<string, string>> {
  if (!process.env.TEST_DATABASE_URL) return { DATA_DIR: await migratedDataDir() };
  // Imported here: the files that start no server on PostgreSQL need not load the app.
  const { TEST_ENCRYPTION_KEY, testFileDatabase } = await import('./app.js');
  const { url } = await testFileDatabase();
  if (!url) throw new Error('a PostgreSQL test database has a URL');
  // The key of the test process's apps on the same database (without one the server would use, or
  // create, the development key under ./data).
  return { DATABASE_URL: url, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY };
}

/**
 * Polls /healthz every 100 ms, for at most 180 s: a cold start (PGlite initialising its database) on a
 * loaded machine may take a minute. Throws with the server's output when it exits or stays unhealthy.
 */
export async function waitForHealthy(port: number, started: Started): Promise<void> {
  const healthy = await holdsWithin(async () => {
    if (started.child.exitCode !== null) throw new Error(`server exited: ${started.output()}`);
    return fetch(`http://127.0.0.1:${String(port)}/healthz`).then((response) => response.ok, () => false);
  }, { everyMs: 100, withinMs: 180_000 });
  if (!healthy) throw new Error(`server did not become healthy: ${started.output()}`);
}
