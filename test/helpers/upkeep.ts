// Driving the upkeep in tests: trigger a sweep, and poll the recorded runs, the log or pg-boss's job table
// (never a fixed sleep) until what is wanted has happened, with a generous bound for a loaded machine.
import { sql, type Kysely } from 'kysely';
import type { App } from '../../src/app.js';
import type { DB } from '../../src/db/types.js';
import type { LogCapture } from './app.js';
import { INTERNAL_AUTH } from './gitlab.js';
import { pollFor } from './poll.js';

/** The upkeep switched on, with an interval long enough that no scheduled sweep comes during a test that triggers its own. */
export const UPKEEP_ENV = { UPKEEP_ENABLED: 'true', UPKEEP_INTERVAL_SECONDS: '86400' };

export interface RunBody {
  id: string;
  job: 'sweep' | 'instance';
  instanceId: string | null;
  startedAt: string;
  finishedAt: string | null;
  outcome: string;
  counts: Record<string, number | string>;
  error: string | null;
}

/** Every recorded run, oldest first. */
export async function upkeepRuns(app: App): Promise<RunBody[]> {
  const response = await app.inject({ method: 'GET', url: '/internal/upkeep/runs?limit=500', headers: INTERNAL_AUTH });
  if (response.statusCode !== 200) throw new Error(response.body);
  return (response.json().runs as RunBody[]).reverse();
}

/** The id of the newest run (0 when none): runs after it are newer. */
export async function lastRunId(app: App): Promise<number> {
  return Number((await upkeepRuns(app)).at(-1)?.id ?? 0);
}

/** Polls every 100 ms until a finished run newer than `after` matches; throws after `timeoutMs`. */
export function waitForRun(app: App, after: number, matches: (run: RunBody) => boolean, timeoutMs = 120_000): Promise<RunBody> {
  const finished = async () => (await upkeepRuns(app)).find((run) => Number(run.id) > after && run.finishedAt !== null && matches(run));
  return pollFor(`a matching upkeep run after ${String(after)}`, finished, { everyMs: 100, withinMs: timeoutMs }).catch(async (error: unknown) => {
    throw new Error(`${String(error)}; the runs: ${JSON.stringify(await upkeepRuns(app))}`);
  });
}

/** Polls the captured log every 10 ms until a line with the message `msg` was written; answers it parsed. */
export function waitForLog(logs: LogCapture, msg: string): Promise<Record<string, unknown>> {
  const line = () => logs.lines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.msg === msg);
  return pollFor(`the log line "${msg}"`, line, { everyMs: 10 });
}

/** pg-boss's state of the newest check job of an instance ('created', 'retry', 'active', 'completed', 'failed'…) and its output. */
export async function instanceJob(db: Kysely<DB>, instanceId: string): Promise<{ state: string; output: unknown }> {
  const { rows } = await sql<{ state: string; output: unknown }>`select state, output from pgboss.job where name = 'upkeep-instance' and singleton_key = ${instanceId} order by created_on desc limit 1`.execute(db);
  if (!rows[0]) throw new Error(`no upkeep job for instance ${instanceId}`);
  return rows[0];
}

/** Polls pg-boss every 50 ms until the instance's newest check job has left state 'active'; answers its state then. */
export function settledInstanceJob(db: Kysely<DB>, instanceId: string): Promise<{ state: string; output: unknown }> {
  return pollFor(`the check job of ${instanceId} settled`, async () => {
    const job = await instanceJob(db, instanceId);
    return job.state === 'active' ? undefined : job;
  }, { everyMs: 50 });
}

/** Queues a sweep through POST /internal/upkeep/sweep, without waiting for it. */
export async function triggerSweep(app: App): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/internal/upkeep/sweep', headers: INTERNAL_AUTH });
  if (response.statusCode !== 202) throw new Error(response.body);
}

/** Triggers a sweep and waits for it (and, with `instanceId`, for that instance's run it queued). */
export async function sweepNow(app: App, instanceId?: string): Promise<RunBody> {
  const after = await lastRunId(app);
  await triggerSweep(app);
  const sweep = await waitForRun(app, after, (run) => run.job === 'sweep');
  if (!instanceId) return sweep;
  return waitForRun(app, Number(sweep.id), (run) => run.job === 'instance' && run.instanceId === instanceId);
}
