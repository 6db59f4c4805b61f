// The upkeep's scheduler: pg-boss (a PostgreSQL job queue) on the app's own database, so the schedule and
// every job's state live with everything else and any number of replicas share them. The sweep runs
// once per UPKEEP_INTERVAL_SECONDS across all replicas: each sweep (and each process at start, and on a
// timer as a safety net) enqueues the next one at the next interval boundary, keyed by its time slot
// (singletonSeconds: one job per slot, whoever enqueues it). Each instance's check is its own job in a
// 'stately' queue keyed by the instance id: at most one queued and one running per instance, fetched
// with SKIP LOCKED by exactly one process, retried with back-off when it fails, and given up (then
// retried by any process) when it runs longer than UPKEEP_JOB_TIMEOUT_SECONDS, e.g. its process died.
import PgBoss from 'pg-boss';
import type { JobStoreDb } from '../../db/upkeep.repo.js';
import type { ServiceDeps } from '../deps.js';
import { runInstanceUpkeep, runSweep, type RunObserver, type UpkeepLog } from './runs.js';

const SCHEMA = 'pgboss';
const SWEEP_QUEUE = 'upkeep-sweep';
const INSTANCE_QUEUE = 'upkeep-instance';
/** pg-boss's smallest polling interval. */
const MIN_POLL_SECONDS = 0.5;

export interface Upkeep {
  start(): Promise<void>;
  /** Stops taking jobs and waits for running ones up to `deadlineMs`; unfinished ones are retried by another process. */
  stop(deadlineMs: number): Promise<void>;
  /** Queues a sweep now (an operator's action, or a test's) and wakes this process's sweep worker; its checks wake the instance workers. */
  triggerSweep(): Promise<void>;
}

interface SweepJob {
  /** manual: POST /internal/upkeep/sweep, whose checks are queued at once instead of spread. */
  trigger?: 'manual';
}

interface InstanceJob {
  instanceId: string;
}

/** Retries of a failed or expired job: after at most 60 s (less with a short interval or job timeout), then doubling (pg-boss retryBackoff). */
function retryOptions(intervalSeconds: number, jobTimeoutSeconds: number) {
  return { retryLimit: 5, retryDelay: Math.max(1, Math.min(60, Math.floor(intervalSeconds / 5), jobTimeoutSeconds)), retryBackoff: true };
}

function bossOf(jobStore: JobStoreDb, deps: ServiceDeps): PgBoss {
  const { intervalSeconds, jobTimeoutSeconds } = deps.config.upkeep;
  return new PgBoss({
    db: jobStore,
    schema: SCHEMA,
    // The schema comes from the migrations (migrations/20261204010000_create_upkeep.ts).
    migrate: false,
    // The sweep schedules itself (cron has minute granularity; UPKEEP_INTERVAL_SECONDS may be 5).
    schedule: false,
    supervise: true,
    // Expired (stuck or orphaned) jobs are found by this maintenance, run by one process at a time.
    maintenanceIntervalSeconds: Math.max(1, Math.min(120, jobTimeoutSeconds)),
    expireInSeconds: jobTimeoutSeconds,
    archiveCompletedAfterSeconds: Math.max(43_200, intervalSeconds),
  });
}

/** The job handlers running in this process (what a shutdown waits for), counted by wrapping each in `run`. */
function handlerCount() {
  let running = 0;
  return {
    get running() {
      return running;
    },
    async run(work: () => Promise<void>): Promise<void> {
      running++;
      try {
        await work();
      } finally {
        running--;
      }
    },
  };
}

/** Creates the scheduler; nothing runs before start(). */
export function createUpkeep(deps: ServiceDeps, jobStore: JobStoreDb, log: UpkeepLog, observe: RunObserver): Upkeep {
  const { intervalSeconds, concurrency, jobTimeoutSeconds } = deps.config.upkeep;
  const boss = bossOf(jobStore, deps);
  boss.on('error', (error) => { log.warn({ err: error }, 'upkeep job queue error (retried at its next poll)'); });
  const pollingIntervalSeconds = Math.max(MIN_POLL_SECONDS, Math.min(2, intervalSeconds / 10));
  let safetyNet: NodeJS.Timeout | undefined;
  const handlers = handlerCount();
  // This process's workers (pg-boss ids): a manual sweep wakes them instead of waiting for their next poll.
  const workers = { sweep: [] as string[], instance: [] as string[] };
  const wake = (ids: string[]) => { for (const id of ids) boss.notifyWorker(id); };

  const enqueueCheck = async (instanceId: string, startAfterSeconds: number) => {
    await boss.send(INSTANCE_QUEUE, { instanceId } satisfies InstanceJob, { singletonKey: instanceId, startAfter: startAfterSeconds, expireInSeconds: jobTimeoutSeconds, ...retryOptions(intervalSeconds, jobTimeoutSeconds) });
  };
  /** The sweep of the next interval boundary; a no-op when any process already queued it (singleton slot). */
  const scheduleNextSweep = async () => {
    const nextBoundary = new Date((Math.floor(Date.now() / 1000 / intervalSeconds) + 1) * intervalSeconds * 1000);
    await boss.send(SWEEP_QUEUE, {}, { singletonKey: 'scheduled', singletonSeconds: intervalSeconds, startAfter: nextBoundary, expireInSeconds: jobTimeoutSeconds, ...retryOptions(intervalSeconds, jobTimeoutSeconds) });
  };
  const sweep = (jobs: PgBoss.Job<SweepJob>[]) => handlers.run(async () => {
    const manual = jobs.some((job) => job.data.trigger === 'manual');
    await scheduleNextSweep();
    await runSweep(deps, log, observe, enqueueCheck, { spread: !manual });
    if (manual) wake(workers.instance);
  });

  return {
    async start() {
      await boss.start();
      await scheduleNextSweep();
      workers.sweep.push(await boss.work<SweepJob>(SWEEP_QUEUE, { batchSize: 1, pollingIntervalSeconds }, sweep));
      for (let worker = 0; worker < concurrency; worker++) {
        workers.instance.push(await boss.work<InstanceJob>(INSTANCE_QUEUE, { batchSize: 1, pollingIntervalSeconds }, (jobs) => handlers.run(async () => {
          for (const job of jobs) await runInstanceUpkeep(deps, log, observe, job.data.instanceId);
        })));
      }
      // Should the chain of sweeps break (a sweep given up after its retries), the next slot is queued anyway.
      safetyNet = setInterval(() => { scheduleNextSweep().catch((error: unknown) => { log.warn({ err: error }, 'could not queue the next upkeep sweep'); }); }, intervalSeconds * 1000);
      safetyNet.unref();
    },
    async stop(deadlineMs) {
      clearInterval(safetyNet);
      const timeoutMs = Math.max(1000, deadlineMs);
      if (handlers.running > 0) log.info({ runningJobs: handlers.running, timeoutMs }, 'upkeep stopping: waiting for its running jobs');
      // pg-boss stops fetching, waits for the running handlers up to the timeout, then fails the unfinished
      // jobs ('pg-boss shut down while active'): they are retried, by another process or after a restart.
      await boss.stop({ graceful: true, wait: true, close: false, timeout: timeoutMs });
      if (handlers.running > 0) log.warn({ runningJobs: handlers.running, timeoutMs }, 'upkeep stopped with jobs still running: they are retried');
      else log.info('upkeep stopped');
    },
    async triggerSweep() {
      await boss.send(SWEEP_QUEUE, { trigger: 'manual' } satisfies SweepJob, { expireInSeconds: jobTimeoutSeconds });
      wake(workers.sweep);
    },
  };
}
