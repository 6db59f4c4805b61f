// The Prometheus metrics of one app: a registry of its own (several apps may share a test process),
// process metrics, and the counters the HTTP hooks and the GitLab client feed. Every label has a bounded
// set of values: route patterns, methods, statuses, error codes from the catalogue, fixed operation names.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GitlabCallReport } from '../gitlab/http.js';
import { gitlabOperation, gitlabOutcome } from './gitlab-operations.js';

const PREFIX = 'gitlab_connect_';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  gitlabCalls: Counter<'operation' | 'outcome' | 'status_class'>;
  bootstraps: Counter<'outcome' | 'code'>;
  logins: Counter<'outcome' | 'code'>;
  /** Feed for the upkeep: one run of a job ('sweep', 'instance') and its outcome. */
  upkeepRun: (job: string, outcome: string) => void;
  /** Feed for the GitLab client's onCall option. */
  gitlabCall: (call: GitlabCallReport) => void;
}

/**
 * Creates the registry. `instancesByStatus` is read at each scrape (a gauge collected from the database,
 * right for any number of processes); when it fails the gauge is left empty for that scrape.
 */
export function createMetrics(instancesByStatus: () => Promise<Record<string, number>>): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  const httpLabels = ['method', 'route', 'status'] as const;
  const httpRequests = new Counter({ name: `${PREFIX}http_requests_total`, help: 'HTTP requests answered, by method, route pattern and status', labelNames: httpLabels, registers });
  const httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time to answer an HTTP request, by method, route pattern and status',
    labelNames: httpLabels,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const gitlabCalls = new Counter({ name: `${PREFIX}gitlab_calls_total`, help: 'Calls to GitLab instances by operation, outcome (success, refused, failed) and status class', labelNames: ['operation', 'outcome', 'status_class'] as const, registers });
  const bootstraps = new Counter({ name: `${PREFIX}bootstraps_total`, help: 'Bootstrap calls by outcome (success, failure) and problem code (none on success)', labelNames: ['outcome', 'code'] as const, registers });
  const logins = new Counter({ name: `${PREFIX}logins_total`, help: 'Login callbacks by outcome (success, failure) and problem code (none on success)', labelNames: ['outcome', 'code'] as const, registers });
  const refreshes = new Counter({ name: `${PREFIX}user_token_refreshes_total`, help: "Refreshes of users' GitLab tokens sent to GitLab, by outcome", labelNames: ['outcome'] as const, registers });
  const upkeepRuns = new Counter({ name: `${PREFIX}upkeep_runs_total`, help: 'Upkeep runs by job (sweep, instance) and outcome (succeeded, failed, skipped)', labelNames: ['job', 'outcome'] as const, registers });
  const rotations = new Counter({ name: `${PREFIX}bot_token_rotations_total`, help: 'Bot token rotations sent to GitLab, by outcome', labelNames: ['outcome'] as const, registers });
  new Gauge({
    name: `${PREFIX}instances`,
    help: 'Registered GitLab instances by status (read from the database at scrape time)',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      this.reset();
      const counts = await instancesByStatus().catch(() => undefined);
      for (const [status, count] of Object.entries(counts ?? {})) this.set({ status }, count);
    },
  });

  function gitlabCall(call: GitlabCallReport): void {
    const operation = gitlabOperation(call);
    const outcome = gitlabOutcome(call);
    gitlabCalls.inc({ operation, outcome, status_class: call.status === undefined ? 'none' : `${String(Math.floor(call.status / 100))}xx` });
    if (operation === 'oauth_token_refresh') refreshes.inc({ outcome });
    if (operation === 'rotate_token') rotations.inc({ outcome });
  }

  const upkeepRun = (job: string, outcome: string) => { upkeepRuns.inc({ job, outcome }); };
  return { registry, httpRequests, httpDuration, gitlabCalls, bootstraps, logins, upkeepRun, gitlabCall };
}
