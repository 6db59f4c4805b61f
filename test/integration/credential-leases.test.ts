// Refreshes wait on GitLab under a lease, holding no database connection: refreshes stuck on a GitLab
// that never answers leave every other instance's requests served (pool of 10 on PostgreSQL, the one
// connection of PGlite), and a lease whose holder died lapses so the next caller refreshes.
import type { KyselyPlugin } from 'kysely';
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildApp, type App, type Clock } from '../../src/app.js';
import { openPostgres } from '../../src/db/database.js';
import { claimCredentialLease } from '../../src/db/credential-leases.repo.js';
import { buildAppBehindProxy, buildTestApp, testConfig, testFileDatabase } from '../helpers/app.js';
import { acceptedByGitlab, FAKE_GITLAB_ENV, gitlabToken } from '../helpers/gitlab.js';
import { until } from '../helpers/poll.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { readRow } from '../helpers/rows.js';
import { startFakeGitlab, type FakeGitlab } from '../fake-gitlab/index.js';

/** Logs `count` new GitLab users of `fake` in; returns their user ids in this service. */
async function loggedInUsers(app: App, fake: FakeGitlab, instanceId: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const gitlabUser = fake.createUser({ username: `user${String(fake.users.size + 1)}` });
    await login(new Browser(), app, fake, instanceId, { gitlabUserId: gitlabUser.id });
    const row = await readRow(app.deps.db, 'users', { gitlabUserId: String(gitlabUser.id), instanceId });
    ids.push(row.id);
  }
  return ids;
}

/** Polling bounds: every 20 ms, for at most 60 s. */
const POLL = { everyMs: 20, withinMs: 60_000 };

/**
 * Counts the lease claims the app's services send from now on (a Kysely plugin on app.deps.db, the
 * connection every service call reads it from): how a test sees a caller poll a held lease, in order,
 * without waiting a wall-clock time.
 */
function countLeaseClaims(app: App): { count: number } {
  const claims = { count: 0 };
  const spy: KyselyPlugin = {
    transformQuery(args) {
      if (args.node.kind === 'UpdateQueryNode' && JSON.stringify(args.node).includes('"credential_lease_until"')) claims.count++;
      return args.node;
    },
    transformResult: (args) => Promise.resolve(args.result),
  };
  (app.deps as { db: App['deps']['db'] }).db = app.deps.db.withPlugin(spy);
  return claims;
}

/** An app with a pool of `poolSize` (PostgreSQL) or PGlite's one connection, and a clock the test moves. */
async function appWithPool(t: Test, poolSize: number, clock: Clock, env: Record<string, string>) {
  const testDatabase = await testFileDatabase();
  const database = testDatabase.url ? openPostgres(testDatabase.url, pino({ level: 'silent' }), poolSize) : testDatabase.database;
  const app = await buildApp(testConfig({ ...FAKE_GITLAB_ENV, ...env }), { database, logger: pino({ level: 'silent' }), clock });
  t.teardown(async () => {
    await app.close();
    if (database !== testDatabase.database) await database.close();
  });
  return app;
}

t.test('ten refreshes waiting on a GitLab that never answers leave other instances served (pool of 10, or PGlite)', async (t) => {
  let now = new Date();
  const clock: Clock = () => now;
  const hung = await startFakeGitlab({ now: clock, accessTokenTtlSeconds: 60 });
  const healthy = await startFakeGitlab({ now: clock });
  t.teardown(() => Promise.all([hung.close(), healthy.close()]));
  // The GitLab calls must outlast the test: nothing here may depend on a timeout freeing the pool.
  // The per-instance cap lets all ten through: what is tested here is the database pool, not the cap.
  const app = await appWithPool(t, 10, clock, { GITLAB_TIMEOUT_MS: '120000', LOOKUP_CACHE_SIZE: '0', GITLAB_MAX_CONCURRENT_PER_INSTANCE: '10' });
  const { instance: stuck } = await createReadyInstance(app, hung);
  const { instance: fine } = await createReadyInstance(app, healthy);
  const stuckUsers = await loggedInUsers(app, hung, stuck.id, 10);
  const [fineUser] = await loggedInUsers(app, healthy, fine.id, 1);
  // 7200 s tokens with 3500 s left are due (half their lifetime); the hung GitLab's 60 s ones long expired.
  now = new Date(now.getTime() + 3_700_000);
  healthy.accessTokenTtlSeconds = 86_400 * 7;
  const [fresh] = await loggedInUsers(app, healthy, fine.id, 1);

  const never = hung.injectFault({ method: 'POST', path: '/oauth/token', hold: true, times: 1000 });
  const refreshes = stuckUsers.map((id) => gitlabToken(app, id));
  await until('all ten refreshes reached GitLab', () => never.applied === 10, POLL);

  for (let i = 0; i < 15; i++) {
    const lookup = await app.inject({ method: 'GET', url: `/instances/lookup?url=${encodeURIComponent(healthy.url)}` });
    t.equal(lookup.statusCode, 200, `lookup ${String(i)} of the healthy instance`);
    const token = await gitlabToken(app, fresh);
    t.equal(token.statusCode, 200, `token ${String(i)} of a user of the healthy instance`);
  }
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200, '/readyz');
  t.equal((await gitlabToken(app, fineUser)).statusCode, 200, 'a due refresh on the healthy GitLab goes through');
  t.equal(never.applied, 10, 'the stuck refreshes were still waiting on GitLab');
  never.release();
  const answers = await Promise.all(refreshes);
  t.same(answers.map((answer) => answer.statusCode), Array(10).fill(200), 'once GitLab answers, every stuck refresh completes');
});

t.test('a lease whose holder died lapses after LEASE_MS: the next caller refreshes', async (t) => {
  let now = new Date();
  const clock: Clock = () => now;
  const fake = await startFakeGitlab({ now: clock, accessTokenTtlSeconds: 60 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, LEASE_MS: '30000', LEASE_HEARTBEAT_MS: '10000' }, { clock });
  const { instance } = await createReadyInstance(app, fake);
  const [userId] = await loggedInUsers(app, fake, instance.id, 1);
  now = new Date(now.getTime() + 3_600_000);
  // A holder that claimed the lease and died (kill -9): nobody renews it.
  t.ok(await claimCredentialLease(app.deps.db, 'users', userId, { holder: 'dead-process', now, until: new Date(now.getTime() + 30_000) }));
  const claims = countLeaseClaims(app);
  let settled = false;
  const waiter = gitlabToken(app, userId).finally(() => { settled = true; });
  await until('the caller tried the held lease again', () => claims.count >= 2, POLL);
  t.notOk(settled, 'within the lease, callers wait for its holder');
  t.equal(fake.grantCount('refresh_token'), 0, 'and do not refresh');
  now = new Date(now.getTime() + 30_001);
  const waited = await waiter;
  t.equal(waited.statusCode, 200, 'once the lease lapsed, the waiting caller claimed it and was served');
  t.equal(fake.grantCount('refresh_token'), 1, 'exactly one refresh');
  t.ok(await acceptedByGitlab(fake, { oauth: waited.json().accessToken }), 'the token it was served is the refreshed one');
});

t.test('a refresh whose answer GitLab dropped after acting: the next call refreshes with the old refresh token and gets a token GitLab accepts', async (t) => {
  let now = new Date();
  const clock: Clock = () => now;
  const fake = await startFakeGitlab({ now: clock, accessTokenTtlSeconds: 60 });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV, { clock });
  const { instance } = await createReadyInstance(app, fake);
  const [userId] = await loggedInUsers(app, fake, instance.id, 1);
  const original = [...fake.oauthTokens.values()].at(-1)!;
  now = new Date(now.getTime() + 3_600_000);
  fake.injectFault({ method: 'POST', path: '/oauth/token', afterActing: true, drop: true });
  const lost = await gitlabToken(app, userId);
  t.equal(lost.statusCode, 502, 'the lost answer is an error, not a token');
  t.equal(fake.grantCount('refresh_token'), 1, 'GitLab did refresh');
  const retried = await gitlabToken(app, userId);
  t.equal(retried.statusCode, 200, retried.body);
  t.equal(fake.lastTokenRequest?.refresh_token, original.refreshToken, 'the retry used the old refresh token, kept until a new pair was stored');
  t.ok(await acceptedByGitlab(fake, { oauth: retried.json().accessToken }), 'GitLab accepts the token served');
});

t.test(
  'the database down while a refresh is stored: the next call, once it is back, returns a token GitLab accepts',
  { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server behind a proxy)' },
  async (t) => {
    let now = new Date();
    const clock: Clock = () => now;
    const fake = await startFakeGitlab({ now: clock, accessTokenTtlSeconds: 60 });
    t.teardown(() => fake.close());
    const { app, proxy } = await buildAppBehindProxy(t, { env: FAKE_GITLAB_ENV, clock, maxConnections: 2, statementTimeoutMs: 5000 });
    const { instance } = await createReadyInstance(app, fake);
    const [userId] = await loggedInUsers(app, fake, instance.id, 1);
    const original = [...fake.oauthTokens.values()].at(-1)!;
    now = new Date(now.getTime() + 3_600_000);
    const held = fake.injectFault({ method: 'POST', path: '/oauth/token', afterActing: true, hold: true });
    const during = gitlabToken(app, userId);
    await held.reached;
    await proxy.stop();
    held.release();
    const failed = await during;
    t.equal(failed.statusCode, 503, 'the write failed: database_unavailable, no token');
    t.equal(fake.grantCount('refresh_token'), 1, 'GitLab had refreshed');
    await proxy.start();
    // The lease could not be released while the database was away: it lapses after LEASE_MS.
    now = new Date(now.getTime() + app.deps.config.leaseMs + 1);
    const next = await gitlabToken(app, userId);
    t.equal(next.statusCode, 200, next.body);
    t.equal(fake.lastTokenRequest?.refresh_token, original.refreshToken, 'refreshed again with the old refresh token');
    t.ok(await acceptedByGitlab(fake, { oauth: next.json().accessToken }), 'GitLab accepts the token served');
  },
);
