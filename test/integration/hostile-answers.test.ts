// A registered GitLab is anyone's: answers that lie about whose token was created, an OpenID issuer
// that is no URL, OAuth error texts and Retry-After values chosen to be echoed or to be absurd. Each is
// refused or bounded; side effects and stored values are read back, not taken from the answer.
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem, instanceRow } from '../helpers/bootstrap.js';
import { botTokenCall, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { Browser, createReadyInstance, login, pathOf, authorizeOnFake } from '../helpers/ready-instance.js';

t.test("a token-creation answer carrying the admin's own token: 502 gitlab_error, and the admin token is never served as the bot's", async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const lie = { id: admin.tokenId, name: 'gitlab-connect', revoked: false, active: true, scopes: ['api'], user_id: admin.user.id, expires_at: fake.dateInDays(200), token: admin.token };
  fake.injectFault({ method: 'POST', path: /\/users\/\d+\/personal_access_tokens$/, status: 201, body: lie, times: 2 });

  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const problem = expectProblem(t, response, { status: 502, code: 'gitlab_error', step: 'bot_user' });
  t.match(problem.detail, /not as the bot/);
  t.notMatch(response.body, admin.token, 'the admin token is not echoed');
  const row = await instanceRow(app, fake.url);
  t.not(row?.status, 'ready');
  const served = await botTokenCall(app, String(row?.id));
  t.equal(served.statusCode, 409, served.body);
  t.notMatch(served.body, admin.token);
});

t.test('an OpenID issuer that is no URL, or 900 KB long: 502 gitlab_error at the probe, nothing of it stored', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  for (const issuer of [`${fake.url}/${'a'.repeat(900_000)}`, 'javascript:alert(1)', `http://user:pass@${new URL(fake.url).host}`]) {
    const configuration = { issuer, authorization_endpoint: `${fake.url}/oauth/authorize`, token_endpoint: `${fake.url}/oauth/token`, jwks_uri: `${fake.url}/oauth/discovery/keys` };
    fake.injectFault({ method: 'GET', path: '/.well-known/openid-configuration', status: 200, body: configuration, times: 1 });
    const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    const problem = expectProblem(t, response, { status: 502, code: 'gitlab_error', step: 'probe' });
    t.match(problem.detail, /issuer/);
    t.ok(response.body.length < 4096, 'the answer does not carry the issuer');
    const row = await instanceRow(app, fake.url);
    t.equal(row?.openidIssuer ?? null, null, 'the issuer is not stored');
  }
  t.equal(fake.counters.usersCreated, 0, 'nothing created on GitLab');
});

t.test("the token endpoint's error_description is never repeated, and an over-long error code is dropped", async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instance } = await createReadyInstance(app, fake, 'own');
  const alice = fake.createUser({ username: 'alice' });
  const refusals = [
    { error: 'invalid_grant', error_description: '<script>alert(1)</script> glpat-SECRETSECRET' },
    { error: 'x'.repeat(400_000) },
  ];
  for (const body of refusals) {
    const browser = new Browser();
    const start = await browser.get(app, `/auth/gitlab/start?instance=${instance.id}`);
    fake.setBrowserUser(alice.id);
    const authorized = await authorizeOnFake(start.headers.location as string);
    fake.injectFault({ method: 'POST', path: '/oauth/token', status: 400, body, times: 1 });
    const callback = await browser.get(app, pathOf(authorized.headers.get('location') as string));
    expectProblem(t, callback, { status: 502, code: 'token_exchange_failed' });
    t.notMatch(callback.body, /SECRET|<script>|xxxxxxxxxx/);
    t.ok(callback.body.length < 4096, `a short answer (${String(callback.body.length)} bytes)`);
  }
  const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: alice.id });
  t.equal(callback.statusCode, 302, 'a clean login still works');
});

t.test('Retry-After of 99999999999 s on the client check is bounded to an hour', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(first.statusCode, 201, first.body);
  // The re-check asks GitLab's token endpoint whether the stored client secret is still accepted.
  fake.injectFault({ method: 'POST', path: '/oauth/token', status: 429, headers: { 'retry-after': '99999999999' }, times: 5 });
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const problem = expectProblem(t, again, { status: 503, code: 'gitlab_rate_limited', step: 'oauth_application' });
  t.ok(Number(problem.retryAfter) <= 3600, `retryAfter ${String(problem.retryAfter)}`);
  t.ok(Number(again.headers['retry-after']) <= 3600);
});
