// Bootstrap latency: new instances on fake GitLabs that answer every call after 100 ms, then a re-check
// of each (the bootstrap again on the ready instance) and a live check (POST /internal/instances/:id/check).
// The fake counts the sequential round trips of each (the longest chain of calls each made after the
// previous answer: test/fake-gitlab sequentialDepth), and the median duration divided by 100 ms shows it too.
// Goals (issue 8): a new bootstrap within 6 sequential round trips, a re-check within 4.
import { startFakeGitlab, type FakeGitlab } from '../test/fake-gitlab/index.js';

export const GITLAB_LATENCY_MS = 100;

/** One kind of call measured `runs` times. */
export interface CallFigures {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** GitLab calls per run (mean). */
  gitlabCalls: number;
  /** Sequential GitLab round trips per run, as the fake counted them (the largest seen). */
  sequentialRoundTrips: number;
}

export interface BootstrapLatency {
  runs: number;
  bootstrap: CallFigures;
  recheck: CallFigures;
  check: CallFigures;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

interface Sample {
  ms: number;
  calls: number;
  depth: number;
}

/** Times `request` against `fake`, counting the GitLab calls and their sequential depth it caused. */
async function sample(fake: FakeGitlab, request: () => Promise<Response>, expected: number): Promise<Sample> {
  const from = fake.requests.length;
  const started = performance.now();
  const response = await request();
  const ms = performance.now() - started;
  if (response.status !== expected) throw new Error(`expected ${String(expected)}, got ${String(response.status)}: ${await response.text()}`);
  await response.arrayBuffer().catch(() => undefined);
  return { ms, calls: fake.requests.length - from, depth: fake.sequentialDepth(from) };
}

function figures(samples: Sample[]): CallFigures {
  const durations = samples.map((s) => s.ms);
  return {
    medianMs: median(durations),
    minMs: Math.min(...durations),
    maxMs: Math.max(...durations),
    gitlabCalls: samples.reduce((sum, s) => sum + s.calls, 0) / samples.length,
    sequentialRoundTrips: Math.max(...samples.map((s) => s.depth)),
  };
}

export async function measureBootstrapLatency(baseUrl: string, internalToken: string, runs = 10): Promise<BootstrapLatency> {
  const samples: Record<'bootstrap' | 'recheck' | 'check', Sample[]> = { bootstrap: [], recheck: [], check: [] };
  for (let run = 0; run < runs; run++) {
    const fake = await startFakeGitlab({ latencyMs: GITLAB_LATENCY_MS, relativeRoot: `/bench-${String(run)}` });
    try {
      const admin = fake.seedAdmin({ scopes: ['api'] });
      const bootstrap = () => fetch(`${baseUrl}/instances/bootstrap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: fake.url, adminToken: admin.token }) });
      let instanceId = '';
      samples.bootstrap.push(await sample(fake, async () => {
        const response = await bootstrap();
        instanceId = ((await response.clone().json()) as { instanceId: string }).instanceId;
        return response;
      }, 201));
      samples.recheck.push(await sample(fake, bootstrap, 200));
      const check = () => fetch(`${baseUrl}/internal/instances/${instanceId}/check`, { method: 'POST', headers: { authorization: `Bearer ${internalToken}` } });
      samples.check.push(await sample(fake, check, 200));
    } finally {
      await fake.close();
    }
  }
  return { runs, bootstrap: figures(samples.bootstrap), recheck: figures(samples.recheck), check: figures(samples.check) };
}

function formatFigures(title: string, figures: CallFigures, goal: number | null): string {
  return [
    `${title}: median ${figures.medianMs.toFixed(0)} ms (min ${figures.minMs.toFixed(0)}, max ${figures.maxMs.toFixed(0)}), ${figures.gitlabCalls.toFixed(1)} GitLab calls`,
    `  sequential GitLab round trips: ${String(figures.sequentialRoundTrips)} counted by the fake, ${(figures.medianMs / GITLAB_LATENCY_MS).toFixed(1)} implied (median / ${String(GITLAB_LATENCY_MS)} ms)${goal === null ? '' : `; goal ≤ ${String(goal)}`}`,
  ].join('\n');
}

export function formatBootstrapLatency(result: BootstrapLatency): string {
  return [
    `${String(result.runs)} runs, GitLab answering every call after ${String(GITLAB_LATENCY_MS)} ms`,
    formatFigures('new bootstrap (201)', result.bootstrap, 6),
    formatFigures('re-check: the bootstrap of a ready instance (200)', result.recheck, 4),
    formatFigures('live check: POST /internal/instances/:id/check', result.check, null),
  ].join('\n');
}
