// Internal instance routes: views without secrets, the audit trail, bot token rotation near expiry
// (once, across processes), and deprovisioning with and without an admin token.
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { DAY_MS, gitlabDateToInstant } from '../../src/time.js';
import { buildTestApp, LogCapture, TEST_INTERNAL_TOKEN, testConfig, testFileDatabase } from '../helpers/app.js';
import { botSideEffects, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import type { FakeGitlabOptions } from '../fake-gitlab/index.js';

const auth = { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` };

/** A bootstrapped instance; the app and the fake share one clock the test can move. */
async function bootstrapped(t: Test, options: FakeGitlabOptions = {}) {
  const clock = { now: new Date() };
  const fake = await startTestGitlab(t, { ...options, now: () => clock.now });
  const admin = fake.seedAdmin();
  const { app, logs } = await buildTestApp(t, FAKE_GITLAB_ENV, { clock: () => clock.now });
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  if (response.statusCode !== 201) throw new Error(response.body);
  const instance = response.json();
  const botToken = () => fake.liveTokensOf(instance.bot.userId);
  return { clock, fake, admin, app, logs, instance, botToken };
}

t.test('internal routes refuse a missing or wrong token, and everything when none is configured', async (t) => {
  const { app, instance } = await bootstrapped(t);
  for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TEST_INTERNAL_TOKEN }]) {
    const response = await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}`, headers });
    t.equal(response.statusCode, 401);
    t.equal(response.json().code, 'internal_unauthorized');
  }
  const { app: closed } = await buildTestApp(t, { INTERNAL_API_TOKENS: '' });
  t.equal((await closed.inject({ method: 'GET', url: '/internal/instances', headers: auth })).json().code, 'internal_unauthorized');
});

t.test('list, details and events describe the instance and never carry a secret', async (t) => {
  const { app, instance, fake, admin, botToken } = await bootstrapped(t);
  const list = await app.inject({ method: 'GET', url: '/internal/instances', headers: auth });
  t.equal(list.statusCode, 200);
  const details = await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}`, headers: auth });
  t.match(details.json(), {
    id: instance.instanceId,
    url: fake.url,
    status: 'ready',
    gitlabVersion: '17.8.1-ee',
    bot: { userId: instance.bot.userId, username: 'review-bot' },
    oauthApplicationId: instance.oauthApplication.id,
    botTokenExpiresAt: `${botToken()[0]!.expiresAt}T00:00:00.000Z`,
    lastError: null,
  });
  t.ok(list.json().instances.some((entry: { id: string }) => entry.id === instance.instanceId));
  const events = await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth });
  t.same(
    events.json().events.map((event: { step: string; outcome: string }) => event.step),
    ['url', 'probe', 'verify_token', 'bot_user', 'bot_token', 'oauth_application', 'ready'].filter((step) => events.body.includes(`"${step}"`)),
  );
  t.match(events.json().events[0], { step: 'url', outcome: 'succeeded', actor: /^bootstrap from /, createdAt: String });
  const [application] = [...fake.applications.values()];
  for (const secret of [admin.token, botToken()[0]!.token, application!.secret]) {
    t.notMatch(list.body + details.body + events.body, secret, 'no secret in any answer');
  }
  t.equal((await app.inject({ method: 'GET', url: '/internal/instances/00000000-0000-4000-8000-000000000000', headers: auth })).json().code, 'instance_not_found');
  for (const id of ['not-a-uuid', 'urn:uuid:00000000-0000-4000-8000-000000000000', '{00000000-0000-4000-8000-000000000000}']) {
    t.equal((await app.inject({ method: 'GET', url: `/internal/instances/${encodeURIComponent(id)}`, headers: auth })).json().code, 'validation_failed', id);
  }
});

t.test('the bot token far from expiry is returned as is, with no call to rotate', async (t) => {
  const { app, instance, fake, botToken } = await bootstrapped(t);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200);
  t.same(response.json(), { token: botToken()[0]!.token, expiresAt: `${botToken()[0]!.expiresAt}T00:00:00.000Z` });
  t.equal(fake.counters.personalAccessTokensRotated, 0);
});

t.test('near expiry 10 concurrent callers on two processes cause one rotation and all get the new token', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  const oldToken = botToken()[0]!;
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const second = await buildApp(testConfig(FAKE_GITLAB_ENV), { database: (await testFileDatabase()).database, logger: createLogger('info', new LogCapture()), clock: () => clock.now });
  t.teardown(() => second.close());

  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 ? second : app).inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth })),
  );
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'one rotation on GitLab');
  const [newToken] = botToken();
  t.not(newToken!.token, oldToken.token);
  t.ok(fake.personalAccessTokens.get(oldToken.id)!.revoked, 'the old token is revoked');
  for (const response of responses) t.same(response.json(), { token: newToken!.token, expiresAt: `${newToken!.expiresAt}T00:00:00.000Z` });
  t.ok(gitlabDateToInstant(newToken!.expiresAt!).getTime() - clock.now.getTime() > 300 * DAY_MS, 'an explicit expiry far away');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.equal(events.filter((event: { step: string }) => event.step === 'bot_token_rotate').length, 1);
});

t.test('a bot token GitLab no longer accepts is not rotated blindly: 409 bot_token_unusable, then at once without asking GitLab', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  fake.revokePersonalAccessToken(botToken()[0]!.id);
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const botTokenCall = () => app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  const response = await botTokenCall();
  t.equal(response.statusCode, 409);
  t.equal(response.json().code, 'bot_token_unusable');
  t.equal(fake.requests.filter((request) => request.path.endsWith('/rotate')).length, 1, 'one attempt, no retry');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'bot_token_unusable' });

  const requests = fake.requests.length;
  const again = await botTokenCall();
  t.same([again.statusCode, again.json().code], [409, 'bot_token_unusable'], 'still 409');
  t.equal(fake.requests.length, requests, 'no request to GitLab at all');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}`, headers: auth })).json();
  t.match(details, { status: 'ready', lastError: { step: 'bot_token', code: 'bot_token_unusable' } }, 'still ready for logins, the failure on record');
  const row = await app.db.selectFrom('instances').select(['bot_token_sealed']).where('id', '=', instance.instanceId).executeTakeFirstOrThrow();
  t.equal(row.bot_token_sealed, null, 'the dead token is dropped');

  const repaired = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
  t.same(repaired.json().repaired, ['bot_token'], 'a new bootstrap repairs it');
  const afterRepair = await botTokenCall();
  t.equal(afterRepair.statusCode, 200);
  t.equal(afterRepair.json().token, botToken()[0]!.token, 'the repaired token is served');
});

t.test('a rotation GitLab fails (500) near expiry serves the current token and records the failure', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  const current = botToken()[0]!;
  fake.injectFault({ method: 'POST', path: '/api/v4/personal_access_tokens/self/rotate', status: 500 });
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json(), { token: current.token, expiresAt: `${current.expiresAt}T00:00:00.000Z` }, 'the current token, which still works');
  t.equal(fake.counters.personalAccessTokensRotated, 0);
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error', detail: /still served/ });

  const next = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(next.statusCode, 200);
  t.not(next.json().token, current.token, 'the next call rotates once GitLab works again');
  t.equal(fake.counters.personalAccessTokensRotated, 1);
});

t.test('an instance with a shorter maximum token lifetime gets a rotation within it', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t, { maxTokenLifetimeDays: 90 });
  const first = botToken()[0]!;
  t.equal(first.expiresAt, fake.dateInDays(90), 'the bootstrap got the longest token the instance allows');
  clock.now = new Date(clock.now.getTime() + 70 * DAY_MS);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  const [rotated] = botToken();
  t.equal(response.json().token, rotated!.token);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.equal(rotated!.expiresAt, fake.dateInDays(89), 'the day before the limit GitLab named');
  t.equal(fake.requests.filter((request) => request.path.endsWith('/rotate') && request.status === 400).length, 1, 'one refusal, then one rotation');
});

t.test('a rotation that fails after the token expired is an error, recorded', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  fake.injectFault({ method: 'POST', path: '/api/v4/personal_access_tokens/self/rotate', status: 500 });
  const expired = botToken()[0]!;
  clock.now = gitlabDateToInstant(expired.expiresAt!);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 502, response.body);
  t.equal(response.json().code, 'gitlab_error');
  t.notMatch(response.body, expired.token, 'not the expired token');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error' });
});

t.test('deprovision without an admin token: sessions revoked, secrets wiped, removed, GitLab untouched', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const user = fake.createUser({ username: 'alice' });
  const browser = new Browser();
  const { sessionToken } = await login(browser, app, fake, instance.instanceId, { gitlabUserId: user.id });
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${sessionToken}` } })).statusCode, 200);
  const before = { ...fake.counters };

  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${instance.instanceId}`, headers: auth });
  t.equal(response.statusCode, 200);
  t.same(response.json(), { instanceId: instance.instanceId, status: 'removed', gitlab: null });
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${sessionToken}` } })).statusCode, 401, 'the session is revoked at once');
  const row = await app.db.selectFrom('instances').selectAll().where('id', '=', instance.instanceId).executeTakeFirstOrThrow();
  t.match(row, { status: 'removed', bot_token_sealed: null, oauth_client_secret_sealed: null, oauth_client_id: null });
  const users = await app.db.selectFrom('users').selectAll().where('instance_id', '=', instance.instanceId).execute();
  t.ok(users.length > 0 && users.every((u) => u.access_token_sealed === null && u.refresh_token_sealed === null), 'user tokens wiped');
  t.same(fake.counters, before, 'nothing changed on GitLab');
  t.match((await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } })).json(), { status: 'unregistered', next: 'bootstrap' });
});

t.test('deprovision with an admin token also deletes the application, revokes the bot token and blocks the bot', async (t) => {
  const { app, instance, fake, admin } = await bootstrapped(t);
  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${instance.instanceId}`, headers: auth, payload: { adminToken: admin.token } });
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json().gitlab, { oauthApplicationDeleted: true, botTokenRevoked: true, botBlocked: true });
  t.equal(fake.applications.size, 0);
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 0);
  t.equal(fake.users.get(instance.bot.userId)!.state, 'blocked');
  const steps = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events.map((e: { step: string; outcome: string }) => `${e.step}:${e.outcome}`);
  t.match(steps.slice(-4).sort(), ['deprovision_bot_token:succeeded', 'deprovision_bot_user:succeeded', 'deprovision_oauth_application:succeeded', 'removed:succeeded']);

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 201, 'a new bootstrap sets it up again');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 1, applications: 1 });
  t.equal(fake.users.get(instance.bot.userId)!.state, 'active');
});

t.test('deprovision while a bootstrap holds the lease answers 409 bootstrap_in_progress and changes nothing', async (t) => {
  const { app, instance, fake, admin, clock } = await bootstrapped(t);
  const user = fake.createUser({ username: 'bob' });
  const { sessionToken } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: user.id });
  // A running bootstrap, by the app's clock: its lease ends a minute from now.
  const leaseUntil = new Date(clock.now.getTime() + 60_000);
  await app.db.updateTable('instances').set({ bootstrap_lease_until: leaseUntil }).where('id', '=', instance.instanceId).execute();
  const before = await app.db.selectFrom('instances').selectAll().where('id', '=', instance.instanceId).executeTakeFirstOrThrow();
  const counters = { ...fake.counters };
  const eventCount = async () => (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events.length;
  const events = await eventCount();

  for (const payload of [undefined, { adminToken: admin.token }]) {
    const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${instance.instanceId}`, headers: auth, ...(payload ? { payload } : {}) });
    t.same([response.statusCode, response.json().code], [409, 'bootstrap_in_progress'], payload ? 'with an admin token' : 'without');
  }
  t.same(await app.db.selectFrom('instances').selectAll().where('id', '=', instance.instanceId).executeTakeFirstOrThrow(), before, 'the row is untouched');
  t.same(fake.counters, counters, 'nothing changed on GitLab');
  t.equal(await eventCount(), events, 'no event');
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${sessionToken}` } })).statusCode, 200, 'the session still works');

  clock.now = new Date(leaseUntil.getTime() + 1);
  const afterLease = await app.inject({ method: 'DELETE', url: `/internal/instances/${instance.instanceId}`, headers: auth });
  t.equal(afterLease.statusCode, 200, 'once the lease is over (a bootstrap that died), the removal goes ahead');
  t.equal(afterLease.json().status, 'removed');
});

t.test('deprovision with a bad admin token changes nothing', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${instance.instanceId}`, headers: auth, payload: { adminToken: 'glpat-not-a-token' } });
  t.equal(response.statusCode, 422);
  t.equal(response.json().code, 'token_invalid');
  t.equal(fake.applications.size, 1);
  t.match(await app.db.selectFrom('instances').select(['status']).where('id', '=', instance.instanceId).executeTakeFirstOrThrow(), { status: 'ready' });
});
