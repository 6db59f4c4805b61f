// Login hardening against hostile instances and hostile pages (issue 10): the OAuth mix-up (one
// redirect URI per instance), login CSRF (fetch metadata, fresh binding, one session per browser),
// forged callbacks, and returnTo beyond Latin-1, against fake GitLabs over real HTTP.
import t, { type Test } from 'tap';
import { callbackKeyOf, instanceCallbackUrl } from '../../src/auth-paths.js';
import { startFakeGitlab, type FakeGitlab } from '../fake-gitlab/index.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV } from '../helpers/gitlab.js';
import { authorizeOnFake, Browser, createReadyInstance, login, pathOf } from '../helpers/ready-instance.js';
import { readRows, updateRows } from '../helpers/rows.js';

async function fakeGitlab(t: Test): Promise<FakeGitlab> {
  const fake = await startFakeGitlab({});
  t.teardown(() => fake.close());
  return fake;
}

async function setup(t: Test, env: Record<string, string> = {}) {
  const fake = await fakeGitlab(t);
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...env });
  const { instance } = await createReadyInstance(app, fake, 'own');
  const alice = fake.createUser({ username: 'alice' });
  return { app, fake, instance, alice };
}

/** Sessions on one instance (the test database is shared by the tests of this file). */
async function sessionCount(app: Awaited<ReturnType<typeof buildTestApp>>['app'], instanceId: string): Promise<number> {
  return (await readRows(app.deps.db, 'sessions', { instanceId })).length;
}

t.test("mix-up: a login started on instance A whose code arrives on B's callback is 400 invalid_state, and A's token endpoint receives nothing", async (t) => {
  const { app, fake: fakeA, instance: a, alice } = await setup(t);
  const fakeB = await fakeGitlab(t);
  await createReadyInstance(app, fakeB, 'own');
  const browser = new Browser();

  const ownUri = instanceCallbackUrl('http://connect.test', fakeA.url);
  fakeA.setBrowserUser(alice.id);
  /** A login started on A and approved there: the callback URL A's GitLab sends the browser to. */
  const approvedOnA = async () => {
    const start = await browser.get(app, `/auth/gitlab/start?instance=${a.id}`);
    t.equal(new URL(start.headers.location as string).searchParams.get('redirect_uri'), ownUri, "start sends A's own redirect URI");
    return new URL((await authorizeOnFake(start.headers.location as string)).headers.get('location') as string);
  };

  for (const path of [`/auth/gitlab/callback/${callbackKeyOf(fakeB.url)}`, '/auth/gitlab/callback']) {
    const approved = await approvedOnA();
    t.equal(`${approved.origin}${approved.pathname}`, ownUri);
    const elsewhere = await browser.get(app, `${path}${approved.search}`);
    t.same([elsewhere.statusCode, elsewhere.json().code], [400, 'invalid_state'], `${path} refused`);
  }
  t.equal(fakeA.tokenRequests.length, 0, "A's token endpoint never received the code");
  t.equal(fakeB.tokenRequests.length, 0, "nor did B's");
  t.equal(await sessionCount(app, a.id), 0, 'no session');

  const own = await browser.get(app, pathOf((await approvedOnA()).toString()));
  t.equal(own.statusCode, 302, `a login on A's own URI completes: ${own.body}`);
  t.equal(fakeA.lastTokenRequest?.redirect_uri, ownUri, 'the code exchange repeats the own URI');
});

t.test("an application on the old shared redirect URI keeps logging in on the shared callback, and only there", async (t) => {
  const fake = await fakeGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instance } = await createReadyInstance(app, fake, 'shared');
  const alice = fake.createUser({ username: 'alice' });
  const browser = new Browser();

  const start = await browser.get(app, `/auth/gitlab/start?instance=${instance.id}`);
  const state = new URL(start.headers.location as string).searchParams.get('state')!;
  const onOwnPath = await browser.get(app, `/auth/gitlab/callback/${callbackKeyOf(fake.url)}?code=x&state=${state}`);
  t.same([onOwnPath.statusCode, onOwnPath.json().code], [400, 'invalid_state']);
  t.equal(fake.tokenRequests.length, 0);

  const { callback } = await login(browser, app, fake, instance.id, { gitlabUserId: alice.id });
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(fake.lastTokenRequest?.redirect_uri, 'http://connect.test/auth/gitlab/callback');
});

t.test('login start refuses a cross-site request with 403 cross_site_request, and lets same-site, typed, frontend and metadata-less starts through', async (t) => {
  const { app, instance } = await setup(t, { FRONTEND_URL: 'https://frontend.example' });
  const start = (headers: Record<string, string>) => app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${instance.id}`, headers });

  const refused = await start({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', referer: 'https://evil.example/page' });
  t.equal(refused.statusCode, 403);
  t.match(refused.headers['content-type'], /^application\/problem\+json/);
  t.equal(refused.json().code, 'cross_site_request');
  const states = await readRows(app.deps.db, 'loginStates', { instanceId: instance.id });
  t.equal(states.length, 0, 'no login state written for a refused start');

  const allowed: Record<string, string>[] = [
    { 'sec-fetch-site': 'same-origin' },
    { 'sec-fetch-site': 'same-site' },
    { 'sec-fetch-site': 'none' },
    { 'sec-fetch-site': 'cross-site', referer: 'https://frontend.example/login' },
    {},
  ];
  for (const headers of allowed) {
    t.equal((await start(headers)).statusCode, 302, JSON.stringify(headers));
  }
});

t.test('every start sets a new random gc_login, never the one the client sent', async (t) => {
  const { app, instance } = await setup(t);
  const planted = 'A'.repeat(43);
  const first = await app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${instance.id}`, cookies: { gc_login: planted } });
  const second = await app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${instance.id}`, cookies: { gc_login: planted } });
  const values = [first, second].map((response) => response.cookies.find((cookie) => cookie.name === 'gc_login')?.value);
  t.match(values, [/^[A-Za-z0-9_-]{43}$/, /^[A-Za-z0-9_-]{43}$/]);
  t.not(values[0], planted);
  t.not(values[0], values[1], 'a new value at every start');
});

t.test("a login ends the session the browser already held: never two sessions silently", async (t) => {
  const { app, fake, instance, alice } = await setup(t);
  const mallory = fake.createUser({ username: 'mallory' });
  const browser = new Browser();
  const first = await login(browser, app, fake, instance.id, { gitlabUserId: alice.id });
  t.equal(first.callback.statusCode, 302, first.callback.body);
  const second = await login(browser, app, fake, instance.id, { gitlabUserId: mallory.id });
  t.equal(second.callback.statusCode, 302, second.callback.body);

  const old = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(first.sessionToken)}` } });
  t.equal(old.statusCode, 401, 'the earlier session is ended');
  const current = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(second.sessionToken)}` } });
  t.equal(current.json().user.username, 'mallory');
});

t.test('a callback with an unknown state is 400 invalid_state whatever it carries', async (t) => {
  const { app, fake, instance } = await setup(t);
  const path = `/auth/gitlab/callback/${callbackKeyOf(fake.url)}`;
  t.ok(instance.id);
  for (const query of ['error=x&state=forged', 'error=access_denied&state=forged', 'code=abc&state=forged', 'error=server_error', 'code=abc']) {
    const response = await app.inject({ method: 'GET', url: `${path}?${query}`, cookies: { gc_login: 'A'.repeat(43) } });
    t.same([response.statusCode, response.json().code], [400, 'invalid_state'], query);
  }
  t.equal(fake.tokenRequests.length, 0);
});

t.test('returnTo beyond Latin-1 is percent-encoded at start and the login completes with a valid Location', async (t) => {
  const { app, fake, instance, alice } = await setup(t);
  const browser = new Browser();
  const { callback } = await login(browser, app, fake, instance.id, { gitlabUserId: alice.id, returnTo: '/café/日本?q=€' });
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/caf%C3%A9/%E6%97%A5%E6%9C%AC?q=%E2%82%AC');
  t.equal(await sessionCount(app, instance.id), 1);

  const broken = await app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${instance.id}&returnTo=${encodeURIComponent('/a')}%ED%A0%80` });
  t.same([broken.statusCode, broken.json().code], [400, 'invalid_return_to'], 'text that is no valid Unicode is refused');
});

t.test('a returnTo stored raw before the encoding existed is encoded at the callback: the session and its Location both hold', async (t) => {
  const { app, fake, instance, alice } = await setup(t);
  const browser = new Browser();
  const start = await browser.get(app, `/auth/gitlab/start?instance=${instance.id}`);
  await updateRows(app.deps.db, 'loginStates', { instanceId: instance.id }, { returnTo: '/日本' });
  fake.setBrowserUser(alice.id);
  const authorized = await authorizeOnFake(start.headers.location as string);
  const callback = await browser.get(app, pathOf(authorized.headers.get('location') as string));
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/%E6%97%A5%E6%9C%AC');
  t.equal(await sessionCount(app, instance.id), 1);
});
