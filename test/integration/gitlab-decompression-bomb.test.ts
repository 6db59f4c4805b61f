// A hostile GitLab answering gzip bombs (issue 10 item 1): compressed answers are refused before
// they are inflated, at the OAuth token endpoint and on the REST API, with 502 gitlab_error.
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { clientChecks, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { gzipBomb, gzipBombFault } from '../fake-gitlab/index.js';

const INFLATED = 200 * 1024 * 1024;
const MAX_GROWTH = 50 * 1024 * 1024;

/** Runs `work` while sampling the resident set every few ms; returns its result and the largest growth seen. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const timer = setInterval(sample, 2);
  try {
    const result = await work();
    sample();
    return { result, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

// Made once, before any measurement, so building it is not counted.
const bombSize = (await gzipBomb(INFLATED)).length;

t.test('the fake serves a bomb: a small gzip body that inflates to 200 MB', async (t) => {
  t.ok(bombSize < 300 * 1024, `gzip body is ${String(bombSize)} bytes`);
});

t.test('a gzip bomb at /oauth/token: the login fails with 502 gitlab_error and memory grows by less than 50 MB', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instance } = await createReadyInstance(app, fake);
  const user = fake.createUser({ username: 'alice' });
  // A healthy login first, so first-use allocations (route compilation, agents, sockets) are not counted.
  const warmUp = await login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id });
  t.equal(warmUp.callback.statusCode, 302, 'control: the same login succeeds without the bomb');
  fake.injectFault(await gzipBombFault('/oauth/token', INFLATED, { method: 'POST' }));

  const { result, growth } = await peakRssGrowth(() => login(new Browser(), app, fake, instance.id, { gitlabUserId: user.id }));
  expectProblem(t, result.callback, { status: 502, code: 'gitlab_error' });
  t.match(result.callback.json().detail, /compressed/);
  t.equal(result.sessionToken, undefined, 'no session');
  t.equal(clientChecks(fake), 2, 'the token endpoint was called again, and bombed');
  t.ok(growth < MAX_GROWTH, `resident memory grew by ${String(Math.round(growth / 1024 / 1024))} MB`);
});

t.test('a gzip bomb on GET /api/v4/user: the bootstrap fails with 502 gitlab_error and memory grows by less than 50 MB', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  // A healthy bootstrap first (not counted); the re-run then meets the bomb.
  t.equal((await postBootstrap(app, { url: fake.url, adminToken: admin.token })).statusCode, 201, 'control: the bootstrap succeeds without the bomb');
  fake.injectFault(await gzipBombFault('/api/v4/user', INFLATED, { method: 'GET' }));

  const { result, growth } = await peakRssGrowth(() => postBootstrap(app, { url: fake.url, adminToken: admin.token }));
  const body = expectProblem(t, result, { status: 502, code: 'gitlab_error', step: 'verify_token' });
  t.match(body.detail, /compressed/);
  t.ok(growth < MAX_GROWTH, `resident memory grew by ${String(Math.round(growth / 1024 / 1024))} MB`);
});
