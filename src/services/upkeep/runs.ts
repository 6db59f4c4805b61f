// One upkeep run: recorded in upkeep_runs (GET /internal/upkeep/runs), one log line with its counts, and
// the metrics counter. The sweep runs SWEEP_TASKS and hands the ready instances to the queue spread over
// the interval; an instance's run does INSTANCE_TASKS.
import { findInstanceById } from '../../db/instances.repo.js';
import { finishUpkeepRun, insertUpkeepRun, listCheckableInstanceIds, listUpkeepRuns, setNextCheckAt } from '../../db/upkeep.repo.js';
import type { UpkeepRun } from '../../domain/types.js';
import type { RequestLog, ServiceDeps } from '../deps.js';
import type { UpkeepContext } from './context.js';
import { INSTANCE_TASKS, SWEEP_TASKS } from './tasks.js';

/** The upkeep's logger (the app's pino logger): the run's line is info, a failure warn. */
export type UpkeepLog = RequestLog;

/** Called after each run (the metrics counter). */
export type RunObserver = (job: 'sweep' | 'instance', outcome: string) => void;

type Counts = Record<string, number | string>;

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 2000);

/** Runs `work` as one recorded run; rethrows its failure after recording it (the queue retries the job). */
async function recorded(deps: ServiceDeps, log: UpkeepLog, observe: RunObserver, run: { job: 'sweep' | 'instance'; instanceId: string | null }, work: (context: UpkeepContext, counts: Counts) => Promise<'succeeded' | 'skipped'>): Promise<void> {
  const now = deps.clock();
  const id = await insertUpkeepRun(deps.db, { job: run.job, instanceId: run.instanceId, startedAt: now });
  const counts: Counts = {};
  let outcome = 'failed';
  let error: string | null = null;
  try {
    outcome = await work({ deps, log, now }, counts);
  } catch (failure) {
    error = errorText(failure);
    throw failure;
  } finally {
    await finishUpkeepRun(deps.db, id, { finishedAt: deps.clock(), outcome, counts, error }).catch(() => {});
    const line = { upkeepRun: id, job: run.job, instanceId: run.instanceId ?? undefined, outcome, counts, error: error ?? undefined };
    if (error) log.warn(line, 'upkeep run failed');
    else log.info(line, 'upkeep run');
    observe(run.job, outcome);
  }
}

/** Runs each task, a failure recorded in the counts; the first failure is rethrown after all ran. */
async function runTasks<T>(tasks: readonly { name: string; run: (context: UpkeepContext, subject: T) => Promise<number | string> }[], context: UpkeepContext, subject: T, counts: Counts): Promise<void> {
  const failures: unknown[] = [];
  for (const task of tasks) {
    try {
      counts[task.name] = await task.run(context, subject);
    } catch (error) {
      counts[task.name] = 'failed';
      failures.push(error);
    }
  }
  if (failures.length === 0) return;
  throw failures[0] instanceof Error ? failures[0] : new Error(String(failures[0]));
}

/** Where the sweep hands an instance's check: run `startAfterSeconds` from now. */
export type EnqueueCheck = (instanceId: string, startAfterSeconds: number) => Promise<void>;

/**
 * The sweep: the clean-ups, then every ready instance's check queued, spread evenly over the interval
 * (instance i of n after i·interval/n seconds; at once for a manual sweep, `spread` false), each
 * instance's next check time stored for health.
 */
export function runSweep(deps: ServiceDeps, log: UpkeepLog, observe: RunObserver, enqueue: EnqueueCheck, options: { spread: boolean }): Promise<void> {
  return recorded(deps, log, observe, { job: 'sweep', instanceId: null }, async (context, counts) => {
    await runTasks(SWEEP_TASKS.map((task) => ({ name: task.name, run: (c: UpkeepContext) => task.run(c) })), context, null, counts);
    const ids = await listCheckableInstanceIds(deps.db);
    const interval = deps.config.upkeep.intervalSeconds;
    for (const [index, instanceId] of ids.entries()) {
      const startAfterSeconds = options.spread ? Math.floor((index * interval) / ids.length) : 0;
      await enqueue(instanceId, startAfterSeconds);
      await setNextCheckAt(deps.db, instanceId, new Date(context.now.getTime() + startAfterSeconds * 1000));
    }
    counts.instancesQueued = ids.length;
    return 'succeeded';
  });
}

/** One instance's upkeep: INSTANCE_TASKS when it is still ready, else skipped. Throws when a task failed (retried). */
export function runInstanceUpkeep(deps: ServiceDeps, log: UpkeepLog, observe: RunObserver, instanceId: string): Promise<void> {
  return recorded(deps, log, observe, { job: 'instance', instanceId }, async (context, counts) => {
    const instance = await findInstanceById(deps.db, instanceId);
    if (instance?.status !== 'ready') return 'skipped';
    try {
      await runTasks(INSTANCE_TASKS, context, instance, counts);
    } finally {
      // Until the next sweep queues it again; shown as health.nextCheckAt.
      await setNextCheckAt(deps.db, instanceId, new Date(deps.clock().getTime() + deps.config.upkeep.intervalSeconds * 1000));
    }
    return 'succeeded';
  });
}

/** The most recent upkeep runs, newest first (at most `limit`). */
export function recentUpkeepRuns(deps: ServiceDeps, limit: number): Promise<UpkeepRun[]> {
  return listUpkeepRuns(deps.db, limit);
}
