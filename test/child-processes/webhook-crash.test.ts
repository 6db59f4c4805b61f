// A process killed after storing a webhook delivery but before answering it (issue 16): GitLab, with no
// answer, retries the same delivery (same Idempotency-Key and X-Gitlab-Event-UUID) and the retry reaches
// another process, which acknowledges it and stores nothing more. PostgreSQL only: the killed process and
// this one share the database. The kill lands exactly between the commit and the answer, with no hook in
// the service: this test holds a SHARE lock on webhook_events so the child's INSERT waits, freezes the
// child (SIGSTOP) while it waits, releases the lock so PostgreSQL runs and commits the INSERT on its own,
// and once the row is there kills the frozen child (SIGKILL): it never read its INSERT's result.
import { sql } from 'kysely';
import pg from 'pg';
import t from 'tap';
import type { App } from '../../src/app.js';
import { createProject, triggerEvent } from '../fake-gitlab/index.js';
import { TEST_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, testFileDatabase } from '../helpers/app.js';
import { FAKE_GITLAB_ENV } from '../helpers/gitlab.js';
import { loggedInMaintainer } from '../helpers/maintainer.js';
import { until } from '../helpers/poll.js';
import { readRows } from '../helpers/rows.js';
import { freePort, startServer, waitForHealthy } from '../helpers/server-process.js';

const needsPostgres = { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)', timeout: 600_000 };

/** Polling bounds: every 20 ms, for at most 30 s (a generous bound, no timing asserted). */
const POLL = { everyMs: 20, withinMs: 30_000 };

/** Webhook events stored for the installation. */
async function storedEvents(app: App, installationId: string): Promise<number> {
  return (await readRows(app.deps.db, 'webhookEvents', { installationId })).length;
}

/** Whether some session waits for a lock on webhook_events (the child's INSERT behind the test's SHARE lock). */
async function insertWaits(app: App): Promise<boolean> {
  const { rows } = await sql<{ waiting: number }>`select count(*)::int as waiting from pg_locks where relation = 'webhook_events'::regclass and not granted`.execute(app.deps.db);
  return rows[0].waiting > 0;
}

t.test('a process killed after storing a delivery, before answering: GitLab\'s retry to another process is acknowledged and not stored twice', needsPostgres, async (t) => {
  const { app, fake, alice, as, port: survivorPort } = await loggedInMaintainer(t);
  const project = createProject(fake, { name: 'crash', members: { [alice.id]: 40 } });
  const installed = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(installed.statusCode, 201, installed.body);
  const installationId = (installed.json().installation as { id: string }).id;

  const { url } = await testFileDatabase();
  const childPort = await freePort();
  const child = startServer({
    ...FAKE_GITLAB_ENV,
    PORT: String(childPort),
    DATABASE_URL: url!,
    PUBLIC_URL: 'http://connect.test',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    INTERNAL_API_TOKENS: TEST_INTERNAL_TOKEN,
    UPKEEP_ENABLED: 'false',
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => child.child.kill('SIGKILL'));
  await waitForHealthy(childPort, child);

  // GitLab's first attempt reaches the child; its retries, the process still running (this one).
  let attempt = 0;
  const rewrite = (hookUrl: string) => hookUrl.replace('http://connect.test', `http://127.0.0.1:${String(attempt++ === 0 ? childPort : survivorPort)}`);
  const locker = new pg.Client({ connectionString: url });
  await locker.connect();
  t.teardown(() => locker.end());
  await locker.query('begin');
  await locker.query('lock table webhook_events in share mode');

  const delivered = triggerEvent(fake, project.id, 'merge_request', { object_attributes: { iid: 7 } }, rewrite);
  await until("the child's INSERT waits on the lock", () => insertWaits(app), POLL);
  child.child.kill('SIGSTOP');
  await locker.query('rollback');
  await until('the frozen child\'s INSERT is committed', async () => (await storedEvents(app, installationId)) === 1, POLL);
  child.child.kill('SIGKILL');
  await child.exited;

  const attempts = await delivered;
  t.same(attempts.map((a) => a.status), ['network_error', 200], 'no answer from the killed process; the retry is acknowledged');
  t.equal(new Set(attempts.map((a) => `${a.idempotencyKey} ${a.eventUuid}`)).size, 1, 'the retry carries the same Idempotency-Key and X-Gitlab-Event-UUID');
  t.equal(await storedEvents(app, installationId), 1, 'stored once');
});
