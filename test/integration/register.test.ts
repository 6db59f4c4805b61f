// Manual onboarding: POST /instances/register with the admin's own bot token and OAuth application,
// PUT /internal/instances/:id/credentials, the manual bot token kept alive without an admin (self-rotation
// on 16.10+, degraded ahead of expiry before), and an admin bootstrap taking a manual instance over.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { findInstanceById } from '../../src/db/instances.repo.js';
import { DAY_MS } from '../../src/time.js';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { botTokenCall as botTokenOf, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { Browser, LOGIN_SCOPES, login } from '../helpers/ready-instance.js';
import { readRow } from '../helpers/rows.js';
import type { App } from '../../src/app.js';
import type { FakeGitlab, FakeGitlabOptions } from '../fake-gitlab/index.js';

/** A fake GitLab on which the admin made the bot, its token and the application by hand; the app shares its clock. */
async function manualSetup(t: Test, options: FakeGitlabOptions & { tokenScopes?: string[]; admin?: boolean; expiresInDays?: number } = {}) {
  const clock = { now: new Date() };
  const fake = await startTestGitlab(t, { ...options, now: () => clock.now });
  const { app, logs } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, LOG_LEVEL: 'debug' }, { clock: () => clock.now });
  // The admin types the redirect URI that lookup gives before anything is registered.
  const { callbackUrl } = (await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } })).json();
  const setup = fake.seedManualSetup({
    redirectUri: callbackUrl,
    scopes: LOGIN_SCOPES.split(' '),
    ...(options.tokenScopes ? { tokenScopes: options.tokenScopes } : {}),
    ...(options.admin ? { admin: true } : {}),
    ...(options.expiresInDays !== undefined ? { expiresAt: fake.dateInDays(options.expiresInDays) } : {}),
  });
  const body = { url: fake.url, botToken: setup.token, oauthApplication: { clientId: setup.application.uid, clientSecret: setup.application.secret } };
  return { clock, fake, app, logs, setup, body };
}

/** A manual instance registered on GitLab `version` with a bot token that expires in `expiresInDays`. */
async function registered(t: Test, version: string, expiresInDays: number) {
  const setup = await manualSetup(t, { version, expiresInDays });
  const response = await register(setup.app, setup.body);
  if (response.statusCode !== 201) throw new Error(response.body);
  return { ...setup, instance: response.json() };
}

const register = (app: App, body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/instances/register', payload: body });

/** Nothing the service could have done on GitLab: no user, token or application created, rotated, revoked or deleted. */
function expectNothingCreated(t: Test, fake: FakeGitlab) {
  const { usersCreated, usersBlocked, personalAccessTokensCreated, personalAccessTokensRotated, personalAccessTokensRevoked, applicationsCreated, applicationsDeleted } = fake.counters;
  t.same(
    { usersCreated, usersBlocked, personalAccessTokensCreated, personalAccessTokensRotated, personalAccessTokensRevoked, applicationsCreated, applicationsDeleted },
    { usersCreated: 0, usersBlocked: 0, personalAccessTokensCreated: 0, personalAccessTokensRotated: 0, personalAccessTokensRevoked: 0, applicationsCreated: 0, applicationsDeleted: 0 },
    'nothing created or changed on GitLab',
  );
}

t.test('register with good credentials: 201 manual, a user logs in, the bot token is served, nothing created on GitLab', async (t) => {
  const { fake, app, logs, setup, body } = await manualSetup(t);
  const response = await register(app, body);
  t.equal(response.statusCode, 201, response.body);
  const instance = response.json();
  t.match(instance, { status: 'ready', mode: 'manual', bot: { userId: setup.bot.id, username: 'code-review-bot' }, oauthApplication: { id: null, clientId: setup.application.uid } });
  expectNothingCreated(t, fake);
  t.same(fake.tokenRequests.map((request) => request.grant_type), ['authorization_code'], 'one client check at the token endpoint');

  const row = (await findInstanceById(app.deps.db, instance.instanceId))!;
  t.notMatch(JSON.stringify(row), setup.token, 'the bot token is stored sealed only');
  t.notMatch(JSON.stringify(row), setup.application.secret, 'the client secret is stored sealed only');

  const user = fake.createUser({ username: 'alice' });
  const { callback, sessionToken } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, callback.body);
  t.ok(sessionToken, 'a session');
  const token = await botTokenOf(app, instance.instanceId);
  t.equal(token.statusCode, 200);
  t.equal(token.json().token, setup.token, 'the bot token the admin gave');
  expectNothingCreated(t, fake);

  const again = expectProblem(t, await register(app, body), { status: 409, code: 'instance_already_registered' });
  t.match(again, { instanceId: instance.instanceId, canonicalUrl: fake.url });
  t.ok(logs.lines.length > 0, 'something was logged');
  for (const secret of [setup.token, setup.application.secret]) t.notOk(logs.text.includes(secret), 'no log line holds the bot token or the client secret');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.same(events.map((event: { step: string }) => event.step), ['url', 'probe', 'verify_token', 'bot_token', 'oauth_application', 'ready'], 'each step an event');
  for (const secret of [setup.token, setup.application.secret]) t.notOk(JSON.stringify(events).includes(secret), 'no event holds a secret');
});

t.test('each refusal has its code and step, and registers nothing', async (t) => {
  const cases: { name: string; options?: Parameters<typeof manualSetup>[1]; alter?: (s: Awaited<ReturnType<typeof manualSetup>>) => Record<string, unknown>; code: string; step: string }[] = [
    { name: "an administrator's token as the bot token", options: { admin: true }, code: 'bot_token_is_admin', step: 'verify_token' },
    { name: 'a read_api-only token', options: { tokenScopes: ['read_api'] }, code: 'bot_token_missing_scope', step: 'verify_token' },
    {
      name: 'an expired token',
      alter: (s) => (s.fake.expirePersonalAccessToken(s.setup.tokenId), s.body),
      code: 'bot_token_expired',
      step: 'verify_token',
    },
    { name: 'a revoked token', alter: (s) => (s.fake.revokePersonalAccessToken(s.setup.tokenId), s.body), code: 'bot_token_revoked', step: 'verify_token' },
    { name: 'a wrong client secret', alter: (s) => ({ ...s.body, oauthApplication: { clientId: s.setup.application.uid, clientSecret: 'gloas-wrong' } }), code: 'oauth_client_invalid', step: 'oauth_application' },
    { name: 'an unknown client id', alter: (s) => ({ ...s.body, oauthApplication: { clientId: 'no-such-client', clientSecret: s.setup.application.secret } }), code: 'oauth_client_invalid', step: 'oauth_application' },
    { name: 'GitLab older than 16.0', options: { version: '15.11.3-ee' }, code: 'gitlab_version_unsupported', step: 'probe' },
  ];
  for (const c of cases) {
    await t.test(c.name, async (t) => {
      const s = await manualSetup(t, c.options);
      const body = c.alter ? c.alter(s) : s.body;
      expectProblem(t, await register(s.app, body), { status: 422, code: c.code, step: c.step });
      const row = await readRow(s.app.deps.db, 'instances', { url: s.fake.url });
      t.match(row, { status: 'failed', botTokenSealed: null, oauthClientSecretSealed: null, lastErrorCode: c.code });
      expectNothingCreated(t, s.fake);
    });
  }
});

t.test('not_gitlab: a web server that answers 404 HTML to everything (step probe)', async (t) => {
  const server = createServer((_request, response) => response.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => { resolve(); });
    server.closeAllConnections();
  }));
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  expectProblem(t, await register(app, { url, botToken: 'glpat-anything', oauthApplication: { clientId: 'x', clientSecret: 'y' } }), { status: 422, code: 'not_gitlab', step: 'probe' });
});

t.test('on GitLab 16.10+ the manual bot token near expiry is rotated with itself (self/rotate), the old one revoked', async (t) => {
  const { fake, app, setup, clock, instance } = await registered(t, '16.10.0-ee', 40);
  clock.now = new Date(clock.now.getTime() + 20 * DAY_MS);
  const response = await botTokenOf(app, instance.instanceId);
  t.equal(response.statusCode, 200, response.body);
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'one rotation');
  t.equal(fake.requests.filter((request) => request.path.endsWith('/personal_access_tokens/self/rotate')).length, 1, 'through self/rotate');
  t.ok(fake.personalAccessTokens.get(setup.tokenId)!.revoked, 'the old token is revoked');
  const [live] = fake.liveTokensOf(setup.bot.id);
  t.equal(response.json().token, live.token, 'the new token is served');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.match(details, { status: 'ready', mode: 'manual', problem: null });
});

t.test('on GitLab 16.9 the instance turns degraded (bot_token_expiring) 14 days before expiry, and the token is still served', async (t) => {
  const { fake, app, setup, clock, instance } = await registered(t, '16.9.2-ee', 40);
  const lookup = () => app.inject({ method: 'GET', url: `/instances/lookup?url=${encodeURIComponent(fake.url)}` });
  t.match((await lookup()).json(), { status: 'ready', next: 'login' });

  clock.now = new Date(clock.now.getTime() + 25 * DAY_MS);
  t.match((await lookup()).json(), { status: 'ready' }, '15 days before expiry: still ready');
  clock.now = new Date(clock.now.getTime() + 1 * DAY_MS + 1000);
  const degraded = (await lookup()).json();
  t.match(degraded, { status: 'degraded', next: 'login', instanceId: instance.instanceId, problem: { code: 'bot_token_expiring', step: 'bot_token' } });
  t.ok(degraded.loginUrl, 'logins still offered');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.match(details, { status: 'degraded', problem: { code: 'bot_token_expiring' } });
  const token = await botTokenOf(app, instance.instanceId);
  t.same([token.statusCode, token.json().token], [200, setup.token], 'the working token is still handed out');
  t.equal(fake.requests.filter((request) => request.path.includes('/rotate')).length, 0, 'no rotation attempted on 16.9');

  const fresh = fake.createPersonalAccessToken(setup.bot.id, { scopes: ['api'], expiresAt: fake.dateInDays(300) });
  const put = await app.inject({ method: 'PUT', url: `/internal/instances/${String(instance.instanceId)}/credentials`, headers: auth, payload: { botToken: fresh.token } });
  t.equal(put.statusCode, 200, put.body);
  t.match((await lookup()).json(), { status: 'ready' }, 'a new token clears the problem');
});

t.test('on GitLab 16.9 a manual bot token past its expiry is never handed out: 409 bot_token_unusable', async (t) => {
  const { fake, app, clock, instance } = await registered(t, '16.9.2-ee', 40);
  clock.now = new Date(clock.now.getTime() + 41 * DAY_MS);
  const response = await botTokenOf(app, instance.instanceId);
  expectProblem(t, response, { status: 409, code: 'bot_token_unusable' });
  t.match(response.json().detail, /PUT \/internal\/instances\/:id\/credentials/, 'tells how to give a new one');
  t.equal(fake.requests.filter((request) => request.path.includes('/rotate')).length, 0, 'no rotation attempted on 16.9');
});

t.test('PUT credentials replaces the bot token and the application after the same checks', async (t) => {
  const { fake, app, setup, body } = await manualSetup(t);
  const instance = (await register(app, body)).json();
  const put = (payload: Record<string, unknown>) => app.inject({ method: 'PUT', url: `/internal/instances/${String(instance.instanceId)}/credentials`, headers: auth, payload });

  const admin = fake.seedAdmin();
  expectProblem(t, await put({ botToken: admin.token }), { status: 422, code: 'bot_token_is_admin', step: 'verify_token' });
  t.equal((await botTokenOf(app, instance.instanceId)).json().token, setup.token, 'a refused token replaces nothing');

  const newToken = fake.createPersonalAccessToken(setup.bot.id, { scopes: ['api'] });
  const application = fake.createApplication({ name: 'Code review 2', redirectUri: instanceCallbackUrl(app.deps.config.publicUrl, fake.url), scopes: LOGIN_SCOPES.split(' ') });
  expectProblem(t, await put({ oauthApplication: { clientId: application.uid, clientSecret: 'gloas-wrong' } }), { status: 422, code: 'oauth_client_invalid', step: 'oauth_application' });
  const replaced = await put({ botToken: newToken.token, oauthApplication: { clientId: application.uid, clientSecret: application.secret } });
  t.equal(replaced.statusCode, 200, replaced.body);
  t.match(replaced.json(), { mode: 'manual', oauthApplication: { clientId: application.uid } });
  t.equal((await botTokenOf(app, instance.instanceId)).json().token, newToken.token, 'the new bot token is served');
  const user = fake.createUser({ username: 'bob' });
  const { callback } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, 'logins use the new application');
  t.equal(fake.oauthTokens.size > 0 && [...fake.oauthTokens.values()].every((token) => token.applicationId === application.id), true);
  expectProblem(t, await app.inject({ method: 'PUT', url: `/internal/instances/${String(instance.instanceId)}/credentials`, headers: auth, payload: {} }), { status: 400, code: 'validation_failed' });
});

t.test('an admin-token bootstrap takes a manual instance over: its own bot token and application, listed in repaired, mode automated', async (t) => {
  const { fake, app, setup, body } = await manualSetup(t, { });
  const instance = (await register(app, body)).json();
  const admin = fake.seedAdmin();
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 200, response.body);
  const taken = response.json();
  t.match(taken, { instanceId: instance.instanceId, mode: 'automated' });
  t.same([...taken.repaired].sort(), ['bot_token', 'bot_user', 'oauth_application']);
  t.equal(fake.counters.usersCreated, 1, 'its own bot user (BOT_USERNAME)');
  t.not(taken.bot.userId, setup.bot.id, "the admin's bot never becomes the service's bot");
  t.equal(fake.counters.personalAccessTokensCreated, 2, 'its own two bot tokens (served and standby)');
  t.equal(fake.counters.applicationsCreated, 1, 'its own application');
  t.not(taken.oauthApplication.clientId, setup.application.uid);
  t.ok(fake.applications.has(setup.application.id), "the admin's application is left alone");
  t.notOk(fake.personalAccessTokens.get(setup.tokenId)!.revoked, "the admin's token is left alone");
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.match(details, { mode: 'automated', status: 'ready' });
});

t.test('deprovisioning a manual instance without an admin token revokes nothing on GitLab', async (t) => {
  const { fake, app, body } = await manualSetup(t);
  const instance = (await register(app, body)).json();
  const removed = await app.inject({ method: 'DELETE', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth });
  t.equal(removed.statusCode, 200, removed.body);
  expectNothingCreated(t, fake);
});
