// Bot token lifetimes on every supported GitLab: created with an explicit expires_at within the
// instance's maximum lifetime (read from GET /application/settings, else from GitLab's 422 refusal,
// retried once); rotated with the longest expiry allowed; on 16.0–16.5, where a rotation ignores
// expires_at and grants 7 days, the real expiry stored and shown in health (bot_token_short_lifetime).
import t from 'tap';
import { findInstanceById } from '../../src/db/instances.repo.js';
import { DAY_MS } from '../../src/time.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';
import { buildTestApp } from '../helpers/app.js';
import { bootstrappedInstance, botTokenCall, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';

const creations = (fake: FakeGitlab) => fake.requests.filter((request) => request.method === 'POST' && /\/users\/\d+\/personal_access_tokens$/.test(request.path));
const expiries = (fake: FakeGitlab, userId: number) => fake.liveTokensOf(userId).map((token) => token.expiresAt ?? 'never').sort();

t.test('EE 16.x with a maximum lifetime of 30 days (it refuses a token without expires_at): both tokens created within it, none refused', async (t) => {
  const { fake, instance } = await bootstrappedInstance(t, { version: '16.8.0-ee', maxTokenLifetimeDays: 30 });
  t.same(expiries(fake, instance.bot.userId), [fake.dateInDays(15), fake.dateInDays(30)], 'the longest allowed, and half of it');
  t.same(creations(fake).map((request) => request.status), [201, 201], 'two creations, none refused');
});

t.test('settings unreadable: the limit GitLab names in its 422 is used, each refused creation retried once within it', async (t) => {
  const fake = await startTestGitlab(t, { version: '16.8.0-ee', maxTokenLifetimeDays: 30 });
  fake.injectFault({ method: 'GET', path: '/api/v4/application/settings', status: 403, body: { message: '403 Forbidden' } });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);
  t.same(creations(fake).map((request) => request.status).sort(), [201, 201, 422, 422], 'each token refused once (365 and 182 days), then created');
  const [standby, served] = expiries(fake, response.json().bot.userId);
  t.equal(served, fake.dateInDays(29), 'the day before the limit GitLab named');
  t.ok(standby < served && standby >= fake.dateInDays(2), `the standby still staggered (${standby})`);
});

t.test('GitLab 17.x: a rotation asks for the longest expiry allowed (365 days)', async (t) => {
  const { app, fake, instance, clock } = await bootstrappedInstance(t);
  clock.now = new Date(clock.now.getTime() + 170 * DAY_MS);
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 200, response.body);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.ok(expiries(fake, instance.bot.userId).includes(fake.dateInDays(365)), 'the rotated token lives 365 days');
  const details = await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth });
  t.same(details.json().health.notices, [], 'no notice');
});

t.test('GitLab 16.5 ignores expires_at on rotate (7 days): the real expiry is stored and health shows bot_token_short_lifetime; the next rotation comes at half of it', async (t) => {
  const { app, fake, instance, clock } = await bootstrappedInstance(t, { version: '16.5.0' });
  clock.now = new Date(clock.now.getTime() + 170 * DAY_MS);
  const call = () => botTokenCall(app, instance.instanceId);
  const rotated = await call();
  t.equal(rotated.statusCode, 200, rotated.body);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.ok(expiries(fake, instance.bot.userId).includes(fake.dateInDays(7)), 'GitLab granted 7 days');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.equal(details.status, 'ready', 'not degraded: the token works');
  t.match(details.health.notices, [{ code: 'bot_token_short_lifetime', step: 'bot_token', title: /7 days.*16\.6/ }]);
  const check = await app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/check`, headers: auth });
  t.match(check.json().health.notices, [{ code: 'bot_token_short_lifetime' }], 'the check route shows it too');
  const row = (await findInstanceById(app.deps.db, instance.instanceId))!;
  t.ok([row.botTokenExpiresAt, row.botStandbyTokenExpiresAt].some((at) => at?.toISOString().slice(0, 10) === fake.dateInDays(7)), 'the expiry GitLab answered is stored');

  clock.now = new Date(clock.now.getTime() + 4 * DAY_MS);
  t.equal((await call()).statusCode, 200);
  t.ok(fake.counters.personalAccessTokensRotated >= 2, 'rotated again once half of the 7 days are gone');
});
