// The upkeep across replicas (issue 12), PostgreSQL only (two processes share one database; the embedded
// PGlite is one process's): two app processes each run the scheduler, yet each interval's sweep, check and
// the one due rotation happen exactly once (counted on the fake GitLab); a process killed (SIGKILL) while
// its upkeep job waits on GitLab: the job is given up after UPKEEP_JOB_TIMEOUT_SECONDS and retried by the
// other process, which completes it once, the bot keeping two live tokens.
import { sql } from 'kysely';
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { openPostgres } from '../../src/db/database.js';
import { findInstanceById } from '../../src/db/instances.repo.js';
import { startFakeGitlab, type FakeGitlab } from '../fake-gitlab/index.js';
import { createTestDatabase } from '../helpers/database.js';
import { TEST_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, testConfig } from '../helpers/app.js';
import { acceptedByGitlab, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { updateRows } from '../helpers/rows.js';
import { freePort, startServer, waitForHealthy } from '../helpers/server-process.js';
import { upkeepRuns, waitForRun, type RunBody } from '../helpers/upkeep.js';

const needsPostgres = { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (two processes share one PostgreSQL database)', timeout: 600_000 };

/** A database of this test's own (other tests' instances would be checked too), and a fake GitLab. */
async function setUp(t: Test): Promise<{ url: string; fake: FakeGitlab }> {
  const database = await createTestDatabase();
  const fake = await startFakeGitlab();
  t.teardown(async () => {
    await fake.close();
    await database.close();
  });
  return { url: database.url!, fake };
}

/** An app process of its own: its own pool on the shared database, its own scheduler. */
async function replica(t: Test, url: string, env: Record<string, string>): Promise<App> {
  const database = openPostgres(url, pino({ level: 'silent' }));
  const app = await buildApp(testConfig({ ...FAKE_GITLAB_ENV, ...env }), { database, logger: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await app.close();
    await database.close();
  });
  await app.ready();
  return app;
}

/** Bootstraps the fake's GitLab and makes the standby token due for rotation (it expires within the hour). */
async function bootstrappedWithDueToken(app: App, fake: FakeGitlab): Promise<{ instanceId: string; bot: { userId: number } }> {
  const response = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
  if (response.statusCode !== 201) throw new Error(response.body);
  const instance: { instanceId: string; bot: { userId: number } } = response.json();
  await updateRows(app.deps.db, 'instances', { id: instance.instanceId }, { botStandbyTokenExpiresAt: new Date(Date.now() + 3_600_000), botStandbyTokenIssuedAt: null });
  return instance;
}

t.test('two app processes on one database: each interval has one sweep and one check of the instance, and the due rotation happens once', { ...needsPostgres }, async (t) => {
  const { url, fake } = await setUp(t);
  const env = { UPKEEP_ENABLED: 'true', UPKEEP_INTERVAL_SECONDS: '5' };
  const [first, second] = [await replica(t, url, env), await replica(t, url, env)];
  const instance = await bootstrappedWithDueToken(first, fake);
  const from = fake.requests.length;
  let checked: RunBody[] = [];
  for (let after = 0; checked.length < 3; ) {
    const run = await waitForRun(first, after, (candidate) => candidate.job === 'instance' && candidate.instanceId === instance.instanceId);
    after = Number(run.id);
    checked = (await upkeepRuns(second)).filter((candidate) => candidate.job === 'instance' && candidate.finishedAt !== null);
  }
  await first.close();
  await second.close();
  const reader = await replica(t, url, { UPKEEP_ENABLED: 'false' });
  const runs = await upkeepRuns(reader);
  const sweeps = runs.filter((run) => run.job === 'sweep');
  const checks = runs.filter((run) => run.job === 'instance' && run.finishedAt !== null);
  // Each interval's sweep is one pg-boss job keyed by its slot (singleton_on); a sweep fetched late (a
  // busy machine) starts in the next slot, so the slots come from the jobs, not from the runs' start times.
  const sweepJobs = await sql<{ slot: Date }>`select singleton_on as slot from pgboss.job where name = 'upkeep-sweep' and started_on is not null`.execute(reader.deps.db);
  t.equal(sweeps.length, sweepJobs.rows.length, `one sweep run per sweep job started: none ran in both processes (${String(sweeps.length)} sweeps)`);
  t.equal(new Set(sweepJobs.rows.map((job) => job.slot.getTime())).size, sweepJobs.rows.length, 'one sweep job per interval');
  t.ok(checks.length <= sweeps.length, 'no more checks than sweeps');
  t.ok(checks.every((run) => run.outcome === 'succeeded'), 'every check succeeded');
  t.equal(checks.filter((run) => run.counts.botToken === 'rotated').length, 1, 'one run rotated');
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'GitLab rotated once');
  const userCalls = fake.requests.slice(from).filter((request) => request.method === 'GET' && request.path === '/api/v4/user').length;
  t.equal(userCalls, checks.length, 'GitLab was asked GET /user once per check: no check ran twice');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'two live bot tokens');
});

t.test('a process killed while its upkeep job waits on GitLab: the other process retries the job and completes it once', { ...needsPostgres }, async (t) => {
  const { url, fake } = await setUp(t);
  const fast = { UPKEEP_INTERVAL_SECONDS: '3600', UPKEEP_JOB_TIMEOUT_SECONDS: '5', LEASE_MS: '2000', LEASE_HEARTBEAT_MS: '500' };
  const setup = await replica(t, url, { UPKEEP_ENABLED: 'false' });
  const instance = await bootstrappedWithDueToken(setup, fake);
  const held = fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, afterActing: true, hold: true });

  const port = await freePort();
  const child = startServer({ ...FAKE_GITLAB_ENV, ...fast, UPKEEP_ENABLED: 'true', PORT: String(port), DATABASE_URL: url, PUBLIC_URL: 'http://connect.test', ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, INTERNAL_API_TOKENS: TEST_INTERNAL_TOKEN, LOG_LEVEL: 'warn' });
  t.teardown(() => child.child.kill('SIGKILL'));
  await waitForHealthy(port, child);
  t.equal((await fetch(`http://127.0.0.1:${String(port)}/internal/upkeep/sweep`, { method: 'POST', headers: auth })).status, 202);
  await held.reached;
  child.child.kill('SIGKILL');
  await child.exited;
  held.release();
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'GitLab rotated the standby before the process died');

  const survivor = await replica(t, url, { ...fast, UPKEEP_ENABLED: 'true' });
  const completed = await waitForRun(survivor, 0, (run) => run.job === 'instance' && run.instanceId === instance.instanceId);
  t.match(completed, { outcome: 'succeeded', counts: { check: 'ok' } }, 'retried and completed by the other process');
  const runs = (await upkeepRuns(survivor)).filter((run) => run.job === 'instance');
  t.same(runs.map((run) => run.outcome), ['running', 'succeeded'], "the killed process's run never finished; the retry completed once");
  const served = await findInstanceById(survivor.deps.db, instance.instanceId);
  const token = survivor.deps.sealer.open(served!.botTokenSealed!, 'bot_token');
  t.ok(await acceptedByGitlab(fake, token), 'GitLab accepts the served token');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'exactly two live tokens: the lost one adopted');
});
