// The OAuth application as admins leave it on GitLab: its secret renewed in the admin area, its scopes
// narrowed, its redirect URI changed. The re-check proves the stored secret at GitLab's token endpoint
// and compares what GitLab reports; each repair is checked against what exists on the fake afterwards
// and by a full login.
import t, { type Test } from 'tap';
import type { App } from '../../src/app.js';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';
import { bootstrappedInstance, botSideEffects, clientChecks, postBootstrap } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';

const renewCalls = (fake: FakeGitlab) => fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/renew-secret')).length;

/** A user logs in through the re-checked application: callback 302 with a session, and /me answers 200. */
async function expectLoginWorks(t: Test, app: App, fake: FakeGitlab, instanceId: string) {
  const user = fake.createUser({ username: 'alice', name: 'Alice Liddell', email: 'alice@example.com' });
  const { callback, sessionToken } = await login(new Browser(), app, fake, instanceId, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, `the callback signs in: ${callback.body}`);
  t.ok(sessionToken, 'a session');
  const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${sessionToken!}` } });
  t.equal(me.statusCode, 200, me.body);
}

async function lastApplicationEvent(app: App, instanceId: string) {
  const event = (await listInstanceEvents(app.deps.db, instanceId)).filter((e) => e.step === 'oauth_application').at(-1);
  if (!event) throw new Error(`no oauth_application event for instance ${instanceId}`);
  return event;
}

t.test('17.x: a secret renewed behind our back is renewed again with renew-secret (no new application), and a login works', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  const applicationId = instance.oauthApplication.id;
  fake.renewApplicationSecret(applicationId);
  const created = fake.counters.applicationsCreated;

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, ['oauth_application']);
  t.equal(again.json().oauthApplication.id, applicationId, 'the same application');
  t.equal(fake.counters.applicationsCreated, created, 'no application created');
  t.equal(fake.counters.applicationSecretsRenewed, 1, 'one renew-secret call');
  t.equal(fake.counters.applicationsDeleted, 0, 'nothing deleted');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 }, 'one bot, its served and standby tokens, one application');
  const event = await lastApplicationEvent(app, instance.instanceId);
  t.equal(event.outcome, 'repaired');
  t.match(event.detail, /refused the client secret; secret renewed/, 'the event says what was found');
  await expectLoginWorks(t, app, fake, instance.instanceId);
});

t.test('16.9 (no renew-secret): a refused secret re-creates the application and deletes the old one', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t, { version: '16.9.2-ee' });
  const oldId = instance.oauthApplication.id;
  fake.renewApplicationSecret(oldId);

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, ['oauth_application']);
  t.not(again.json().oauthApplication.id, oldId, 'a new application');
  t.equal(renewCalls(fake), 0, 'renew-secret is not tried before 16.11');
  t.notOk(fake.applications.has(oldId), 'the old one deleted');
  t.same([...fake.applications.keys()], [again.json().oauthApplication.id], 'exactly one application left');
  t.match((await lastApplicationEvent(app, instance.instanceId)).detail, /refused the client secret; application re-created/);
  await expectLoginWorks(t, app, fake, instance.instanceId);
});

t.test('scopes narrowed on GitLab (openid unticked): the application is replaced, and a login works', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  const oldId = instance.oauthApplication.id;
  fake.setApplicationScopes(oldId, ['api', 'read_user', 'email']);

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, ['oauth_application']);
  t.notOk(fake.applications.has(oldId), 'the narrowed one deleted');
  t.same([...fake.applications.values()].map((application) => application.scopes), [['api', 'read_user', 'openid', 'email']], 'one application, with OAUTH_SCOPES');
  t.match((await lastApplicationEvent(app, instance.instanceId)).detail, /its scopes were "api read_user email"; application re-created/);
  await expectLoginWorks(t, app, fake, instance.instanceId);
});

t.test('redirect URI changed on GitLab: the application is replaced, the event names what was found', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  const oldId = instance.oauthApplication.id;
  fake.applications.get(oldId)!.redirectUri = 'https://elsewhere.example/callback';

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, ['oauth_application']);
  t.same([...fake.applications.keys()], [again.json().oauthApplication.id], 'exactly one application left');
  t.not(again.json().oauthApplication.id, oldId);
  t.match((await lastApplicationEvent(app, instance.instanceId)).detail, /its redirect URI was https:\/\/elsewhere\.example\/callback/);
  await expectLoginWorks(t, app, fake, instance.instanceId);
});

t.test('a healthy application is kept: nothing created, renewed or deleted, one client check', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  const before = { ...fake.counters };
  const checksBefore = clientChecks(fake);

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, []);
  t.equal(again.json().oauthApplication.id, instance.oauthApplication.id);
  t.same(fake.counters, before, 'nothing created, renewed or deleted');
  t.equal(clientChecks(fake) - checksBefore, 1, 'one client check at the token endpoint');
  t.equal(fake.lastTokenRequest?.code, 'gitlab-connect-client-check', 'with a code never issued');
  t.equal((await lastApplicationEvent(app, instance.instanceId)).outcome, 'skipped');
});

t.test('the fake: renew-secret is 404 before 16.11, and from 16.11 the old secret is refused', async (t) => {
  const { fake, admin, instance } = await bootstrappedInstance(t, { version: '16.10.0-ee' });
  const id = instance.oauthApplication.id;
  const renew = () => fetch(`${fake.url}/api/v4/applications/${String(id)}/renew-secret`, { method: 'POST', headers: { 'private-token': admin.token } });
  const old = await renew();
  t.same([old.status, await old.json()], [404, { error: '404 Not Found' }], "Grape's 404 before 16.11");
  fake.version = '16.11.0-ee';
  const secret = fake.applications.get(id)!.secret;
  const renewed = await renew();
  t.equal(renewed.status, 201);
  const body = (await renewed.json()) as Record<string, unknown>;
  t.match(body, { id, secret: /^gloas-/, scopes: ['api', 'read_user', 'openid', 'email'] });
  t.not(body.secret, secret, 'a new secret');
  const refused = await fetch(`${fake.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${String(body.application_id)}:${secret}`).toString('base64')}` },
    body: 'grant_type=authorization_code&code=nope&redirect_uri=x',
  });
  t.equal(refused.status, 401, 'the old secret is refused');
});
