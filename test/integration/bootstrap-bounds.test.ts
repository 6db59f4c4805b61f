// Memory bounds of the bootstrap (issue 10 item 5) against a hostile GitLab: the OAuth application
// list is walked within a page and a byte budget and kept cut down to the fields used, and at most
// BOOTSTRAP_MAX_CONCURRENT bootstraps run per process, the next one refused before it reaches GitLab.
import t from 'tap';
import { MAX_LIST_BYTES, MAX_LIST_PAGES } from '../../src/gitlab/api.js';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem, instanceRow } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { floodApplications, type FakeGitlab } from '../fake-gitlab/index.js';

const listRequests = (fake: FakeGitlab) => fake.requests.filter((r) => r.method === 'GET' && r.path === '/api/v4/applications').length;

t.test('an application list over more pages than the bound is 502 gitlab_error naming the list, and nothing is created', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  // Small entries: the 51 pages stay far below the byte budget, so only the page bound can stop the walk.
  floodApplications(fake, MAX_LIST_PAGES * 100 + 1);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_error', step: 'verify_token' });
  t.match(body.detail, /GET \/api\/v4\/applications is too long \(more than 50 pages.*delete the OAuth applications no longer in use/);
  t.equal(listRequests(fake), MAX_LIST_PAGES, 'the walk stopped at the bound');
  t.equal(fake.counters.applicationsCreated + fake.counters.usersCreated + fake.counters.personalAccessTokensCreated, 0, 'nothing was created on GitLab');
});

t.test('application pages adding up to more than the byte budget are 502 gitlab_error before the list ends', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  // 15 pages of ~415 KB each (100 redirect URIs of 4000 bytes): each under the 1 MiB response cap, ~6 MB in all.
  floodApplications(fake, 1500, 4000);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_error', step: 'verify_token' });
  t.match(body.detail, new RegExp(`GET /api/v4/applications is too long \\(more than ${String(MAX_LIST_BYTES / 1024 / 1024)} MiB by page 11`));
  t.equal(listRequests(fake), 11, 'the walk stopped at the first page past the budget, 4 short of the end');
  t.equal(fake.counters.applicationsCreated, 0, 'no application was created');
});

t.test('control: a list within both bounds is walked to its end and the bootstrap succeeds', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  floodApplications(fake, 950, 4000);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  t.equal((await postBootstrap(app, { url: fake.url, adminToken: admin.token })).statusCode, 201);
  t.equal(listRequests(fake), 10, 'every page was read');
});

t.test('only the fields the service uses are kept from each listed application', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const padding = 'x'.repeat(64 * 1024);
  const listed = { id: 7, application_id: 'abc', application_name: 'other app', callback_url: 'https://elsewhere.example/cb', confidential: true, scopes: ['api'] };
  fake.injectFault({ method: 'GET', path: '/api/v4/applications', status: 200, body: [{ ...listed, description: padding, owner: { padding } }] });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const applications = await app.deps.gitlab.applications({ url: fake.url, caCertificate: null }, admin.token);
  t.same(applications, [listed], 'the extra fields a hostile GitLab padded the answer with are dropped');
  t.same(Object.keys(applications[0]).sort(), Object.keys(listed).sort());
});

t.test('beyond BOOTSTRAP_MAX_CONCURRENT a bootstrap gets 503 service_busy with Retry-After and sends nothing to GitLab', async (t) => {
  const fakes = [await startTestGitlab(t), await startTestGitlab(t), await startTestGitlab(t)];
  const admins = fakes.map((fake) => fake.seedAdmin());
  const [first, second, extra] = fakes as [FakeGitlab, FakeGitlab, FakeGitlab];
  const holds = [first, second].map((fake) => fake.injectFault({ method: 'GET', path: '/.well-known/openid-configuration', hold: true }));
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, BOOTSTRAP_MAX_CONCURRENT: '2' });

  const running = [first, second].map((fake, i) => postBootstrap(app, { url: fake.url, adminToken: admins[i].token }));
  await Promise.all(holds.map((hold) => hold.reached));

  const refused = await postBootstrap(app, { url: extra.url, adminToken: admins[2].token });
  const body = expectProblem(t, refused, { status: 503, code: 'service_busy' });
  t.equal(refused.headers['retry-after'], '5');
  t.equal(body.retryAfter, 5);
  t.match(body.detail, /BOOTSTRAP_MAX_CONCURRENT/);
  t.equal(extra.requests.length, 0, 'the refused bootstrap sent nothing to its GitLab');
  t.equal(await instanceRow(app, extra.url), undefined, 'and claimed nothing');

  for (const hold of holds) hold.release();
  t.same((await Promise.all(running)).map((response) => response.statusCode), [201, 201], 'the held bootstraps finish');
  t.equal((await postBootstrap(app, { url: extra.url, adminToken: admins[2].token })).statusCode, 201, 'once they are done, the refused one goes through');
});
