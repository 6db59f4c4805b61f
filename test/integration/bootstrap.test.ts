// POST /instances/bootstrap: first set-up, idempotent re-runs, repair, TLS with a private CA, and
// concurrency, with the side effects counted on the fake GitLab.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { findInstanceById, listInstanceEvents } from '../../src/db/instances.repo.js';
import { createLogger } from '../../src/logger.js';
import { createTestCertificates } from '../fake-gitlab/index.js';
import { buildTestApp, LogCapture, testConfig, testFileDatabase } from '../helpers/app.js';
import { botSideEffects, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { readRow, updateRows } from '../helpers/rows.js';

t.test('first set-up under a relative root creates one bot, its two tokens (served and standby) and one application', async (t) => {
  const fake = await startTestGitlab(t, { relativeRoot: '/gitlab', version: '17.8.1-ee' });
  const admin = fake.seedAdmin({ scopes: ['api'] });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const response = await postBootstrap(app, { url: `${fake.url}/`, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);
  const body = response.json();
  const [bot] = fake.usersNamed('review-bot');
  const [application] = [...fake.applications.values()];
  t.same(body, {
    instanceId: body.instanceId,
    url: fake.url,
    status: 'ready',
    gitlabVersion: '17.8.1-ee',
    bot: { userId: bot.id, username: 'review-bot' },
    oauthApplication: { id: application.id, clientId: application.uid, scopes: ['api', 'read_user', 'openid', 'email'] },
    loginUrl: `http://connect.test/auth/gitlab/start?instance=${String(body.instanceId)}`,
    mode: 'automated',
    repaired: [],
  });
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
  t.equal(bot.admin, false, 'the bot is no administrator');
  const [token] = fake.liveTokensOf(bot.id);
  t.same(token.scopes, ['api']);
  t.equal(token.expiresAt, fake.dateInDays(365), 'the longest allowed expiry');
  t.equal(application.redirectUri, instanceCallbackUrl('http://connect.test', fake.url), "the instance's own redirect URI");
  t.same(application.scopes, ['api', 'read_user', 'openid', 'email']);
  t.equal(application.confidential, true);
  t.ok(fake.requests.length > 0 && fake.requests.every((request) => request.path.startsWith('/gitlab/')), 'every call went under the relative root');

  const row = (await findInstanceById(app.deps.db, body.instanceId))!;
  t.match(row, { status: 'ready', gitlabVersion: '17.8.1-ee', botTokenId: String(token.id), oauthClientId: application.uid, bootstrapLeaseUntil: null });
  t.equal(row.botTokenExpiresAt!.toISOString(), `${String(token.expiresAt)}T00:00:00.000Z`);
  const events = await listInstanceEvents(app.deps.db, body.instanceId);
  t.same(
    events.map((event) => `${event.step}:${event.outcome}`).sort(),
    ['url:succeeded', 'probe:succeeded', 'verify_token:succeeded', 'bot_user:succeeded', 'bot_token:succeeded', 'oauth_application:succeeded', 'ready:succeeded'].sort(),
  );
  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } });
  t.match(lookup.json(), { status: 'ready', next: 'login', instanceId: body.instanceId });
});

t.test('a second call on a ready instance re-checks, answers 200 and creates nothing', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  t.equal((await postBootstrap(app, { url: fake.url, adminToken: admin.token })).statusCode, 201);
  const before = { ...fake.counters };
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200);
  t.same(again.json().repaired, []);
  t.same(fake.counters, before, 'no user, token or application created, revoked or deleted');
});

t.test('repair: a deleted application, a revoked bot token and a blocked bot are each re-created once', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();

  fake.deleteApplication(first.oauthApplication.id);
  const afterDelete = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(afterDelete.statusCode, 200);
  t.same(afterDelete.json().repaired, ['oauth_application']);
  t.not(afterDelete.json().oauthApplication.clientId, first.oauthApplication.clientId);
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });

  const [token] = fake.liveTokensOf(first.bot.userId);
  fake.revokePersonalAccessToken(token.id);
  const afterRevoke = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.same(afterRevoke.json().repaired, ['bot_token']);
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });

  fake.expirePersonalAccessToken(fake.liveTokensOf(first.bot.userId)[0].id);
  t.same((await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json().repaired, ['bot_token'], 'an expired token is replaced');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });

  fake.blockUser(first.bot.userId);
  const afterBlock = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.same(afterBlock.json().repaired, ['bot_user']);
  t.equal(fake.users.get(first.bot.userId)!.state, 'active');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
});

t.test('over TLS with a private CA: refused without caCertificate, set up with it, and the CA kept', async (t) => {
  const certificates = createTestCertificates();
  const fake = await startTestGitlab(t, { tls: { key: certificates.serverKey, cert: certificates.serverCert } });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const refused = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(refused.statusCode, 502);
  t.match(refused.json(), { code: 'gitlab_tls_error', step: 'probe', detail: /caCertificate/ });

  const wrongCa = await postBootstrap(app, { url: fake.url, adminToken: admin.token, caCertificate: certificates.untrusted.caCert });
  t.match(wrongCa.json(), { code: 'gitlab_tls_error' }, 'a CA that did not sign the certificate does not help');

  const created = await postBootstrap(app, { url: fake.url, adminToken: admin.token, caCertificate: certificates.caCert });
  t.equal(created.statusCode, 201, created.body);
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, 'the stored CA serves later calls');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
});

t.test('10 concurrent calls for one new instance across two processes create exactly one of each', async (t) => {
  const fake = await startTestGitlab(t, { latencyMs: 20 });
  const admin = fake.seedAdmin();
  // All ten past the per-process cap (BOOTSTRAP_MAX_CONCURRENT): this tests the lease, not the cap.
  const env = { ...FAKE_GITLAB_ENV, BOOTSTRAP_MAX_CONCURRENT: '10' };
  const { app } = await buildTestApp(t, env);
  const second = await buildApp(testConfig(env), { database: (await testFileDatabase()).database, logger: createLogger('info', new LogCapture()) });
  t.teardown(() => second.close());

  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => postBootstrap(i % 2 ? second : app, { url: fake.url, adminToken: admin.token })));
  const statuses = responses.map((response) => response.statusCode).sort();
  t.equal(statuses.filter((status) => status === 201).length, 1, `one set-up ran: ${String(statuses)}`);
  t.ok(statuses.every((status) => status === 201 || status === 409), 'the others were told it is in progress');
  for (const response of responses.filter((r) => r.statusCode === 409)) t.equal(response.json().code, 'bootstrap_in_progress');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
  t.equal(fake.counters.usersCreated, 1);
  t.equal(fake.counters.applicationsCreated, 1);
  t.equal(fake.counters.personalAccessTokensCreated, 2, 'one pair of bot tokens');
});

t.test('behind a trusted proxy the limit is per forwarded client address', async (t) => {
  const { app } = await buildTestApp(t, { BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '1', TRUST_PROXY: 'true' }, { clock: () => new Date('2032-01-01T10:00:00Z') });
  const call = (client: string) => app.inject({ method: 'POST', url: '/instances/bootstrap', headers: { 'x-forwarded-for': client }, payload: { url: 'ftp://nowhere', adminToken: 'x' } });
  t.equal((await call('198.51.100.1')).json().code, 'invalid_url');
  t.equal((await call('198.51.100.1')).json().code, 'rate_limited', 'the same client is limited');
  t.equal((await call('198.51.100.2')).json().code, 'invalid_url', 'another client is not');
});

t.test('bootstrap calls are rate limited per client address, counted across processes', async (t) => {
  // A minute of its own, so the calls of earlier tests in this file do not count.
  const clock = () => new Date('2031-01-01T10:00:30Z');
  const env = { BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '2' };
  const { app } = await buildTestApp(t, env, { clock });
  const second = await buildApp(testConfig(env), { database: (await testFileDatabase()).database, logger: createLogger('info', new LogCapture()), clock });
  t.teardown(() => second.close());
  t.equal((await postBootstrap(app, { url: 'ftp://nowhere', adminToken: 'x' })).json().code, 'invalid_url');
  t.equal((await postBootstrap(second, { url: 'ftp://nowhere', adminToken: 'x' })).json().code, 'invalid_url');
  const limited = await postBootstrap(app, { url: 'ftp://nowhere', adminToken: 'x' });
  t.equal(limited.statusCode, 429, 'the third call is refused although each process saw fewer');
  t.match(limited.headers['content-type'], /^application\/problem\+json/);
  t.match(limited.json(), { code: 'rate_limited', retryAfter: 30 });
  t.equal(limited.headers['retry-after'], '30', 'until the minute is over');
});

t.test('a bootstrap whose lease was taken over stops writing and answers bootstrap_in_progress', async (t) => {
  const clock = { now: new Date('2031-03-01T10:00:00Z') };
  const fake = await startTestGitlab(t, { now: () => clock.now });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV, { clock: () => clock.now });
  const held = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  const running = postBootstrap(app, { url: fake.url, adminToken: admin.token });
  await held.reached;
  // Another process's bootstrap takes the instance over (as after our lease ran out).
  const successorLease = new Date(clock.now.getTime() + 3_600_000);
  await updateRows(app.deps.db, 'instances', { url: fake.url }, { bootstrapLeaseUntil: successorLease, bootstrapLeaseHolder: 'successor' });
  held.release();

  const response = await running;
  t.equal(response.statusCode, 409);
  t.equal(response.json().code, 'bootstrap_in_progress');
  const row = await readRow(app.deps.db, 'instances', { url: fake.url });
  t.same([row.bootstrapLeaseUntil, row.bootstrapLeaseHolder], [successorLease, 'successor'], "the successor's lease is untouched");
  t.equal(row.gitlabVersion, null, 'nothing written after the lease was lost');
});

t.test('a bootstrap that finds a live lease is refused before it sends anything to GitLab', async (t) => {
  const fake = await startTestGitlab(t);
  const winner = fake.seedAdmin();
  const loser = fake.seedAdmin({ username: 'root2' });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const held = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  const running = postBootstrap(app, { url: fake.url, adminToken: winner.token });
  await held.reached;

  const refused = await postBootstrap(app, { url: fake.url, adminToken: loser.token });
  t.same([refused.statusCode, refused.json().code], [409, 'bootstrap_in_progress']);
  t.equal(fake.requestsWith(loser.token).length, 0, "the loser never sent its admin token to GitLab");
  held.release();
  t.equal((await running).statusCode, 201, 'the running bootstrap finishes');
});

t.test('repair: an OAuth application whose callback was changed on GitLab is replaced, and the outdated one deleted', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  fake.applications.get(first.oauthApplication.id)!.redirectUri = 'https://elsewhere.example/callback';

  const repaired = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(repaired.statusCode, 200, repaired.body);
  t.same(repaired.json().repaired, ['oauth_application']);
  t.not(repaired.json().oauthApplication.id, first.oauthApplication.id);
  t.equal(fake.counters.applicationsDeleted, 1, 'one application deleted on GitLab');
  t.notOk(fake.applications.has(first.oauthApplication.id), 'the outdated one');
  t.same([...fake.applications.keys()], [repaired.json().oauthApplication.id], 'only the new one is left');
});

t.test('re-check: an application on the old shared redirect URI is replaced by one on the instance\'s own URI', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  // As an application created before per-instance redirect URIs was left.
  fake.applications.get(first.oauthApplication.id)!.redirectUri = 'http://connect.test/auth/gitlab/callback';
  await updateRows(app.deps.db, 'instances', { id: first.instanceId }, { oauthRedirectUri: 'http://connect.test/auth/gitlab/callback' });

  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, ['oauth_application']);
  const own = instanceCallbackUrl('http://connect.test', fake.url);
  t.same([...fake.applications.values()].map((application) => application.redirectUri), [own], 'only an application on the own URI is left');
  const row = (await findInstanceById(app.deps.db, first.instanceId))!;
  t.equal(row.oauthRedirectUri, own);
});

for (const paged of [false, true]) {
  const where = paged ? 'on a later page of a paginated list' : "among 130 others in GitLab's one unpaginated answer";
  t.test(`the stored application is found ${where}: no duplicate on re-check`, async (t) => {
    const fake = await startTestGitlab(t);
    const admin = fake.seedAdmin();
    fake.pagedApplications = paged;
    for (let i = 0; i < 130; i++) fake.createApplication({ name: `other ${String(i)}`, redirectUri: `https://other-${String(i)}.example.com/cb`, scopes: ['read_user'] });
    const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
    const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
    const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    t.equal(again.statusCode, 200);
    t.same(again.json().repaired, []);
    t.equal(again.json().oauthApplication.id, first.oauthApplication.id);
    t.equal(fake.counters.applicationsCreated, 1);
    t.equal(fake.requests.filter((request) => request.method === 'GET' && request.path.endsWith('/api/v4/applications')).length, paged ? 4 : 2, 'the list was read, page by page when paged');
  });
}
