// The OAuth login against a fake GitLab over real HTTP: the full path under a relative root, and
// every way a callback must fail without creating a session.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { findInstanceById } from '../../src/db/instances.repo.js';
import { buildTestApp } from '../helpers/app.js';
import { Browser, authorizeOnFake, createReadyInstance, login, pathOf } from '../helpers/ready-instance.js';
import { FAKE_GITLAB_ENV } from '../helpers/gitlab.js';
import { insertRows, readRow, readRows } from '../helpers/rows.js';
import { startFakeGitlab } from '../fake-gitlab/index.js';
import { userWithEmail } from '../fake-gitlab/entities.js';

async function setup(t: Test, env: Record<string, string> = {}, deps: Parameters<typeof buildTestApp>[2] = {}) {
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab' });
  t.teardown(() => fake.close());
  const built = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...env }, deps);
  const { instance, application } = await createReadyInstance(built.app, fake);
  const gitlabUser = fake.createUser({ username: 'alice', name: 'Alice Liddell', email: 'alice@example.com' });
  return { ...built, fake, instance, application, gitlabUser };
}

t.test('full login under a relative root: authorize parameters, PKCE, session cookie, /me by cookie and bearer', async (t) => {
  // The app's clock stands still: expiries are exact.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const { app, fake, instance, application, gitlabUser } = await setup(t, {}, { clock: () => now });
  const browser = new Browser();

  const start = await browser.get(app, `/auth/gitlab/start?instance=${instance.id}&returnTo=${encodeURIComponent('/welcome?tab=1')}`);
  t.equal(start.statusCode, 302);
  const authorize = new URL(start.headers.location as string);
  t.equal(`${authorize.origin}${authorize.pathname}`, `${fake.url}/oauth/authorize`, 'under the relative root');
  const params = Object.fromEntries(authorize.searchParams);
  t.same(Object.keys(params).sort(), ['client_id', 'code_challenge', 'code_challenge_method', 'nonce', 'redirect_uri', 'response_type', 'scope', 'state']);
  t.match(params, {
    client_id: application.uid,
    redirect_uri: 'http://connect.test/auth/gitlab/callback',
    response_type: 'code',
    scope: 'api read_user openid email',
    code_challenge_method: 'S256',
    code_challenge: /^[A-Za-z0-9_-]{43}$/,
    state: /^[A-Za-z0-9_-]{43}$/,
    nonce: /^[A-Za-z0-9_-]{43}$/,
  });
  const binding = start.cookies.find((cookie) => cookie.name === 'gc_login');
  t.match(binding, { path: '/auth/gitlab', maxAge: 600, httpOnly: true, sameSite: 'Lax' });
  t.notOk(binding?.secure, 'not Secure on an http PUBLIC_URL');

  fake.setBrowserUser(gitlabUser.id);
  const authorized = await authorizeOnFake(start.headers.location as string);
  t.equal(authorized.status, 302);
  const callbackUrl = new URL(authorized.headers.get('location') as string);
  t.equal(callbackUrl.searchParams.get('state'), params.state);

  const callback = await browser.get(app, pathOf(callbackUrl.toString()));
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/welcome?tab=1');
  const sent = fake.lastTokenRequest!;
  t.equal(sent.grant_type, 'authorization_code');
  t.equal(sent.redirect_uri, 'http://connect.test/auth/gitlab/callback');
  t.equal(createHash('sha256').update(sent.code_verifier).digest('base64url'), params.code_challenge, 'the verifier matches the challenge');
  t.equal(fake.grantCount('authorization_code'), 1);

  const session = callback.cookies.find((cookie) => cookie.name === 'gc_session');
  t.match(session, { path: '/', httpOnly: true, sameSite: 'Lax', value: /^[A-Za-z0-9_-]{43}$/ });
  t.notOk(session?.secure);
  t.equal(session?.expires?.toISOString(), new Date(now.getTime() + 168 * 3_600_000).toISOString(), 'expires after SESSION_TTL_HOURS');
  const cleared = callback.cookies.find((cookie) => cookie.name === 'gc_login');
  t.match(cleared, { value: '', maxAge: 0, path: '/auth/gitlab' }, 'the binding cookie is cleared');

  const expected = {
    user: { gitlabUserId: gitlabUser.id, username: 'alice', name: 'Alice Liddell', email: 'alice@example.com' },
    instance: { id: instance.id, url: fake.url },
  };
  const byCookie = await app.inject({ method: 'GET', url: '/me', cookies: { gc_session: session!.value } });
  t.equal(byCookie.statusCode, 200);
  t.match(byCookie.json(), expected);
  t.match(byCookie.json().user.id, /^[0-9a-f-]{36}$/);
  const byBearer = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${session!.value}` } });
  t.same(byBearer.json(), byCookie.json());

  const user = await readRow(app.deps.db, 'users', { instanceId: instance.id });
  t.equal(user.gitlabUserId, String(gitlabUser.id));
  t.equal(app.deps.sealer.open(user.accessTokenSealed!, 'user_access_token').length, 64);
  t.same(user.accessTokenExpiresAt, new Date(now.getTime() + 7200_000), "GitLab's expires_in from the moment we asked");
});

t.test('a login started on one app completes on another sharing the database', async (t) => {
  const { app, fake, instance, gitlabUser } = await setup(t);
  const { app: other } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const browser = new Browser();
  const { callback, sessionToken } = await login(browser, app, fake, instance.id, { gitlabUserId: gitlabUser.id, callbackApp: other });
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/');
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } })).statusCode, 200);
});

const sessionCount = async (app: Awaited<ReturnType<typeof setup>>['app']) =>
  (await readRows(app.deps.db, 'sessions')).length;

/** Starts a login in `browser` and approves it on the fake; returns the callback path, not yet visited. */
async function approvedCallback(browser: Browser, context: Awaited<ReturnType<typeof setup>>) {
  const start = await browser.get(context.app, `/auth/gitlab/start?instance=${context.instance.id}`);
  context.fake.setBrowserUser(context.gitlabUser.id);
  const authorized = await authorizeOnFake(start.headers.location as string);
  return pathOf(authorized.headers.get('location') as string);
}

t.test('a callback fails with invalid_state, and creates no session, for a reused, forged, expired or foreign state', async (t) => {
  let now = new Date();
  const context = await setup(t, {}, { clock: () => now });
  const { app } = context;
  const expectInvalidState = (response: Awaited<ReturnType<Browser['get']>>, what: string) => {
    t.equal(response.statusCode, 400, what);
    t.match(response.json(), { code: 'invalid_state' }, what);
  };

  const browser = new Browser();
  const callbackPath = await approvedCallback(browser, context);
  t.equal((await browser.get(app, callbackPath)).statusCode, 302, 'the first use succeeds');
  const sessions = await sessionCount(app);
  expectInvalidState(await browser.get(app, callbackPath), 'the same state a second time');

  const forged = new URL(callbackPath, 'http://connect.test');
  forged.searchParams.set('state', 'x'.repeat(43));
  const another = new Browser();
  await approvedCallback(another, context);
  expectInvalidState(await another.get(app, pathOf(forged.toString())), 'a state the service never issued');
  expectInvalidState(await another.get(app, '/auth/gitlab/callback?code=abc'), 'no state at all');

  const slow = new Browser();
  const slowPath = await approvedCallback(slow, context);
  now = new Date(now.getTime() + 10 * 60_000 + 1000);
  expectInvalidState(await slow.get(app, slowPath), 'a state older than 10 minutes');
  now = new Date();

  const victim = await approvedCallback(new Browser(), context);
  expectInvalidState(await new Browser().get(app, victim), 'a callback opened in a browser without the binding cookie');
  const otherBrowser = new Browser();
  await otherBrowser.get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  expectInvalidState(await otherBrowser.get(app, await approvedCallback(new Browser(), context)), "a callback opened in a browser with another login's cookie");

  t.equal(await sessionCount(app), sessions, 'no session was created');
  t.equal(context.fake.grantCount('authorization_code'), 1, 'no code was exchanged after the first');
});

t.test('the login state is single-use: a replay from the same browser, binding cookie kept, is invalid_state', async (t) => {
  const context = await setup(t);
  const { app, fake } = context;
  const browser = new Browser();
  const callbackPath = await approvedCallback(browser, context);
  const binding = browser.cookies.get('gc_login')!;
  t.equal((await browser.get(app, callbackPath)).statusCode, 302, 'the first use succeeds');
  const sessions = await sessionCount(app);
  const tokenRequests = fake.tokenRequests.length;

  // The same browser still holding its binding cookie (a replay from its history, or a copied cookie).
  browser.cookies.set('gc_login', binding);
  const replay = await browser.get(app, callbackPath);
  t.equal(replay.statusCode, 400, replay.body);
  t.match(replay.json(), { code: 'invalid_state', detail: /already used/ }, 'refused as a used state, not for the binding');
  t.equal(fake.tokenRequests.length, tokenRequests, 'the code was not sent to GitLab again');
  t.equal(await sessionCount(app), sessions, 'no second session');
});

t.test("an ID token for another user than GitLab's GET /user names is refused: token_exchange_failed, no session", async (t) => {
  const context = await setup(t);
  const { app, fake } = context;
  const mallory = fake.createUser({ username: 'mallory' });
  const sessions = await sessionCount(app);
  // A hostile GitLab: the ID token says alice (the approving user), GET /user answers mallory.
  fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 200, body: userWithEmail(fake, mallory, false) });
  const browser = new Browser();
  const callback = await browser.get(app, await approvedCallback(browser, context));
  t.equal(callback.statusCode, 502, callback.body);
  t.match(callback.json(), { code: 'token_exchange_failed', detail: /another user/ });
  t.equal(await sessionCount(app), sessions, 'no session');
  t.same(await readRows(app.deps.db, 'users', { instanceId: context.instance.id }), [], 'no user stored');
});

t.test('expired login states are purged when a login starts; live ones are kept', async (t) => {
  let now = new Date('2030-05-01T12:00:00Z');
  const context = await setup(t, {}, { clock: () => now });
  const { app } = context;
  const states = async () => (await readRows(app.deps.db, 'loginStates', { instanceId: context.instance.id }, 'createdAt')).map((row) => row.expiresAt.toISOString());
  await new Browser().get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  now = new Date(now.getTime() + 5 * 60_000);
  await new Browser().get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  t.same(await states(), ['2030-05-01T12:10:00.000Z', '2030-05-01T12:15:00.000Z'], 'both live: kept');
  now = new Date('2030-05-01T12:10:00Z');
  await new Browser().get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  t.same(await states(), ['2030-05-01T12:15:00.000Z', '2030-05-01T12:20:00.000Z'], 'the one that expired at this instant is gone');
});

t.test('GitLab refusing the login answers oauth_denied; a refused code exchange answers token_exchange_failed', async (t) => {
  const context = await setup(t);
  const { app, fake } = context;
  const sessions = await sessionCount(app);
  const browser = new Browser();
  const start = await browser.get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  fake.setBrowserUser(context.gitlabUser.id);
  fake.authorizeDecision = 'deny';
  const denied = await authorizeOnFake(start.headers.location as string);
  const deniedPath = pathOf(denied.headers.get('location') as string);
  t.match(deniedPath, /error=access_denied/);
  const response = await browser.get(app, deniedPath);
  t.equal(response.statusCode, 400);
  t.match(response.json(), { code: 'oauth_denied' });
  fake.authorizeDecision = 'approve';

  fake.injectFault({ method: 'POST', path: '/oauth/token', status: 400, body: { error: 'invalid_grant', error_description: 'The provided authorization grant is invalid' } });
  const refused = await browser.get(app, await approvedCallback(browser, context));
  t.equal(refused.statusCode, 502);
  t.match(refused.json(), { code: 'token_exchange_failed', detail: /invalid_grant/ });
  t.equal(await sessionCount(app), sessions, 'no session was created');
});

t.test('with FRONTEND_URL, a failed callback redirects to it with ?error= and a login defaults to it', async (t) => {
  const context = await setup(t, { FRONTEND_URL: 'https://app.example.com' });
  const { app } = context;
  const failed = await new Browser().get(app, await approvedCallback(new Browser(), context));
  t.equal(failed.statusCode, 302);
  t.equal(failed.headers.location, 'https://app.example.com/?error=invalid_state');
  t.notOk(failed.cookies.some((cookie) => cookie.name === 'gc_session'));

  const { callback } = await login(new Browser(), app, context.fake, context.instance.id, { gitlabUserId: context.gitlabUser.id });
  t.equal(callback.headers.location, 'https://app.example.com/');
  const returned = await login(new Browser(), app, context.fake, context.instance.id, { gitlabUserId: context.gitlabUser.id, returnTo: 'https://app.example.com/repos?x=1#top' });
  t.equal(returned.callback.headers.location, 'https://app.example.com/repos?x=1#top');
});

t.test('start refuses every returnTo that could leave this service or the frontend', async (t) => {
  const { app, instance } = await setup(t, { FRONTEND_URL: 'https://frontend.example' });
  const attacks = [
    '//evil.example', '/\\evil.example', 'https:evil.example', '/%2F%2Fevil.example', '%2F%2Fevil.example', '/%5Cevil.example',
    '/%252F%252Fevil.example', 'javascript:alert(1)', 'JavaScript://frontend.example/%0aalert(1)', 'http://frontend.example.evil.example',
    'https://frontend.example.evil.example/', 'https://frontend.example@evil.example/', 'https://evil.example/?https://frontend.example',
    'http://frontend.example/', 'https://frontend.example:8443/', '/\t/evil.example', ' //evil.example', 'evil.example', 'data:text/html,x',
    'https://user:pw@frontend.example/', '/%zz',
  ];
  for (const returnTo of attacks) {
    const response = await app.inject({ method: 'GET', url: '/auth/gitlab/start', query: { instance: instance.id, returnTo } });
    t.equal(response.statusCode, 400, returnTo);
    t.equal(response.json().code, 'invalid_return_to', returnTo);
  }
  for (const returnTo of ['/', '/repos/1?tab=mr#x', 'https://frontend.example', 'https://frontend.example/a/b?c=d']) {
    const response = await app.inject({ method: 'GET', url: '/auth/gitlab/start', query: { instance: instance.id, returnTo } });
    t.equal(response.statusCode, 302, returnTo);
  }
  t.same((await readRows(app.deps.db, 'loginStates')).filter((row) => row.returnTo?.includes('evil')), [], 'no refused target was stored');
});

t.test('start answers 404 for an unknown instance and 409 for one that is not ready', async (t) => {
  const { app } = await setup(t);
  const unknown = await app.inject({ method: 'GET', url: '/auth/gitlab/start?instance=00000000-0000-4000-8000-000000000000' });
  t.same([unknown.statusCode, unknown.json().code], [404, 'instance_not_found']);
  const [pending] = await insertRows(app.deps.db, 'instances', { url: 'https://pending.example.com', status: 'bootstrapping' });
  const notReady = await app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${pending.id}` });
  t.same([notReady.statusCode, notReady.json().code], [409, 'instance_not_ready']);
  for (const instance of ['nope', 'urn:uuid:00000000-0000-4000-8000-000000000000']) {
    const malformed = await app.inject({ method: 'GET', url: '/auth/gitlab/start', query: { instance } });
    t.same([malformed.statusCode, malformed.json().code], [400, 'validation_failed'], `${instance} is refused before the database sees it`);
  }
});

t.test('two logins started in one browser (two tabs): each start sets a new binding, so only the later one completes', async (t) => {
  const context = await setup(t);
  const { app, fake } = context;
  const browser = new Browser();
  const first = await browser.get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  const binding = browser.cookies.get('gc_login');
  const second = await browser.get(app, `/auth/gitlab/start?instance=${context.instance.id}`);
  t.not(browser.cookies.get('gc_login'), binding, 'a new binding at every start');
  fake.setBrowserUser(context.gitlabUser.id);
  const stale = await browser.get(app, pathOf((await authorizeOnFake(first.headers.location as string)).headers.get('location') as string));
  t.same([stale.statusCode, stale.json().code], [400, 'invalid_state'], 'the earlier tab no longer matches the binding');
  const callback = await browser.get(app, pathOf((await authorizeOnFake(second.headers.location as string)).headers.get('location') as string));
  t.equal(callback.statusCode, 302, callback.body);
  t.ok(browser.cookies.get('gc_session'));
});

t.test('login works when GitLab names itself by another URL (its external_url is the OpenID issuer)', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  fake.externalUrl = fake.url.replace('127.0.0.1', 'localhost');
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const bootstrap = await app.inject({ method: 'POST', url: '/instances/bootstrap', payload: { url: fake.url, adminToken: fake.seedAdmin().token } });
  t.equal(bootstrap.statusCode, 201, bootstrap.body);
  const row = await findInstanceById(app.deps.db, bootstrap.json().instanceId);
  t.equal(row?.openidIssuer, fake.externalUrl, 'the issuer GitLab reported is kept');

  const user = fake.createUser({ username: 'carol' });
  const { callback, sessionToken } = await login(new Browser(), app, fake, bootstrap.json().instanceId, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, callback.body);
  const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } });
  t.equal(me.json().user.username, 'carol');
});
