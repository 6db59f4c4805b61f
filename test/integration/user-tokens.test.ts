// POST /internal/users/:id/gitlab-token: internal auth, fresh tokens served as stored, a single refresh
// for many concurrent callers across two app instances on one database, and invalid_grant.
import pino from 'pino';
import t, { type Test } from 'tap';
import { buildApp, type Clock } from '../../src/app.js';
import { openPostgres } from '../../src/db/database.js';
import { findUserById } from '../../src/db/users.repo.js';
import { buildTestApp, testConfig, testFileDatabase, TEST_INTERNAL_TOKEN } from '../helpers/app.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { FAKE_GITLAB_ENV, gitlabToken, gitlabUserWith } from '../helpers/gitlab.js';
import { readRow } from '../helpers/rows.js';
import { settlesWithin } from '../helpers/poll.js';
import { startFakeGitlab } from '../fake-gitlab/index.js';

/**
 * A logged-in user. The fake GitLab and the app share one virtual clock that the test moves:
 * `advance(ms)` ages every token on both sides at once.
 */
async function loggedInUser(t: Test, options: { accessTokenTtlSeconds?: number } = {}) {
  let now = new Date();
  const clock: Clock = () => now;
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab', now: clock, ...options });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV, { clock });
  const { instance } = await createReadyInstance(app, fake);
  const gitlabUser = fake.createUser({ username: `user${String(fake.users.size + 1)}` });
  const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  t.equal(callback.statusCode, 302, 'logged in');
  const user = await readRow(app.deps.db, 'users', { instanceId: instance.id });
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };
  return { app, fake, instance, gitlabUser, userId: user.id, clock, advance };
}

t.test('internal routes refuse a missing or wrong token, and everything when INTERNAL_API_TOKENS is unset', async (t) => {
  const { app, userId } = await loggedInUser(t);
  for (const token of [null, 'wrong-token-0123456789', `${TEST_INTERNAL_TOKEN}x`, TEST_INTERNAL_TOKEN.slice(0, -1)]) {
    const response = await gitlabToken(app, userId, token);
    t.same([response.statusCode, response.json().code], [401, 'internal_unauthorized'], String(token));
    t.match(response.json().detail, /send one as `Authorization: Bearer <token>`/, 'the detail names the fix');
  }
  const basic = await app.inject({ method: 'POST', url: `/internal/users/${userId}/gitlab-token`, headers: { authorization: `Basic ${Buffer.from(`x:${TEST_INTERNAL_TOKEN}`).toString('base64')}` } });
  t.equal(basic.statusCode, 401, 'only a bearer token counts');

  const { app: closed } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, INTERNAL_API_TOKENS: '' });
  t.same(closed.deps.config.internalApiTokens, []);
  const refused = await gitlabToken(closed, userId);
  t.same([refused.statusCode, refused.json().code], [401, 'internal_unauthorized']);
  t.match(refused.json().detail, /INTERNAL_API_TOKENS is not set\. This service's operator lists the accepted tokens in INTERNAL_API_TOKENS .* and restarts the service/, 'the detail says the operator must set it and restart');

  const { app: two } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, INTERNAL_API_TOKENS: `other-token-0123456789,${TEST_INTERNAL_TOKEN}` });
  t.equal((await gitlabToken(two, userId)).statusCode, 200, 'any configured token is accepted');
});

t.test('a fresh token is returned as stored; unknown users are 404', async (t) => {
  const { app, fake, userId, clock, advance } = await loggedInUser(t);
  const response = await gitlabToken(app, userId);
  t.equal(response.statusCode, 200);
  const issued = [...fake.oauthTokens.values()].at(-1)!;
  t.equal(response.json().accessToken, issued.accessToken);
  t.equal(response.json().expiresAt, new Date(clock().getTime() + 7200_000).toISOString(), 'as GitLab granted it at login');
  t.equal(fake.grantCount('refresh_token'), 0, 'no refresh for a fresh token');
  advance(7200_000 - 301_000);
  t.equal((await gitlabToken(app, userId)).json().accessToken, issued.accessToken, 'still served with 5 min 1 s left');
  advance(2000);
  const refreshed = await gitlabToken(app, userId);
  t.not(refreshed.json().accessToken, issued.accessToken, 'refreshed with less than 5 minutes left');
  t.equal(fake.grantCount('refresh_token'), 1);
  const unknown = await gitlabToken(app, '00000000-0000-4000-8000-000000000000');
  t.same([unknown.statusCode, unknown.json().code], [404, 'user_not_found']);
  t.match(unknown.json().detail, /Use the user's `id` as GET \/me answers it .*: a user exists once they have logged in through GET \/auth\/gitlab\/start/, 'the detail names where the id comes from');
  t.equal((await gitlabToken(app, 'nope')).json().code, 'validation_failed');
});

t.test('20 concurrent calls on two app instances sharing the database cause exactly one refresh', async (t) => {
  const { app, fake, gitlabUser, userId, clock, advance } = await loggedInUser(t, { accessTokenTtlSeconds: 1 });
  advance(3_600_000);
  const testDatabase = await testFileDatabase();
  // On PostgreSQL the second app gets its own pool, as a second process would.
  const secondDatabase = testDatabase.url ? openPostgres(testDatabase.url, pino({ level: 'silent' })) : testDatabase.database;
  const other = await buildApp(testConfig(FAKE_GITLAB_ENV), { database: secondDatabase, logger: pino({ level: 'silent' }), clock });
  t.teardown(async () => {
    await other.close();
    if (secondDatabase !== testDatabase.database) await secondDatabase.close();
  });
  const first = [...fake.oauthTokens.values()].at(-1)!;

  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => gitlabToken(i % 2 ? other : app, userId)));
  t.same(responses.map((response) => response.statusCode), Array(20).fill(200));
  t.equal(fake.grantCount('refresh_token'), 1, 'exactly one refresh_token grant');
  const newest = [...fake.oauthTokens.values()].at(-1)!;
  t.not(newest.accessToken, first.accessToken);
  t.same(new Set(responses.map((response) => response.json().accessToken)), new Set([newest.accessToken]), 'every caller got the new token');
  const user = await gitlabUserWith(fake, { oauth: newest.accessToken });
  t.equal(((await user.json()) as { id: number }).id, gitlabUser.id, 'the new token works on GitLab');
  t.ok(first.revoked, 'the old pair is revoked on GitLab');
  t.equal((await gitlabToken(other, userId)).json().accessToken, newest.accessToken, 'a token refreshed a moment ago is not refreshed again');
  advance(1000);
  t.not((await gitlabToken(app, userId)).json().accessToken, newest.accessToken, 'once it expires, it is');
  t.equal(fake.grantCount('refresh_token'), 2);
});

t.test(
  'callers waiting for a refresh hold no database connection: other requests still get one at once',
  { skip: process.env.TEST_DATABASE_URL ? false : 'PGlite has a single connection: every request queues for it anyway' },
  async (t) => {
    const { app, fake, userId, advance } = await loggedInUser(t, { accessTokenTtlSeconds: 1 });
    advance(3_600_000);
    // GitLab holds the refresh until the test lets it go; 20 callers (twice the pool of 10) queue behind it.
    const held = fake.injectFault({ method: 'POST', path: '/oauth/token', hold: true });
    let refreshed = false;
    const calls = Promise.all(Array.from({ length: 20 }, () => gitlabToken(app, userId))).finally(() => {
      refreshed = true;
    });
    await held.reached;
    // Were the waiters holding connections, /readyz would queue behind the held refresh: bound that wait.
    const ready = await settlesWithin(app.inject({ method: 'GET', url: '/readyz' }), 'a connection for /readyz', 30_000);
    t.equal(ready.statusCode, 200, 'the database answered another request while the refresh was held');
    t.notOk(refreshed, 'the refresh was still under way');
    held.release();
    const responses = await calls;
    t.same(responses.map((response) => response.statusCode), Array(20).fill(200));
    t.equal(fake.grantCount('refresh_token'), 1, 'still exactly one refresh');
  },
);

t.test('invalid_grant on refresh answers 409 reauthorization_required until the user logs in again', async (t) => {
  const { app, fake, instance, gitlabUser, userId, advance } = await loggedInUser(t, { accessTokenTtlSeconds: 1 });
  advance(60_000);
  for (const issued of fake.oauthTokens.values()) issued.revoked = true;
  const refused = await gitlabToken(app, userId);
  t.same([refused.statusCode, refused.json().code], [409, 'reauthorization_required']);
  const requests = fake.tokenRequests.length;
  const again = await gitlabToken(app, userId);
  t.same([again.statusCode, again.json().code], [409, 'reauthorization_required'], 'stays 409');
  t.equal(fake.tokenRequests.length, requests, 'without asking GitLab again');
  t.equal((await findUserById(app.deps.db, userId))?.reauthorizationRequired, true);

  await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  t.equal((await findUserById(app.deps.db, userId))?.reauthorizationRequired, false);
  const afterLogin = await gitlabToken(app, userId);
  t.equal(afterLogin.statusCode, 200, 'a new login clears it');
});

t.test('a refresh answer without a refresh token keeps the old one, which the next refresh uses', async (t) => {
  const { app, fake, userId, advance } = await loggedInUser(t, { accessTokenTtlSeconds: 1 });
  const original = [...fake.oauthTokens.values()].at(-1)!;
  advance(60_000);
  fake.injectFault({ method: 'POST', path: '/oauth/token', status: 200, body: { access_token: 'access-without-refresh', token_type: 'Bearer', expires_in: 7200, created_at: 0 } });
  const first = await gitlabToken(app, userId);
  t.equal(first.json().accessToken, 'access-without-refresh', first.body);
  advance(7200_000);
  const second = await gitlabToken(app, userId);
  t.equal(second.statusCode, 200, second.body);
  t.equal(fake.lastTokenRequest?.refresh_token, original.refreshToken, 'the old refresh token was sent');
  t.equal(fake.grantCount('refresh_token'), 1, 'and GitLab accepted it');
});

t.test('a GitLab failure during refresh is a 502 and leaves the stored tokens usable', async (t) => {
  const { app, fake, userId, advance } = await loggedInUser(t, { accessTokenTtlSeconds: 1 });
  advance(60_000);
  fake.injectFault({ method: 'POST', path: '/oauth/token', status: 500 });
  const failed = await gitlabToken(app, userId);
  t.same([failed.statusCode, failed.json().code], [502, 'gitlab_error']);
  t.equal((await findUserById(app.deps.db, userId))?.reauthorizationRequired, false);
  const retried = await gitlabToken(app, userId);
  t.equal(retried.statusCode, 200, 'the next call refreshes');
  t.equal(fake.grantCount('refresh_token'), 1);
});
