// The per-instance cap on GitLab calls (issue 10 item 4): calls waiting on a slow instance take no
// turn from a healthy one, at most the cap reaches the slow GitLab, and a caller who waited too long
// gets 503 gitlab_rate_limited with Retry-After. Real HTTP to two fake GitLabs.
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, startTestGitlab } from '../helpers/gitlab.js';
import { until } from '../helpers/poll.js';

/** Polling bounds: every 50 ms, for at most 30 s. */
const POLL = { everyMs: 50, withinMs: 30_000 };

t.test("20 calls on a slow instance: the cap reaches it, a bounded queue waits, the rest are refused, and a healthy instance's calls complete meanwhile", async (t) => {
  const slow = await startTestGitlab(t);
  const healthy = await startTestGitlab(t);
  const slowAdmin = slow.seedAdmin();
  const healthyAdmin = healthy.seedAdmin();
  const hold = slow.injectFault({ method: 'GET', path: '/api/v4/version', hold: true, times: 1000 });
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, GITLAB_MAX_CONCURRENT_PER_INSTANCE: '3', GITLAB_QUEUE_WAIT_MS: '60000', GITLAB_TIMEOUT_MS: '60000' });
  const { gitlab } = app.deps;

  const settled: string[] = [];
  const slowCalls = Array.from({ length: 20 }, () =>
    gitlab.version({ url: slow.url, caCertificate: null }, slowAdmin.token).then(
      () => settled.push('answered'),
      (error: unknown) => settled.push(String((error as { code?: string }).code)),
    ),
  );
  await until('the slow instance to hold the cap', () => hold.applied === 3, POLL);

  const healthyAnswers = await Promise.all(Array.from({ length: 10 }, () => gitlab.version({ url: healthy.url, caCertificate: null }, healthyAdmin.token)));
  t.equal(healthyAnswers.length, 10, 'every call to the healthy instance completed');
  t.same(settled, Array(5).fill('gitlab_rate_limited'), 'meanwhile the 5 beyond the queue (3 × 4) were refused at once, and 15 were still pending');
  t.equal(hold.applied, 3, 'only the cap reached the slow GitLab');

  hold.release();
  await Promise.all(slowCalls);
  t.equal(settled.filter((outcome) => outcome === 'answered').length, 15, 'the waiting calls had their turn once it freed up');
});

t.test('a caller who waits longer than GITLAB_QUEUE_WAIT_MS gets gitlab_rate_limited with retryAfter', async (t) => {
  const slow = await startTestGitlab(t);
  const admin = slow.seedAdmin();
  const hold = slow.injectFault({ method: 'GET', path: '/api/v4/version', hold: true });
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, GITLAB_MAX_CONCURRENT_PER_INSTANCE: '1', GITLAB_QUEUE_WAIT_MS: '0', GITLAB_TIMEOUT_MS: '60000' });
  const target = { url: slow.url, caCertificate: null };
  const first = app.deps.gitlab.version(target, admin.token);
  await until('the first call to be held', () => hold.applied === 1, POLL);
  await t.rejects(app.deps.gitlab.version(target, admin.token), { code: 'gitlab_rate_limited', extras: { retryAfter: 1 } });
  t.equal(hold.seen, 1, 'the refused call never reached GitLab');
  hold.release();
  await first;
});
