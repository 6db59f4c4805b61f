// The OAuth login against a fake GitLab over real HTTP: the full path under a relative root, and
// every way a callback must fail without creating a session.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { Browser, authorizeOnFake, createReadyInstance, FAKE_GITLAB_ENV, login, pathOf } from '../helpers/ready-instance.js';
import { startFakeGitlab } from '../fake-gitlab/index.js';

async function setup(t: Test, env: Record<string, string> = {}, deps: Parameters<typeof buildTestApp>[2] = {}) {
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab' });
  t.teardown(() => fake.close());
  const built = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...env }, deps);
  const { instance, application } = await createReadyInstance(built.app, fake);
  const gitlabUser = fake.createUser({ username: 'alice', name: 'Alice Liddell', email: 'alice@example.com' });
  return { ...built, fake, instance, application, gitlabUser };
}

t.test('full login under a relative root: authorize parameters, PKCE, session cookie, /me by cookie and bearer', async (t) => {
  const { app, fake, instance, application, gitlabUser } = await setup(t);
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
  t.equal(createHash('sha256').update(sent.code_verifier!).digest('base64url'), params.code_challenge, 'the verifier matches the challenge');
  t.equal(fake.grantCount('authorization_code'), 1);

  const session = callback.cookies.find((cookie) => cookie.name === 'gc_session');
  t.match(session, { path: '/', httpOnly: true, sameSite: 'Lax', value: /^[A-Za-z0-9_-]{43}$/ });
  t.notOk(session?.secure);
  t.ok(session?.expires && Math.abs(session.expires.getTime() - Date.now() - 168 * 3_600_000) < 60_000, 'expires after SESSION_TTL_HOURS');
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

  const user = await app.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
  t.equal(user.gitlab_user_id, String(gitlabUser.id));
  t.equal(app.sealer.open(user.access_token_sealed!, 'user_access_token').length, 64);
  t.ok(user.access_token_expires_at && user.access_token_expires_at.getTime() > Date.now() + 7000_000);
});

t.test('a login started on one app completes on another sharing the database', async (t) => {
  const { app, fake, instance, gitlabUser } = await setup(t);
  const { app: other } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const browser = new Browser();
  const { callback, sessionToken } = await login(browser, app, fake, instance.id, { gitlabUserId: gitlabUser.id, callbackApp: other });
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/');
  t.equal((await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${sessionToken}` } })).statusCode, 200);
});
