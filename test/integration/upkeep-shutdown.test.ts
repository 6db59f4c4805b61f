// The upkeep on shutdown (issue 12): app.close() stops taking jobs and waits for the running ones up to half of
// SHUTDOWN_TIMEOUT_MS (src/services/upkeep/scheduler.ts stop()). A check held on GitLab (the fake's held
// GET /user) is released only once the stop has begun (its log line), so a stop that does not wait is seen:
// pg-boss fails the job at once, and the stop has not ended when close() returns. The run row alone proves
// nothing here: the GitLab client's close waits for the call in flight, so the row is written either way.
// Runs on the embedded PGlite and on PostgreSQL (TEST_DATABASE_URL).
import t from 'tap';
import type { Kysely } from 'kysely';
import type { App } from '../../src/app.js';
import type { DB } from '../../src/db/types.js';
import type { FakeGitlab, InjectedFault } from '../fake-gitlab/index.js';
import { bootstrappedInstance } from '../helpers/gitlab.js';
import { pollFor } from '../helpers/poll.js';
import { readRows } from '../helpers/rows.js';
import { instanceJob, lastRunId, settledInstanceJob, triggerSweep, UPKEEP_ENV, waitForLog, waitForRun } from '../helpers/upkeep.js';

const STOPPING = 'upkeep stopping: waiting for its running jobs';
const STOPPED_EARLY = 'upkeep stopped with jobs still running: they are retried';

/** A sweep queued and finished, and the instance's check (queued by it) held at its GET /user on the fake. */
async function checkHeldOnGitlab(app: App, fake: FakeGitlab): Promise<InjectedFault> {
  const held = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  const after = await lastRunId(app);
  await triggerSweep(app);
  await waitForRun(app, after, (run) => run.job === 'sweep');
  await held.reached;
  return held;
}

/** The instance's upkeep runs as stored (read on the test's own connection: the app may be closed). */
async function instanceRuns(db: Kysely<DB>, instanceId: string) {
  return readRows(db, 'upkeepRuns', { instanceId }, 'id');
}

t.test('app.close() waits for a running check: held on GitLab while the app closes, it finishes, recorded succeeded, and pg-boss completes its job', async (t) => {
  // A database of its own: jobs that other tests left queued in pg-boss would run here too.
  const { app, fake, logs, instance, testDatabase } = await bootstrappedInstance(t, {}, UPKEEP_ENV, { ownDatabase: true });
  const { db } = testDatabase.database;
  const id: string = instance.instanceId;
  const held = await checkHeldOnGitlab(app, fake);

  const closing = app.close();
  t.match(await waitForLog(logs, STOPPING), { runningJobs: 1, timeoutMs: 10_000 }, 'the stop began while the check was held (half of the default SHUTDOWN_TIMEOUT_MS)');
  held.release();
  await closing;
  t.ok(logs.lines.some((line) => line.includes('"msg":"upkeep stopped"')), 'the upkeep had stopped, all its jobs done, when close() returned');
  t.match(await instanceRuns(db, id), [{ outcome: 'succeeded', finishedAt: Date, counts: { check: 'ok' } }], 'when close() returns, the check has finished and is recorded');
  t.match(await settledInstanceJob(db, id), { state: 'completed' }, 'pg-boss completed the job: no retry');
});

t.test('app.close() does not wait past its deadline: a check held past it is failed by pg-boss for a retry, its run left running meanwhile', async (t) => {
  // The upkeep's deadline: half of SHUTDOWN_TIMEOUT_MS, 1 s. A database of its own, as above.
  const { app, fake, logs, instance, testDatabase } = await bootstrappedInstance(t, {}, { ...UPKEEP_ENV, SHUTDOWN_TIMEOUT_MS: '2000' }, { ownDatabase: true });
  const { db } = testDatabase.database;
  const id: string = instance.instanceId;
  const held = await checkHeldOnGitlab(app, fake);

  const closing = app.close();
  t.match(await waitForLog(logs, STOPPED_EARLY), { timeoutMs: 1000 }, 'the stop returned at its deadline while GitLab still held the check');
  t.match(await settledInstanceJob(db, id), { state: 'retry', output: { value: 'pg-boss shut down while active' } }, 'pg-boss failed the job: it is retried');
  t.match(await instanceRuns(db, id), [{ outcome: 'running', finishedAt: null }], 'the run is not finished');
  held.release();
  await closing;
  // The handler (in a process that lives on, unlike a stopped server) records its end late; the job stays queued for its retry.
  await pollFor('the late end of the run', async () => (await instanceRuns(db, id)).find((run) => run.finishedAt !== null), { everyMs: 50 });
  t.match(await instanceJob(db, id), { state: 'retry' }, 'a late end does not complete the job given up');
});
