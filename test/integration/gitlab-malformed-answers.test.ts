// A hostile or broken GitLab answering malformed shapes over HTTP (issue 10 item 7): each becomes
// 502 gitlab_error naming the operation, never a 500; avatar URLs that are not http(s) are dropped;
// Retry-After and expires_in are bounded.
import t, { type Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { readRows } from '../helpers/rows.js';
import type { FakeGitlabOptions } from '../fake-gitlab/index.js';

async function loginSetup(t: Test, options: FakeGitlabOptions = {}) {
  const fake = await startTestGitlab(t, options);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instance } = await createReadyInstance(app, fake);
  const user = fake.createUser({ username: 'alice', name: 'Alice', email: 'alice@example.com' });
  const wellFormed = { id: user.id, username: 'alice', name: 'Alice', state: 'active', email: 'alice@example.com', avatar_url: 'https://gitlab.example/a.png' };
  return { fake, app, instance, user, wellFormed };
}

t.test('GET /user answers that break the schema make the login 502 gitlab_error naming GET /api/v4/user, and store no user', async (t) => {
  const { fake, app, instance, user, wellFormed } = await loginSetup(t);
  const shapes: [string, Record<string, unknown>][] = [
    ['an id that is a string', { ...wellFormed, id: String(user.id) }],
    ['an id past 2^53', { ...wellFormed, id: 2 ** 60 }],
    ['no username', { ...wellFormed, username: undefined }],
    ['a null name', { ...wellFormed, name: null }],
    ['a 10 000-character name', { ...wellFormed, name: 'x'.repeat(10_000) }],
  ];
  for (const [why, body] of shapes) {
    fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 200, body });
    const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id });
    const problem = expectProblem(t, callback, { status: 502, code: 'gitlab_error' });
    t.match(problem.detail, /^GitLab's answer to GET \/api\/v4\/user is not valid/, why);
  }
  t.equal((await readRows(app.deps.db, 'users', { instanceId: instance.id })).length, 0, 'no user row was written');
});

t.test('a javascript: avatar URL is dropped: the login succeeds and /me and the users table carry null', async (t) => {
  const { fake, app, instance, user, wellFormed } = await loginSetup(t);
  fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 200, body: { ...wellFormed, avatar_url: 'javascript:alert(document.cookie)' } });
  const { callback, sessionToken } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, callback.body);
  const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } });
  t.equal(me.statusCode, 200);
  t.equal(me.json().user.avatarUrl, null);
  t.same((await readRows(app.deps.db, 'users', { instanceId: instance.id })).map((row) => row.avatarUrl), [null]);
});

t.test('control: an https avatar URL is kept', async (t) => {
  const { fake, app, instance, user, wellFormed } = await loginSetup(t);
  fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 200, body: wellFormed });
  const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id });
  t.equal(callback.statusCode, 302, callback.body);
  t.same((await readRows(app.deps.db, 'users', { instanceId: instance.id })).map((row) => row.avatarUrl), ['https://gitlab.example/a.png']);
});

t.test('a huge expires_in from the token endpoint makes the login 502 gitlab_error, not 500', async (t) => {
  const { fake, app, instance, user } = await loginSetup(t, { accessTokenTtlSeconds: 1e300 });
  const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id });
  const problem = expectProblem(t, callback, { status: 502, code: 'gitlab_error' });
  t.match(problem.detail, /POST \/oauth\/token.*expires_in/);
  t.equal((await readRows(app.deps.db, 'sessions', { instanceId: instance.id })).length, 0, 'no session was written');
});

t.test('bootstrap: a malformed item in GET /applications is 502 gitlab_error naming the list', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.injectFault({ method: 'GET', path: '/api/v4/applications', status: 200, body: [{ id: 'one', application_id: 5 }] });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_error', step: 'verify_token' });
  t.match(body.detail, /GET \/api\/v4\/applications is not valid/);
});

t.test('bootstrap: a version that is not a string is 502 gitlab_error naming GET /api/v4/version', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.injectFault({ method: 'GET', path: '/api/v4/version', status: 200, body: { version: 17, revision: null }, times: 10 });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 502, response.body);
  t.match(response.json(), { code: 'gitlab_error', detail: /GET \/api\/v4\/version is not valid/ });
});

t.test('a 400-digit Retry-After is bounded: 503 gitlab_rate_limited as a problem with retryAfter 3600', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 429, headers: { 'retry-after': '9'.repeat(400) } });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 503, code: 'gitlab_rate_limited', step: 'verify_token' });
  t.equal(body.retryAfter, 3600);
  t.equal(response.headers['retry-after'], '3600');
});
