// Internal instance routes: views without secrets, the audit trail, and deprovisioning with and
// without an admin token.
import t from 'tap';
import { findInstanceById } from '../../src/db/instances.repo.js';
import { buildTestApp, TEST_INTERNAL_TOKEN } from '../helpers/app.js';
import { bootstrappedInstance as bootstrapped, botSideEffects, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import { readRow, readRows, updateRows } from '../helpers/rows.js';

t.test('internal routes refuse a missing or wrong token, and everything when none is configured', async (t) => {
  const { app, instance } = await bootstrapped(t);
  for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: TEST_INTERNAL_TOKEN }]) {
    const response = await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers });
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
  const details = await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth });
  t.match(details.json(), {
    id: instance.instanceId,
    url: fake.url,
    status: 'ready',
    gitlabVersion: '17.8.1-ee',
    bot: { userId: instance.bot.userId, username: 'review-bot' },
    oauthApplicationId: instance.oauthApplication.id,
    botTokenExpiresAt: `${String(botToken()[0].expiresAt)}T00:00:00.000Z`,
    lastError: null,
  });
  t.ok(list.json().instances.some((entry: { id: string }) => entry.id === instance.instanceId));
  const events = await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth });
  t.same(
    events.json().events.map((event: { step: string; outcome: string }) => event.step),
    ['url', 'probe', 'verify_token', 'bot_user', 'bot_token', 'oauth_application', 'ready'],
    'every step of the bootstrap, in order',
  );
  t.match(events.json().events[0], { step: 'url', outcome: 'succeeded', actor: /^bootstrap from /, createdAt: String });
  const [application] = [...fake.applications.values()];
  for (const secret of [admin.token, botToken()[0].token, botToken()[1].token, application.secret]) {
    t.notMatch(list.body + details.body + events.body, secret, 'no secret in any answer');
  }
  t.equal((await app.inject({ method: 'GET', url: '/internal/instances/00000000-0000-4000-8000-000000000000', headers: auth })).json().code, 'instance_not_found');
  for (const id of ['not-a-uuid', 'urn:uuid:00000000-0000-4000-8000-000000000000', '{00000000-0000-4000-8000-000000000000}']) {
    t.equal((await app.inject({ method: 'GET', url: `/internal/instances/${encodeURIComponent(id)}`, headers: auth })).json().code, 'validation_failed', id);
  }
});

t.test('deprovision without an admin token: sessions revoked, secrets wiped, removed, GitLab untouched', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const user = fake.createUser({ username: 'alice' });
  const browser = new Browser();
  const { sessionToken } = await login(browser, app, fake, instance.instanceId, { gitlabUserId: user.id });
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } })).statusCode, 200);
  const before = { ...fake.counters };

  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth });
  t.equal(response.statusCode, 200);
  const bot = fake.usersNamed('review-bot')[0];
  const [botToken, standbyToken] = fake.liveTokensOf(bot.id);
  const application = [...fake.applications.values()][0];
  t.match(response.json(), {
    instanceId: instance.instanceId,
    status: 'removed',
    gitlab: null,
    leftOnGitlab: { botTokenId: botToken.id, botTokenLive: true, oauthApplicationId: application.id, botUserId: bot.id, botUsername: 'review-bot' },
  });
  t.same(
    response.json().leftOnGitlab.howToRemove.map((step: string) => step.split(' with ')[0]),
    [
      `DELETE ${fake.url}/api/v4/personal_access_tokens/${String(botToken.id)}`,
      `DELETE ${fake.url}/api/v4/personal_access_tokens/${String(standbyToken.id)}`,
      `DELETE ${fake.url}/api/v4/applications/${String(application.id)}`,
      `POST ${fake.url}/api/v4/users/${String(bot.id)}/block`,
    ],
    'how to remove each leftover',
  );
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'removed', actor: /^internal API caller token-1 from /, detail: new RegExp(`left on GitLab: bot token ${String(botToken.id)} \\(live`) });
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } })).statusCode, 401, 'the session is revoked at once');
  const row = await findInstanceById(app.deps.db, instance.instanceId);
  t.match(row, { status: 'removed', botTokenSealed: null, oauthClientSecretSealed: null, oauthClientId: null });
  const users = await readRows(app.deps.db, 'users', { instanceId: instance.instanceId });
  t.ok(users.length > 0 && users.every((u) => u.accessTokenSealed === null && u.refreshTokenSealed === null), 'user tokens wiped');
  t.same(fake.counters, before, 'nothing changed on GitLab');
  t.match((await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } })).json(), { status: 'unregistered', next: 'bootstrap' });
});

t.test('deprovision with an admin token also deletes the application, revokes both bot tokens and blocks the bot', async (t) => {
  const { app, instance, fake, admin } = await bootstrapped(t);
  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth, payload: { adminToken: admin.token } });
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json().gitlab, { oauthApplicationDeleted: true, botTokenRevoked: true, botBlocked: true });
  t.equal(fake.applications.size, 0);
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 0);
  t.equal(fake.users.get(instance.bot.userId)!.state, 'blocked');
  const steps = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events.map((e: { step: string; outcome: string }) => `${e.step}:${e.outcome}`);
  t.same(steps.slice(-4).sort(), ['deprovision_bot_token:succeeded', 'deprovision_bot_user:succeeded', 'deprovision_oauth_application:succeeded', 'removed:succeeded']);

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 201, 'a new bootstrap sets it up again');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
  t.equal(fake.users.get(instance.bot.userId)!.state, 'active');
});

t.test('deprovision while a bootstrap holds the lease answers 409 bootstrap_in_progress and changes nothing', async (t) => {
  const { app, instance, fake, admin, clock } = await bootstrapped(t);
  const user = fake.createUser({ username: 'bob' });
  const { sessionToken } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: user.id });
  // A running bootstrap, by the app's clock: its lease ends a minute from now.
  const leaseUntil = new Date(clock.now.getTime() + 60_000);
  await updateRows(app.deps.db, 'instances', { id: instance.instanceId }, { bootstrapLeaseUntil: leaseUntil });
  const before = await readRow(app.deps.db, 'instances', { id: instance.instanceId });
  const counters = { ...fake.counters };
  const eventCount = async () => (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events.length;
  const events = await eventCount();

  for (const payload of [undefined, { adminToken: admin.token }]) {
    const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth, ...(payload ? { payload } : {}) });
    t.same([response.statusCode, response.json().code], [409, 'bootstrap_in_progress'], payload ? 'with an admin token' : 'without');
  }
  t.same(await readRow(app.deps.db, 'instances', { id: instance.instanceId }), before, 'the row is untouched');
  t.same(fake.counters, counters, 'nothing changed on GitLab');
  t.equal(await eventCount(), events, 'no event');
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } })).statusCode, 200, 'the session still works');

  clock.now = new Date(leaseUntil.getTime() + 1);
  const afterLease = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth });
  t.equal(afterLease.statusCode, 200, 'once the lease is over (a bootstrap that died), the removal goes ahead');
  t.equal(afterLease.json().status, 'removed');
});

t.test('a bootstrap that claims the instance while deprovision cleans GitLab up makes the removal answer 409', async (t) => {
  const { app, instance, fake, admin } = await bootstrapped(t);
  // Deprovision passes its first lease check, then waits on GitLab deleting the application...
  const cleanup = fake.injectFault({ method: 'DELETE', path: /^\/api\/v4\/applications\/\d+$/, hold: true });
  const removal = app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth, payload: { adminToken: admin.token } });
  await cleanup.reached;
  // ...while a bootstrap claims the instance and is itself still talking to GitLab.
  const probe = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  const bootstrap = postBootstrap(app, { url: fake.url, adminToken: admin.token });
  await probe.reached;
  cleanup.release();

  const removed = await removal;
  t.same([removed.statusCode, removed.json().code], [409, 'bootstrap_in_progress'], 're-checked under the row lock');
  const row = await readRow(app.deps.db, 'instances', { id: instance.instanceId });
  t.not(row.status, 'removed', 'the instance was not removed under the running bootstrap');
  probe.release();
  const repaired = await bootstrap;
  t.equal(repaired.statusCode, 200, repaired.body);
  t.same(repaired.json().repaired.sort(), ['bot_token', 'bot_user', 'oauth_application'], 'the bootstrap repairs what the cleanup removed');
});

t.test('deprovision with a bad admin token changes nothing', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth, payload: { adminToken: 'glpat-not-a-token' } });
  t.equal(response.statusCode, 422);
  t.equal(response.json().code, 'token_invalid');
  t.equal(fake.applications.size, 1);
  t.match(await findInstanceById(app.deps.db, instance.instanceId), { status: 'ready' });
});

t.test('the audit trail names the internal caller by its INTERNAL_API_TOKENS name', async (t) => {
  const { instance } = await bootstrapped(t);
  const { app } = await buildTestApp(t, { INTERNAL_API_TOKENS: 'review-workers:named-token-0123456789,bare-token-0123456789' });
  const response = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: { authorization: 'Bearer named-token-0123456789' } });
  t.equal(response.statusCode, 200, response.body);
  const events = await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: { authorization: 'Bearer bare-token-0123456789' } });
  t.equal(events.statusCode, 200, 'the bare token still works');
  t.match(events.json().events.at(-1), { step: 'removed', actor: 'internal API caller review-workers from 127.0.0.1' });
});
