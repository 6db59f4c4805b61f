// Bootstrap latency: new instances on fake GitLabs that answer every call after 100 ms, so the median
// divided by 100 ms is the number of sequential GitLab round trips the bootstrap makes.
import { startFakeGitlab } from '../test/fake-gitlab/index.js';

export const GITLAB_LATENCY_MS = 100;

export interface BootstrapLatency {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  gitlabCallsPerBootstrap: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export async function measureBootstrapLatency(baseUrl: string, runs = 10): Promise<BootstrapLatency> {
  const durations: number[] = [];
  let gitlabCalls = 0;
  for (let run = 0; run < runs; run++) {
    const fake = await startFakeGitlab({ latencyMs: GITLAB_LATENCY_MS, relativeRoot: `/bench-${String(run)}` });
    try {
      const admin = fake.seedAdmin({ scopes: ['api'] });
      const started = performance.now();
      const response = await fetch(`${baseUrl}/instances/bootstrap`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: fake.url, adminToken: admin.token }),
      });
      durations.push(performance.now() - started);
      if (response.status !== 201) throw new Error(`bootstrap answered ${String(response.status)}: ${await response.text()}`);
      gitlabCalls += fake.requests.length;
    } finally {
      await fake.close();
    }
  }
  return { runs, medianMs: median(durations), minMs: Math.min(...durations), maxMs: Math.max(...durations), gitlabCallsPerBootstrap: gitlabCalls / runs };
}

export function formatBootstrapLatency(result: BootstrapLatency): string {
  return [
    `bootstraps of new instances: ${String(result.runs)}, GitLab answering every call after ${String(GITLAB_LATENCY_MS)} ms`,
    `median ${result.medianMs.toFixed(0)} ms (min ${result.minMs.toFixed(0)}, max ${result.maxMs.toFixed(0)})`,
    `GitLab calls per bootstrap: ${result.gitlabCallsPerBootstrap.toFixed(1)}`,
    `sequential GitLab round trips implied (median / ${String(GITLAB_LATENCY_MS)} ms): ${(result.medianMs / GITLAB_LATENCY_MS).toFixed(1)}`,
  ].join('\n');
}
