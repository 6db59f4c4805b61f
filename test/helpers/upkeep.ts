// Driving the upkeep in tests: trigger a sweep, and poll the recorded runs (never a fixed sleep) until the
// run wanted has finished, with a generous bound for a loaded machine.
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../../src/app.js';
import { INTERNAL_AUTH } from './gitlab.js';

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
export async function waitForRun(app: App, after: number, matches: (run: RunBody) => boolean, timeoutMs = 120_000): Promise<RunBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await upkeepRuns(app)).find((run) => Number(run.id) > after && run.finishedAt !== null && matches(run));
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching upkeep run after ${String(after)}: ${JSON.stringify(await upkeepRuns(app))}`);
    await sleep(100);
  }
}

/** Triggers a sweep and waits for it (and, with `instanceId`, for that instance's run it queued). */
export async function sweepNow(app: App, instanceId?: string): Promise<RunBody> {
  const after = await lastRunId(app);
  const response = await app.inject({ method: 'POST', url: '/internal/upkeep/sweep', headers: INTERNAL_AUTH });
  if (response.statusCode !== 202) throw new Error(response.body);
  const sweep = await waitForRun(app, after, (run) => run.job === 'sweep');
  if (!instanceId) return sweep;
  return waitForRun(app, Number(sweep.id), (run) => run.job === 'instance' && run.instanceId === instanceId);
}
