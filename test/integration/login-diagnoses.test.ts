// Login and token refresh when GitLab's clock lags, when it rate limits (429 at /oauth/token), and when
// it fails: a clock tolerance on ID tokens, 503 gitlab_rate_limited with a bounded Retry-After, and a
// user's still-valid access token served instead of an error.
import t, { type Test } from 'tap';
import type { App, Clock } from '../../src/app.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, gitlabToken } from '../helpers/gitlab.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { readRow } from '../helpers/rows.js';
import { startFakeGitlab, type FaultSpec } from '../fake-gitlab/index.js';

/** The app and the fake GitLab, whose clock runs `gitlabLagMs` behind the app's; `advance` moves both. */
async function setup(t: Test, gitlabLagMs = 0) {
  let now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const clock: Clock = () => now;
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab', now: () => new Date(now.getTime() - gitlabLagMs) });
  t.teardown(() => fake.close());
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV, { clock });
  const { instance } = await createReadyInstance(app, fake);
  const gitlabUser = fake.createUser({ username: 'alice' });
  const advance = (ms: number) => (now = new Date(now.getTime() + ms));
  return { app, fake, instance, gitlabUser, advance };
}

async function loggedIn(t: Test, app: App, fake: Awaited<ReturnType<typeof setup>>['fake'], instanceId: string, gitlabUserId: number) {
  const { callback } = await login(new Browser(), app, fake, instanceId, { gitlabUserId });
  t.equal(callback.statusCode, 302, 'logged in');
  return (await readRow(app.deps.db, 'users', { instanceId })).id;
}

t.test("a GitLab clock 150 s behind (its ID tokens live 120 s) still logs the user in: ID token times get a few minutes' tolerance", async (t) => {
  const { app, fake, instance, gitlabUser } = await setup(t, 150_000);
  const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  t.equal(callback.statusCode, 302, callback.body);
  t.equal(callback.headers.location, '/');
});

const rateLimitRows = [
  { name: 'Retry-After: 42', retryAfter: '42', expected: 42 },
  { name: 'a Retry-After of 11 days is bounded to an hour', retryAfter: '999999', expected: 3600 },
];

for (const row of rateLimitRows) {
  t.test(`GitLab's 429 at /oauth/token during login is 503 gitlab_rate_limited with retryAfter (${row.name})`, async (t) => {
    const { app, fake, instance, gitlabUser } = await setup(t);
    fake.injectFault({ method: 'POST', path: '/oauth/token', status: 429, headers: { 'retry-after': row.retryAfter } });
    const { callback } = await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
    t.equal(callback.statusCode, 503, callback.body);
    t.match(callback.json(), { code: 'gitlab_rate_limited', retryAfter: row.expected, detail: /wait retryAfter seconds/ });
    t.equal(callback.headers['retry-after'], String(row.expected));
  });
}

const refreshRows: { name: string; fault: Omit<FaultSpec, 'path'>; expiredCode: string; expiredStatus: number }[] = [
  { name: '429 with Retry-After', fault: { status: 429, headers: { 'retry-after': '42' } }, expiredCode: 'gitlab_rate_limited', expiredStatus: 503 },
  { name: '5xx', fault: { status: 502, body: '<html>502 Bad Gateway</html>', headers: { 'content-type': 'text/html' } }, expiredCode: 'gitlab_error', expiredStatus: 502 },
  { name: 'an unreachable GitLab', fault: { drop: true }, expiredCode: 'gitlab_unreachable', expiredStatus: 502 },
];

for (const row of refreshRows) {
  t.test(`refresh meeting ${row.name}: the still-valid access token is served; once it expired, ${String(row.expiredStatus)} ${row.expiredCode}`, async (t) => {
    const { app, fake, instance, gitlabUser, advance } = await setup(t);
    const userId = await loggedIn(t, app, fake, instance.id, gitlabUser.id);
    const first = (await gitlabToken(app, userId)).json();
    advance(7200_000 - 120_000);
    fake.injectFault({ method: 'POST', path: '/oauth/token', times: 10, ...row.fault });
    const due = await gitlabToken(app, userId);
    t.equal(due.statusCode, 200, due.body);
    t.same(due.json(), first, 'the stored token, which has two minutes left');
    t.equal(fake.grantCount('refresh_token'), 0, 'GitLab refreshed nothing');
    advance(180_000);
    const expired = await gitlabToken(app, userId);
    t.equal(expired.statusCode, row.expiredStatus, expired.body);
    t.equal(expired.json().code, row.expiredCode);
  });
}
