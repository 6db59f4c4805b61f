// Figures for hostile and dead GitLabs (issues 9 and 10), measured, never asserted: the service's
// memory through concurrent gzip-bomb logins, a healthy instance's lookup latency while user-token
// refreshes wait on a GitLab that never answers, and how long a bootstrap killed with SIGKILL keeps
// its instance from being bootstrapped again.
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipBomb, gzipBombFault, startFakeGitlab, type InjectedFault } from '../test/fake-gitlab/index.js';
import { formatThroughput, measureThroughput, type ThroughputOptions, type ThroughputResult } from './http-throughput.js';
import { BENCH_INTERNAL_TOKEN, bootstrapInstance, loginCallback, loginOnce } from './login-roundtrip.js';
import type { RunningService } from './service.js';

const BOMB_INFLATED_BYTES = 200 * 1024 * 1024;
const POLL_MS = 250;
const STALLED_TOKEN_TTL_SECONDS = 10;

/** A memory change in MB with its sign: "+1.8", "-25.3". */
export const signedMb = (mb: number) => `${mb >= 0 ? '+' : ''}${mb.toFixed(1)}`;

/** Counts of each HTTP status, e.g. "502 ×4". */
const statusCounts = (statuses: number[]) =>
  [...new Set(statuses)].sort((a, b) => a - b).map((status) => `${String(status === 0 ? 'no answer' : status)} ×${String(statuses.filter((s) => s === status).length)}`).join(', ');

/** Runs `work` while sampling the service's resident set every 2 ms; returns its result and the peak (MB). */
async function peakRss<T>(service: RunningService, work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peakMb = service.rssMb();
  const timer = setInterval(() => (peakMb = Math.max(peakMb, service.rssMb())), 2);
  try {
    const result = await work();
    return { result, peakMb: Math.max(peakMb, service.rssMb()) };
  } finally {
    clearInterval(timer);
  }
}

export interface BombFigures {
  logins: number;
  gzipKb: number;
  statuses: number[];
  beforeMb: number;
  peakMb: number;
  afterMb: number;
}

/** `logins` concurrent logins on a ready instance whose token endpoint answers a 200 MB gzip bomb (as test/integration/gitlab-decompression-bomb does). */
export async function measureBombLogins(service: RunningService, logins = 4): Promise<BombFigures> {
  // Made before measuring: building the bomb is the bench's memory, not the service's.
  const gzipKb = (await gzipBomb(BOMB_INFLATED_BYTES)).length / 1024;
  const fake = await startFakeGitlab({ relativeRoot: '/bomb-bench' });
  try {
    const instanceId = await bootstrapInstance(service.baseUrl, fake);
    fake.setBrowserUser(fake.createUser({ username: 'bomb-user' }).id);
    fake.injectFault(await gzipBombFault('/oauth/token', BOMB_INFLATED_BYTES, { method: 'POST' }));
    const beforeMb = service.rssMb();
    const login = () => loginCallback(service.baseUrl, instanceId).then(async (response) => (await response.arrayBuffer(), response.status));
    const { result: statuses, peakMb } = await peakRss(service, () => Promise.all(Array.from({ length: logins }, login)));
    return { logins, gzipKb, statuses, beforeMb, peakMb, afterMb: service.rssMb() };
  } finally {
    await fake.close();
  }
}

export function formatBombLogins(figures: BombFigures): string {
  const { beforeMb, peakMb, afterMb } = figures;
  return [
    `${String(figures.logins)} concurrent login callbacks whose token answer is ${figures.gzipKb.toFixed(0)} KB of gzip inflating to ${String(BOMB_INFLATED_BYTES / 1024 / 1024)} MB: ${statusCounts(figures.statuses)}`,
    `service RSS: before ${beforeMb.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB (${signedMb(peakMb - beforeMb)}), after ${afterMb.toFixed(0)} MB (${signedMb(afterMb - beforeMb)})`,
  ].join('\n');
}

/** Waits until `fault` has taken no new request for 200 ms: every caller that will reach GitLab has. */
async function settled(fault: InjectedFault): Promise<void> {
  await fault.reached;
  let seen = -1;
  while (seen !== fault.applied) {
    seen = fault.applied;
    await sleep(200);
  }
}

export interface StalledFigures {
  waiting: number;
  reachedGitlab: number;
  idle: ThroughputResult;
  loaded: ThroughputResult;
  idleAfter: ThroughputResult;
  statuses: number[];
}

/**
 * Lookup (`lookupPath`, a healthy instance) on `service` with no load, then while `waiting` users'
 * token refreshes (`POST /internal/users/:id/gitlab-token`) wait on a GitLab holding every token
 * request, then with no load again.
 */
export async function measureLookupWhileStalled(service: RunningService, lookupPath: string, options: ThroughputOptions, waiting = 20): Promise<StalledFigures> {
  // Short-lived access tokens (long enough for a login on a loaded machine): due at half their lifetime.
  const fake = await startFakeGitlab({ relativeRoot: '/stalled-bench', accessTokenTtlSeconds: STALLED_TOKEN_TTL_SECONDS });
  try {
    const instanceId = await bootstrapInstance(service.baseUrl, fake);
    const userIds: string[] = [];
    for (let i = 0; i < waiting; i++) {
      fake.setBrowserUser(fake.createUser({ username: `stalled-${String(i)}` }).id);
      userIds.push((await loginOnce(service.baseUrl, instanceId)).userId);
    }
    const lastLoginAt = performance.now();
    // A fresh process: one unreported second first, so the idle run does not pay for the JIT warm-up.
    await measureThroughput(service.baseUrl, 'warm-up', lookupPath, { ...options, durationSeconds: 1 });
    const idle = await measureThroughput(service.baseUrl, 'lookup, nothing waiting', lookupPath, options);
    await sleep(Math.max(0, lastLoginAt + (STALLED_TOKEN_TTL_SECONDS * 1000) / 2 + 500 - performance.now()));
    const hold = fake.injectFault({ method: 'POST', path: '/oauth/token', hold: true, times: 1000 });
    const refresh = (id: string) =>
      fetch(`${service.baseUrl}/internal/users/${id}/gitlab-token`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_INTERNAL_TOKEN}` } }).then(async (response) => (await response.arrayBuffer(), response.status), () => 0);
    const pending = userIds.map(refresh);
    await settled(hold);
    const loaded = await measureThroughput(service.baseUrl, `lookup, ${String(waiting)} refreshes waiting`, lookupPath, options);
    const reachedGitlab = hold.applied;
    hold.release();
    const statuses = await Promise.all(pending);
    // Nothing waiting again: with `idle`, it brackets the loaded run against the machine's drift.
    const idleAfter = await measureThroughput(service.baseUrl, 'lookup, nothing waiting (after)', lookupPath, options);
    return { waiting, reachedGitlab, idle, loaded, idleAfter, statuses };
  } finally {
    await fake.close();
  }
}

export function formatLookupWhileStalled(figures: StalledFigures): string {
  return [
    `${String(figures.waiting)} user-token refreshes wait on a GitLab that never answers (${String(figures.reachedGitlab)} reached it, the rest waited their turn at the per-instance cap); the lookup is of another, healthy instance, lookup cache off`,
    formatThroughput([figures.idle, figures.loaded, figures.idleAfter]),
    `the ${String(figures.waiting)} refreshes once GitLab answered: ${statusCounts(figures.statuses)}`,
  ].join('\n');
}

export interface KilledBootstrapFigures {
  leaseMs: number;
  freedAfterMs: number;
  refused: number;
  status: number;
}

/**
 * Starts a bootstrap on `victim`, kills the process with SIGKILL while GitLab holds its first call,
 * then asks `survivor` to bootstrap the same instance every POLL_MS until it is no longer
 * 409 bootstrap_in_progress; the figure is the time from the kill to the attempt that went through.
 */
export async function measureKilledBootstrap(victim: RunningService, survivor: RunningService, leaseMs: number): Promise<KilledBootstrapFigures> {
  const fake = await startFakeGitlab({ relativeRoot: '/killed-bench' });
  try {
    const body = JSON.stringify({ url: fake.url, adminToken: fake.seedAdmin().token });
    const bootstrap = (service: RunningService) => fetch(`${service.baseUrl}/instances/bootstrap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const hold = fake.injectFault({ method: 'GET', path: '/.well-known/openid-configuration', hold: true });
    void bootstrap(victim).catch(() => undefined);
    await hold.reached;
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = performance.now();
    for (let refused = 0; ; refused++) {
      const sentAt = performance.now();
      const response = await bootstrap(survivor);
      await response.arrayBuffer();
      if (response.status !== 409) return { leaseMs, freedAfterMs: sentAt - killedAt, refused, status: response.status };
      if (sentAt - killedAt > leaseMs * 3) throw new Error(`the killed bootstrap still blocks its instance after ${((sentAt - killedAt) / 1000).toFixed(0)} s`);
      await sleep(POLL_MS);
    }
  } finally {
    await victim.stop();
    await fake.close();
  }
}

export function formatKilledBootstrap(figures: KilledBootstrapFigures): string {
  return [
    `a bootstrap killed with SIGKILL while GitLab held its first call (LEASE_MS ${String(figures.leaseMs)}): a new bootstrap of that instance from another process`,
    `went through ${(figures.freedAfterMs / 1000).toFixed(1)} s after the kill (answer ${String(figures.status)}; ${String(figures.refused)} attempts before it, every ${String(POLL_MS)} ms, answered 409 bootstrap_in_progress)`,
  ].join('\n');
}
