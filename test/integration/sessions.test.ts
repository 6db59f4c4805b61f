// Sessions after a login: /me, logout (revoked at once, cookie cleared, cross-site Origin refused),
// expiry, and no secret of the login in clear in any table or log line.
import t, { type Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { FAKE_GITLAB_ENV, gitlabToken } from '../helpers/gitlab.js';
import { readRow, updateRows } from '../helpers/rows.js';
import { startFakeGitlab } from '../fake-gitlab/index.js';
import type { AppDeps } from '../../src/app.js';
import { hashSecret } from '../../src/crypto/tokens.js';

async function loggedIn(t: Test, env: Record<string, string> = {}, deps: Omit<AppDeps, 'database' | 'logger'> = {}) {
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab' });
  t.teardown(() => fake.close());
  const built = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...env }, deps);
  const { instance } = await createReadyInstance(built.app, fake);
  const gitlabUser = fake.createUser({ username: `user${String(fake.users.size + 1)}` });
  const browser = new Browser();
  const result = await login(browser, built.app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  t.equal(result.callback.statusCode, 302, 'logged in');
  return { ...built, fake, instance, browser, token: result.sessionToken!, result };
}

const me = (app: Awaited<ReturnType<typeof loggedIn>>['app'], headers: Record<string, string> = {}, cookies: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: '/me', headers, cookies });

t.test('/me refuses a missing, malformed or unknown session with 401 unauthenticated', async (t) => {
  const { app } = await loggedIn(t);
  for (const [headers, cookies] of [
    [{}, {}],
    [{ authorization: 'Bearer not-a-token' }, {}],
    [{ authorization: `Bearer ${'A'.repeat(43)}` }, {}],
    [{ authorization: 'Basic dXNlcjpwdw==' }, {}],
    [{}, { gc_session: 'B'.repeat(43) }],
  ] as const) {
    const response = await me(app, headers, cookies);
    t.equal(response.statusCode, 401, JSON.stringify([headers, cookies]));
    t.equal(response.json().code, 'unauthenticated');
  }
});

t.test('logout revokes the session at once and clears the cookie; the cookie is then refused', async (t) => {
  const { app, browser, token } = await loggedIn(t);
  t.equal((await me(app, {}, browser.cookieObject)).statusCode, 200);
  const logout = await app.inject({ method: 'POST', url: '/auth/logout', cookies: browser.cookieObject, headers: { origin: 'http://connect.test' } });
  t.equal(logout.statusCode, 204);
  t.match(logout.cookies.find((cookie) => cookie.name === 'gc_session'), { value: '', path: '/', maxAge: 0, httpOnly: true, sameSite: 'Lax' });
  t.equal((await me(app, {}, { gc_session: token })).statusCode, 401, 'the old cookie is refused');
  t.equal((await me(app, { authorization: `Bearer ${token}` })).statusCode, 401, 'and so is the token as bearer');
  const row = await readRow(app.deps.db, 'sessions', { tokenHash: hashSecret(token) });
  t.ok(row.revokedAt, 'revoked in the database');
  t.equal((await app.inject({ method: 'POST', url: '/auth/logout', cookies: { gc_session: token } })).statusCode, 204, 'logging out twice is fine');
});

t.test('logout by bearer token revokes that session', async (t) => {
  const { app, token } = await loggedIn(t);
  t.equal((await app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `Bearer ${token}` } })).statusCode, 204);
  t.equal((await me(app, { authorization: `Bearer ${token}` })).statusCode, 401);
});

t.test('logout refuses a cross-site Origin and keeps the session', async (t) => {
  const { app, token } = await loggedIn(t, { FRONTEND_URL: 'https://app.example.com' });
  for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.example', 'http://app.example.com', 'https://connect.test']) {
    const response = await app.inject({ method: 'POST', url: '/auth/logout', cookies: { gc_session: token }, headers: { origin } });
    t.equal(response.statusCode, 403, origin);
    t.equal(response.json().code, 'cross_site_request', origin);
  }
  t.equal((await me(app, {}, { gc_session: token })).statusCode, 200, 'still logged in');
  const fromFrontend = await app.inject({ method: 'POST', url: '/auth/logout', cookies: { gc_session: token }, headers: { origin: 'https://app.example.com' } });
  t.equal(fromFrontend.statusCode, 204, "the frontend's origin may log out");
  t.equal(fromFrontend.headers['access-control-allow-origin'], 'https://app.example.com');
  t.equal((await me(app, {}, { gc_session: token })).statusCode, 401);
});

t.test('a session expires after SESSION_TTL_HOURS', async (t) => {
  let now = new Date();
  const { app, token } = await loggedIn(t, { SESSION_TTL_HOURS: '2' }, { clock: () => now });
  now = new Date(now.getTime() + 2 * 3_600_000 - 1000);
  t.equal((await me(app, { authorization: `Bearer ${token}` })).statusCode, 200, 'alive just before');
  now = new Date(now.getTime() + 2000);
  const expired = await me(app, { authorization: `Bearer ${token}` });
  t.same([expired.statusCode, expired.json().code], [401, 'unauthenticated']);
});

t.test('the session cookie is Secure when PUBLIC_URL is https', async (t) => {
  const { result } = await loggedIn(t, { PUBLIC_URL: 'https://connect.example.com' });
  t.match(result.callback.cookies.find((cookie) => cookie.name === 'gc_session'), { secure: true, httpOnly: true, sameSite: 'Lax' });
  t.match(result.start.cookies.find((cookie) => cookie.name === 'gc_login'), { secure: true });
});

t.test('after a login and a token refresh, no table and no log line holds a token, code or verifier in clear', async (t) => {
  const { app, fake, logs, token, instance } = await loggedIn(t, { LOG_LEVEL: 'trace' });
  const user = await readRow(app.deps.db, 'users', { instanceId: instance.id });
  // Force a refresh so the refreshed pair is checked too.
  await updateRows(app.deps.db, 'users', { id: user.id }, { accessTokenExpiresAt: new Date(0) });
  const refreshed = await gitlabToken(app, user.id);
  t.equal(refreshed.statusCode, 200);

  const codeRequest = fake.tokenRequests.find((request) => request.grant_type === 'authorization_code')!;
  const secrets: Record<string, string> = { 'session token': token, 'OAuth code': codeRequest.code, 'PKCE verifier': codeRequest.code_verifier };
  for (const [i, issued] of [...fake.oauthTokens.values()].entries()) {
    secrets[`access token ${String(i)}`] = issued.accessToken;
    secrets[`refresh token ${String(i)}`] = issued.refreshToken;
  }
  t.equal(Object.keys(secrets).length, 7, 'two token pairs were issued');

  // Every table the database holds (information_schema), not only those the camelCase helpers know: raw on purpose.
  const tables = await app.deps.db
    .selectFrom('information_schema.tables' as never)
    .select('table_name' as never)
    .where('table_schema' as never, '=', 'public' as never)
    .execute() as { table_name: string }[];
  t.ok(tables.some((table) => table.table_name === 'login_states'));
  let dump = '';
  for (const { table_name } of tables) dump += JSON.stringify(await app.deps.db.selectFrom(table_name as never).selectAll().execute());
  t.ok(logs.text.length > 0, 'something was logged');
  for (const [name, secret] of Object.entries(secrets)) {
    t.notOk(dump.includes(secret), `no ${name} in the database`);
    t.notOk(logs.text.includes(secret), `no ${name} in the log`);
  }
});
