// The system under test for the benchmarks: a fresh PostgreSQL database and the BUILT service
// (what `npm start` runs, `node <its flags> dist/src/server.js`) on a free port, with a way to tear both down.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { until } from '../test/helpers/poll.js';
import { startNodeFlags } from '../test/helpers/start-command.js';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface BenchDatabase {
  name: string;
  url: string;
  /** Runs one statement on the bench database. */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
  drop: () => Promise<void>;
}

export interface RunningService {
  baseUrl: string;
  port: number;
  /** Milliseconds from spawn to the first 200 on /healthz. */
  startupMs: number;
  pid: number;
  /** CPU time the process had used when /healthz first answered (ms): start-up cost without the machine's load. */
  startupCpuMs: number;
  /** The resident set size of the process now (MB), from /proc. */
  rssMb(): number;
  /** What the service printed on stderr (start-up failures, warnings). */
  stderr(): string;
  stop: () => Promise<void>;
}

/** The build `npm start` does (only when a source changed): the bench measures what `npm start` runs. */
export function buildService(): void {
  const result = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`the build failed (exit ${String(result.status)})`);
}

/** The V8 code cache `npm start` writes beside the server bundle (src/start.ts). */
const CODE_CACHE = join(ROOT, 'dist', 'src', 'server.bundle.cjs.cache');

/** Waits (at most 15 s) until a running service has written the code cache: what a redeploy on the same build starts with. */
export async function waitForCodeCache(): Promise<void> {
  await until(`a code cache at ${CODE_CACHE}`, () => existsSync(CODE_CACHE), { everyMs: 50, withinMs: 15_000 });
}

/** Removes the code cache: the next start compiles the bundle as a first start after a build does. */
export function dropCodeCache(): void {
  rmSync(CODE_CACHE, { force: true });
}

/** The process id of a child that has started (spawn leaves it undefined when it could not). */
function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('the child process did not start');
  return child.pid;
}

/** The bench's environment without DATABASE_URL: each service is told its database explicitly. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const rest = { ...process.env };
  delete rest.DATABASE_URL;
  return rest;
}

/** User + system CPU time a process has used so far (ms), from /proc/<pid>/stat (clock ticks of 10 ms). */
export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${String(pid)}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMbOf(pid: number): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates `gitlab_connect_bench_<random>` on the server at `serverUrl`. */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `gitlab_connect_bench_${randomBytes(5).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`create database "${name}"`));
  const url = withDatabase(serverUrl, name);
  return {
    name,
    url,
    query: (text, values) => onServer(url, (client) => client.query(text, values)),
    drop: async () => {
      await onServer(serverUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => { resolve(port); });
    });
  });
}

async function waitForHealthy(baseUrl: string, child: ChildProcess, stderr: () => string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${String(child.exitCode)}: ${stderr().trim()}`);
    const healthy = await fetch(`${baseUrl}/healthz`).then((response) => response.ok, () => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the service did not answer /healthz within ${String(timeoutMs)} ms: ${stderr().trim()}`);
}

/**
 * Starts `node <flags> dist/src/server.js` (what `npm start` runs) and waits for /healthz. With a database URL
 * it serves PostgreSQL (and migrates at start-up); with `undefined`, the embedded default under `env.DATA_DIR`.
 */
export async function startBuiltService(databaseUrl: string | undefined, env: Record<string, string> = {}): Promise<RunningService> {
  const port = await freePort();
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...startNodeFlags(), 'dist/src/server.js'], {
    cwd: ROOT,
    // Logs go to /dev/null: they still cost what they cost in production, but nobody reads them here.
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...inheritedEnv(),
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PUBLIC_URL: `http://127.0.0.1:${String(port)}`,
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  const baseUrl = `http://127.0.0.1:${String(port)}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForHealthy(baseUrl, child, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  const startupMs = performance.now() - spawnedAt;
  const pid = pidOf(child);
  return { baseUrl, port, pid, startupMs, startupCpuMs: cpuMsOf(pid), rssMb: () => rssMbOf(pid), stderr: () => stderr, stop };
}

/** Start-up figures of several starts in a row: each start's time to the first /healthz and CPU by then (ms). */
export interface StartupFigures {
  ms: number[];
  cpuMs: number[];
}

/**
 * Starts the built service `count` times on `databaseUrl` (migrated, with the code cache written), one
 * after another, stopping each once /healthz answered: one start is one sample of a machine whose speed
 * moves, so the bench reports the median and the range.
 */
export async function measureStartups(databaseUrl: string, env: Record<string, string>, count: number): Promise<StartupFigures> {
  const figures: StartupFigures = { ms: [], cpuMs: [] };
  for (let i = 0; i < count; i++) {
    const service = await startBuiltService(databaseUrl, env);
    figures.ms.push(service.startupMs);
    figures.cpuMs.push(service.startupCpuMs);
    await service.stop();
  }
  return figures;
}

export interface RunningScript {
  baseUrl: string;
  pid: number;
  stop: () => Promise<void>;
}

/** Starts bench/anchor.ts (bare node:http + pg, plain `node`) on `databaseUrl` and waits until it listens. */
export function startAnchor(databaseUrl: string): Promise<RunningScript> {
  return startScript('the anchor', ['bench/anchor.ts', databaseUrl], { readyOn: 'stdout', nodeFlags: [] });
}

/**
 * Starts bench/floors.ts in `mode` (bare node:http, or Fastify with the service's request logging) with
 * the node flags `npm start` gives the service, and waits until it listens.
 */
export function startFloor(mode: 'node' | 'fastify'): Promise<RunningScript> {
  return startScript(`the ${mode} floor`, ['bench/floors.ts', mode], { readyOn: 'stderr', nodeFlags: startNodeFlags() });
}

/**
 * Runs `node <nodeFlags> --import tsx <script> ...args <port>` and waits until it writes "listening" on
 * `readyOn` (the other stream is dropped).
 */
async function startScript(name: string, scriptAndArgs: string[], options: { readyOn: 'stdout' | 'stderr'; nodeFlags: string[] }): Promise<RunningScript> {
  const port = await freePort();
  const { readyOn } = options;
  const child = spawn(process.execPath, [...options.nodeFlags, '--import', 'tsx', ...scriptAndArgs, String(port)], { cwd: ROOT, stdio: ['ignore', readyOn === 'stdout' ? 'pipe' : 'ignore', readyOn === 'stderr' ? 'pipe' : 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  const ready = readyOn === 'stdout' ? child.stdout : child.stderr;
  await new Promise<void>((resolve, reject) => {
    let written = '';
    const onData = (chunk: Buffer) => {
      written += chunk.toString();
      if (!written.includes('listening\n')) return;
      ready?.off('data', onData);
      resolve();
    };
    ready?.on('data', onData);
    child.once('exit', (code) => { reject(new Error(`${name} exited with ${String(code)}: ${written.trim()}`)); });
  });
  return {
    baseUrl: `http://127.0.0.1:${String(port)}`,
    pid: pidOf(child),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * 10 000 instances in the service's table and the same URLs in the anchor's, so both look up one row
 * among as many; `https://gitlab-0.bench.example` is the one the bench asks for.
 */
export async function seedInstances(database: BenchDatabase, count = 10_000): Promise<string> {
  await database.query(`insert into instances (url, status) select 'https://gitlab-' || n || '.bench.example', 'ready' from generate_series(0, $1 - 1) n`, [count]);
  await database.query(`create table anchor_instances (id uuid primary key default gen_random_uuid(), url text not null unique, status text not null)`);
  await database.query(`insert into anchor_instances (url, status) select url, status from instances`);
  await database.query('analyze');
  return 'https://gitlab-0.bench.example';
}
