// Lost answers that are not GitLab's fault: the service process killed (SIGKILL) while GitLab rotates the
// bot's standby token or refreshes a user's token, and the database down when the rotated token is
// written. Each time the next call (on another process, once the dead holder's lease lapsed) returns a
// token GitLab accepts, and the bot keeps exactly two live tokens. Needs PostgreSQL: the killed process
// and this one share the database; the outage is a TCP proxy the test stops, never the shared server.
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { openPostgres, type Database } from '../../src/db/database.js';
import { DAY_MS } from '../../src/time.js';
import { startFakeGitlab, type FakeGitlab } from '../fake-gitlab/index.js';
import { TEST_ENCRYPTION_KEY, TEST_INTERNAL_TOKEN, testConfig, testFileDatabase } from '../helpers/app.js';
import { freePort, startServer, waitForHealthy } from '../helpers/server-process.js';
import { acceptedByGitlab, botTokenCall, FAKE_GITLAB_ENV, gitlabToken, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { readRow, updateRows } from '../helpers/rows.js';
import { proxyDatabase } from '../helpers/tcp-proxy.js';

const needsPostgres = { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (PostgreSQL shared by two processes, or behind a proxy)', timeout: 600_000 };
const ROTATE = /\/personal_access_tokens\/\d+\/rotate$/;

/** A fake GitLab and this process's app, sharing a clock the test moves (it starts at the real time, the child's clock). */
async function setUp(t: Test, database?: Database) {
  const clock = { now: new Date() };
  const fake = await startFakeGitlab({ now: () => clock.now });
  const app = await buildApp(testConfig(FAKE_GITLAB_ENV), { database: database ?? (await testFileDatabase()).database, logger: pino({ level: 'silent' }), clock: () => clock.now });
  t.teardown(async () => {
    await app.close();
    await fake.close();
  });
  return { clock, fake, app };
}

async function bootstrapped(app: App, fake: FakeGitlab): Promise<{ instanceId: string; bot: { userId: number } }> {
  const response = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
  if (response.statusCode !== 201) throw new Error(response.body);
  return response.json();
}

/**
 * Starts the service as a child process on the test file's database, makes `path` call GitLab, and
 * kills the child with SIGKILL once the request `fault` holds has reached GitLab (GitLab has acted).
 */
async function killedWhileGitlabAnswers(t: Test, path: string, fault: { reached: Promise<void>; release(): void }): Promise<void> {
  const port = await freePort();
  const { url } = await testFileDatabase();
  const child = startServer({
    ...FAKE_GITLAB_ENV,
    PORT: String(port),
    DATABASE_URL: url!,
    PUBLIC_URL: 'http://connect.test',
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    INTERNAL_API_TOKENS: TEST_INTERNAL_TOKEN,
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => child.child.kill('SIGKILL'));
  await waitForHealthy(port, child);
  const during = fetch(`http://127.0.0.1:${String(port)}${path}`, { method: 'POST', headers: auth }).catch(() => undefined);
  await fault.reached;
  child.child.kill('SIGKILL');
  await child.exited;
  fault.release();
  await during;
}

t.test('the process killed mid-rotation: the next call on another process returns a token GitLab accepts; two live tokens', needsPostgres, async (t) => {
  const { clock, fake, app } = await setUp(t);
  const instance = await bootstrapped(app, fake);
  const [, standby] = fake.liveTokensOf(instance.bot.userId);
  // Due by the child's (real) clock: the standby expires within the hour, as far as the service knows.
  await updateRows(app.deps.db, 'instances', { id: instance.instanceId }, { botStandbyTokenExpiresAt: new Date(Date.now() + 3_600_000), botStandbyTokenIssuedAt: null });
  const held = fake.injectFault({ method: 'POST', path: ROTATE, afterActing: true, hold: true });
  await killedWhileGitlabAnswers(t, `/internal/instances/${instance.instanceId}/bot-token`, held);
  t.ok(fake.personalAccessTokens.get(standby.id)!.revoked, 'GitLab rotated the standby before the process died');

  // The dead holder's lease lapses LEASE_MS after its last heartbeat.
  clock.now = new Date(Date.now() + app.deps.config.leaseMs + 1);
  const next = await botTokenCall(app, instance.instanceId);
  t.equal(next.statusCode, 200, next.body);
  t.ok(await acceptedByGitlab(fake, next.json().token), 'GitLab accepts the token served');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'exactly two live tokens: the lost one was adopted');
});

t.test('the process killed mid-refresh: the next call on another process refreshes with the old refresh token and returns a token GitLab accepts', needsPostgres, async (t) => {
  const { clock, fake, app } = await setUp(t);
  const { instance } = await createReadyInstance(app, fake);
  const gitlabUser = fake.createUser({ username: 'alice' });
  await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  const user = await readRow(app.deps.db, 'users', { gitlabUserId: String(gitlabUser.id) });
  const original = [...fake.oauthTokens.values()].at(-1)!;
  await updateRows(app.deps.db, 'users', { id: user.id }, { accessTokenExpiresAt: new Date(Date.now() - 1000) });
  const held = fake.injectFault({ method: 'POST', path: '/oauth/token', afterActing: true, hold: true });
  await killedWhileGitlabAnswers(t, `/internal/users/${user.id}/gitlab-token`, held);
  t.equal(fake.grantCount('refresh_token'), 1, 'GitLab refreshed before the process died');

  clock.now = new Date(Date.now() + app.deps.config.leaseMs + 1);
  const next = await gitlabToken(app, user.id);
  t.equal(next.statusCode, 200, next.body);
  t.equal(fake.lastTokenRequest?.refresh_token, original.refreshToken, 'refreshed again with the old refresh token');
  t.ok(await acceptedByGitlab(fake, { oauth: next.json().accessToken }), 'GitLab accepts the token served');
});

t.test('the database down while the rotated token is written: 503, then a token GitLab accepts; two live tokens', needsPostgres, async (t) => {
  const { url } = await testFileDatabase();
  const { proxy, url: viaProxy } = await proxyDatabase(url!);
  const database = openPostgres(viaProxy, pino({ level: 'silent' }), 2, { statementTimeoutMs: 5000 });
  t.teardown(async () => {
    await proxy.close();
    await database.close();
  });
  const { clock, fake, app } = await setUp(t, database);
  const instance = await bootstrapped(app, fake);
  clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
  const held = fake.injectFault({ method: 'POST', path: ROTATE, afterActing: true, hold: true });
  const during = botTokenCall(app, instance.instanceId);
  await held.reached;
  await proxy.stop();
  held.release();
  const failed = await during;
  t.same([failed.statusCode, failed.json().code], [503, 'database_unavailable'], 'the write failed: no token');
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'GitLab had rotated');
  await proxy.start();
  clock.now = new Date(clock.now.getTime() + app.deps.config.leaseMs + 1);
  const next = await botTokenCall(app, instance.instanceId);
  t.equal(next.statusCode, 200, next.body);
  t.ok(await acceptedByGitlab(fake, next.json().token), 'GitLab accepts the token served');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'exactly two live tokens');
});
