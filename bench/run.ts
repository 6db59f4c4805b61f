// `npm run bench`: builds what `npm start` runs, then on a fresh PostgreSQL database measures the service
// against a bare node:http + pg anchor (bench/anchor.ts) in interleaved rounds, and once more on the
// embedded default. It only measures: no number fails it. Ends with one summary line, ratios first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBootstrapLatency, measureBootstrapLatency, median } from './bootstrap-latency.js';
import { formatBombLogins, formatKilledBootstrap, formatLookupWhileStalled, measureBombLogins, measureKilledBootstrap, measureLookupWhileStalled, signedMb, type KilledBootstrapFigures } from './hostile.js';
import { formatThroughput, measureThroughput, type ThroughputOptions } from './http-throughput.js';
import { BENCH_INTERNAL_TOKEN, measureLogin } from './login-roundtrip.js';
import { cpuRatio, formatRounds, medianRatio, p99Ratio, rowsOf, runRounds, type Target } from './rounds.js';
import { buildService, createBenchDatabase, dropCodeCache, measureStartups, seedInstances, startAnchor, startBuiltService, startFloor, waitForCodeCache, type RunningService } from './service.js';
import { formatStaleness, measureLookupStaleness } from './lookup-staleness.js';
import { formatWebhooks, measureWebhooks, summarizeWebhooks } from './webhooks.js';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const durationSeconds = Number(process.env.BENCH_DURATION_SECONDS ?? 5);
/** The floors have no goal: their runs are shorter, so the whole bench stays within about 3 minutes. */
const floorSeconds = Math.min(3, durationSeconds);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Starts timed with the code cache (a redeploy's): the figure is their median. */
const STARTS = 5;
/** LEASE_MS of the process whose bootstrap the bench kills: the service's default unless told. */
const killedLeaseMs = Number(process.env.BENCH_LEASE_MS ?? 30000);

/**
 * The fake GitLabs listen on loopback over http, which the production defaults refuse. No load balancer
 * watches the bench's services: they close at once on SIGTERM (the default drain of 3 s each added
 * ~10 s of nothing to a run).
 */
const SERVICE_ENV = { ALLOW_PRIVATE_NETWORKS: 'true', ALLOW_HTTP: 'true', BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '10000', INTERNAL_API_TOKENS: BENCH_INTERNAL_TOKEN, SHUTDOWN_DRAIN_MS: '0' };

const write = (text: string) => process.stdout.write(text);
const section = (title: string, body: string) => write(`\n## ${title}\n\n${body}\n`);

/** Lookup throughput on the embedded default (PGlite in the process): a figure, no goal. */
async function measureEmbedded(options: ThroughputOptions): Promise<{ requestsPerSecond: number; table: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-bench-'));
  let service: RunningService | undefined;
  try {
    service = await startBuiltService(undefined, { ...SERVICE_ENV, DATA_DIR: dataDir });
    const result = await measureThroughput(service.baseUrl, 'lookup (embedded)', '/instances/lookup?url=gitlab.example.com', options);
    return { requestsPerSecond: result.requestsPerSecond, table: `${formatThroughput([result])}\nstart-up (first start, creates the database): ${service.startupMs.toFixed(0)} ms` };
  } finally {
    await service?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The hostile and dead GitLab figures (bench/hostile.ts): gzip-bomb logins on `cached`; a bootstrap
 * killed on a process with LEASE_MS = BENCH_LEASE_MS and resumed through `cached`, whose lease runs out
 * while the next measurements run (`killed`, awaited by the caller: it only asks `cached` 4 times a
 * second meanwhile); lookup latency on a service of its own while refreshes wait (GitLab deadlines long
 * enough that they wait through the run). `summary` gives the line's part once `killed` is known.
 */
async function measureHostile(databaseUrl: string, cached: RunningService, lookupPath: string, options: ThroughputOptions, stoppers: Array<() => Promise<void>>) {
  const bomb = await measureBombLogins(cached);
  section('Gzip-bomb logins (issue 10)', formatBombLogins(bomb));

  const heartbeatMs = Math.min(10000, Math.floor(killedLeaseMs / 3));
  const victim = await startBuiltService(databaseUrl, { ...SERVICE_ENV, LEASE_MS: String(killedLeaseMs), LEASE_HEARTBEAT_MS: String(heartbeatMs) });
  stoppers.push(victim.stop);
  const killed = measureKilledBootstrap(victim, cached, killedLeaseMs);
  // Awaited by the caller; until then a failure must not count as unhandled.
  killed.catch(() => undefined);

  const stalledService = await startBuiltService(databaseUrl, { ...SERVICE_ENV, LOOKUP_CACHE_SIZE: '0', GITLAB_TIMEOUT_MS: '60000', GITLAB_QUEUE_WAIT_MS: '60000' });
  stoppers.push(stalledService.stop);
  const stalled = await measureLookupWhileStalled(stalledService, lookupPath, options);
  section('Lookup while refreshes wait on a GitLab that never answers (issues 9, 10)', formatLookupWhileStalled(stalled));

  const p = (result: { p50Ms: number; p99Ms: number }) => `p50 ${result.p50Ms.toFixed(1)} / p99 ${result.p99Ms.toFixed(1)} ms`;
  return {
    killed,
    summary: (killedFigures: KilledBootstrapFigures) =>
      `${String(bomb.logins)} gzip-bomb logins: RSS peak ${signedMb(bomb.peakMb - bomb.beforeMb)} MB, after ${signedMb(bomb.afterMb - bomb.beforeMb)} MB; ` +
      `lookup with ${String(stalled.waiting)} refreshes waiting on a dead GitLab ${p(stalled.loaded)} vs ${p(stalled.idle)} before and ${p(stalled.idleAfter)} after; ` +
      `killed bootstrap's instance free after ${(killedFigures.freedAfterMs / 1000).toFixed(1)} s (LEASE_MS ${String(killedLeaseMs)})`,
  };
}

async function main(): Promise<void> {
  if (![durationSeconds, rounds].every((value) => Number.isInteger(value) && value > 0)) throw new Error('BENCH_DURATION_SECONDS and BENCH_ROUNDS must be positive integers');
  if (!Number.isInteger(killedLeaseMs) || killedLeaseMs < 600) throw new Error('BENCH_LEASE_MS must be an integer of 600 at least');
  buildService();
  const database = await createBenchDatabase(serverUrl);
  const stoppers: Array<() => Promise<void>> = [database.drop];
  const cleanUp = async () => {
    for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => {});
  };
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The first start migrates; the second, timed, starts on a migrated database as a redeploy does.
    const cached = await startBuiltService(database.url, SERVICE_ENV);
    stoppers.push(cached.stop);
    const lookupUrl = await seedInstances(database);
    // Start-up without the code cache (the first start after a build), then with it (a redeploy's), timed.
    dropCodeCache();
    const cold = await startBuiltService(database.url, SERVICE_ENV);
    await waitForCodeCache();
    await cold.stop();
    const starts = await measureStartups(database.url, SERVICE_ENV, STARTS);
    const uncached = await startBuiltService(database.url, { ...SERVICE_ENV, LOOKUP_CACHE_SIZE: '0' });
    stoppers.push(uncached.stop);
    const anchor = await startAnchor(database.url);
    stoppers.push(anchor.stop);
    const nodeFloor = await startFloor('node');
    stoppers.push(nodeFloor.stop);
    const fastifyFloor = await startFloor('fastify');
    stoppers.push(fastifyFloor.stop);
    write(`\nbench: node ${process.version}, database ${database.name}, ${String(connections)} connections, ${String(durationSeconds)} s per run, ${String(rounds)} interleaved rounds\n`);

    section('Bootstrap and re-check latency (POST /instances/bootstrap, twice, and the live check; 10 runs)', formatBootstrapLatency(await measureBootstrapLatency(cached.baseUrl, BENCH_INTERNAL_TOKEN)));
    const login = await measureLogin(cached.baseUrl);
    stoppers.push(login.close);
    section('Login round trip (median of 20)', login.report);

    const lookupPath = `/instances/lookup?url=${encodeURIComponent(lookupUrl)}`;
    const targets: Target[] = [
      { name: 'anchor', pid: anchor.pid, baseUrl: anchor.baseUrl, path: `/?url=${encodeURIComponent(lookupUrl)}` },
      { name: 'floor: node:http', pid: nodeFloor.pid, baseUrl: nodeFloor.baseUrl, path: lookupPath, durationSeconds: floorSeconds },
      { name: 'floor: Fastify + request log', pid: fastifyFloor.pid, baseUrl: fastifyFloor.baseUrl, path: lookupPath, durationSeconds: floorSeconds },
      { name: 'lookup', pid: uncached.pid, baseUrl: uncached.baseUrl, path: lookupPath },
      { name: 'lookup cached', pid: cached.pid, baseUrl: cached.baseUrl, path: lookupPath },
      { name: 'gitlab-token', pid: cached.pid, baseUrl: cached.baseUrl, path: `/internal/users/${login.userId}/gitlab-token`, method: 'POST', headers: { authorization: `Bearer ${BENCH_INTERNAL_TOKEN}` } },
      { name: 'me', pid: cached.pid, baseUrl: cached.baseUrl, path: '/me', headers: { cookie: login.sessionCookie } },
    ];
    const options = { connections, durationSeconds };
    const results = await runRounds(targets, rounds, options);
    section('Throughput against the anchor (request logging on, NODE_ENV=production)', formatRounds(results, 'anchor'));
    const rss = { uncached: uncached.rssMb(), cached: cached.rssMb() };
    const startMs = median(starts.ms);
    const range = (values: number[]) => `${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}`;
    section(
      'Start and memory',
      `start-up to the first /healthz 200 on a migrated database, with the code cache: median ${startMs.toFixed(0)} ms of ${String(STARTS)} starts (${range(starts.ms)} ms; CPU time used by then ${median(starts.cpuMs).toFixed(0)} ms, ${range(starts.cpuMs)}); without the cache ${cold.startupMs.toFixed(0)} ms (CPU ${cold.startupCpuMs.toFixed(0)} ms)\n` +
        `RSS after the load: ${rss.uncached.toFixed(0)} MB (cache off: the lookup load alone), ${rss.cached.toFixed(0)} MB (cache on: also the bootstraps, logins, token, /me and webhook loads)`,
    );
    const staleness = await measureLookupStaleness(database, cached);
    section('Lookup cache staleness across processes (LISTEN/NOTIFY)', formatStaleness(staleness));
    const hostile = await measureHostile(database.url, cached, lookupPath, options, stoppers);
    // While the killed bootstrap's lease runs out (its retries ask the cache-on service 4 times a second).
    const webhooks = await measureWebhooks(cached, uncached, database, lookupUrl, options);
    section('Webhook deliveries and the feed (issue 16)', formatWebhooks(webhooks, options));
    const embedded = await measureEmbedded(options);
    const killed = await hostile.killed;
    section('Bootstrap killed mid-way (issue 9)', formatKilledBootstrap(killed));
    await cleanUp();
    section('Embedded default (PGlite), lookup', embedded.table);

    const ratio = (name: string) => medianRatio(results, name, 'anchor').toFixed(2);
    const cpu = (name: string) => cpuRatio(results, name, 'anchor').toFixed(2);
    write(
      `\nsummary: lookup ${ratio('lookup')}x anchor (goal 0.8; per CPU ${cpu('lookup')}x), lookup p99 ${p99Ratio(results, 'lookup', 'anchor').toFixed(2)}x anchor's (goal <= 2), ` +
        `lookup cached ${ratio('lookup cached')}x (goal 2; per CPU ${cpu('lookup cached')}x; floors: node:http ${ratio('floor: node:http')}x, Fastify + request log ${ratio('floor: Fastify + request log')}x), gitlab-token ${ratio('gitlab-token')}x (goal 0.8; per CPU ${cpu('gitlab-token')}x), me ${ratio('me')}x (goal 0.6; per CPU ${cpu('me')}x); ` +
        `start ${startMs.toFixed(0)} ms with the code cache (median of ${String(STARTS)}, ${range(starts.ms)}; goal 300; CPU ${median(starts.cpuMs).toFixed(0)} ms), ${cold.startupMs.toFixed(0)} ms without, ` +
        `RSS after the lookup load ${rss.uncached.toFixed(0)} MB (goal 128), after every load ${rss.cached.toFixed(0)} MB, ` +
        `lookup staleness across processes p50 ${staleness.p50Ms.toFixed(1)} / p99 ${staleness.p99Ms.toFixed(1)} ms (bound 1 s), ` +
        `anchor ${median(rowsOf(results, 'anchor').map((r) => r.requestsPerSecond)).toFixed(0)} req/s, embedded lookup ${embedded.requestsPerSecond.toFixed(0)} req/s; ${hostile.summary(killed)}; ${summarizeWebhooks(webhooks)}\n`,
    );
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
