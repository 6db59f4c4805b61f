// POST /instances/bootstrap: every error code, each from a real cause (the fake GitLab in a given state,
// an injected fault, a real socket), with the problem answer and what the failure left in the database.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import { buildTestApp } from '../helpers/app.js';
import { expectNoInstance, expectProblem, expectRecordedFailure, instanceRow } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { readRows } from '../helpers/rows.js';

t.test('invalid_url: an ftp:// URL is refused with 400 before anything is stored', async (t) => {
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: 'ftp://gitlab.example.com', adminToken: 'glpat-whatever' });
  expectProblem(t, response, { status: 400, code: 'invalid_url' });
  t.equal((await readRows(app.deps.db, 'instances')).find((row) => row.url.includes('gitlab.example.com')), undefined);
});

t.test('validation_failed: a missing adminToken, an unknown field, a token that cannot be a header and a non-PEM caCertificate', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  const missing = expectProblem(t, await postBootstrap(app, { url: fake.url }), { status: 400, code: 'validation_failed' });
  t.match(missing.errors, [{ field: 'body.adminToken' }], 'names the missing field');

  const extra = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: 'x', admin: true }), { status: 400, code: 'validation_failed' });
  t.match(extra.errors, [{ field: 'body.admin' }], 'names the unknown field');

  for (const adminToken of ['glpat-abc\ndef', 'glpat abc', 'glpat-été']) {
    const badToken = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken }), { status: 400, code: 'validation_failed' });
    t.match(badToken.errors, [{ field: 'body.adminToken' }], 'a token with white space or non-ASCII is refused before any call');
  }

  const notPem = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: 'x', caCertificate: 'not a certificate' }), { status: 400, code: 'validation_failed' });
  t.match(notPem.errors, [{ field: 'body.caCertificate' }]);

  t.same(fake.requests, [], 'GitLab was never called');
  await expectNoInstance(t, app, fake.url);
});

t.test('url_not_allowed: an http:// URL with ALLOW_HTTP=false is refused and GitLab gets no request', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ALLOW_HTTP: 'false' });
  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 422, code: 'url_not_allowed', step: 'url' });
  t.match(body.detail, /https:\/\//, 'tells the caller to use https');
  t.same(fake.requests, []);
  await expectNoInstance(t, app, fake.url);
});

t.test('not_gitlab: a web server that answers 404 HTML to everything is no GitLab (step probe)', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => { resolve(); });
    server.closeAllConnections();
  }));
  const url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  expectProblem(t, await postBootstrap(app, { url, adminToken: 'glpat-anything' }), { status: 422, code: 'not_gitlab', step: 'probe' });
  await expectRecordedFailure(t, app, url, { step: 'probe', code: 'not_gitlab' });
});

t.test('gitlab_version_unsupported: GitLab 15.11.3-ee is refused in step probe', async (t) => {
  const fake = await startTestGitlab(t, { version: '15.11.3-ee' });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 422, code: 'gitlab_version_unsupported', step: 'probe' });
  t.match(body.detail, /15\.11\.3-ee/);
  await expectRecordedFailure(t, app, fake.url, { step: 'probe', code: 'gitlab_version_unsupported' });
  t.equal(fake.counters.usersCreated, 0);
});

t.test('token problems are each named in step verify_token, and nothing is created', async (t) => {
  const cases: { name: string; code: string; token: (fake: Awaited<ReturnType<typeof startTestGitlab>>) => string; missingScopes?: string[] }[] = [
    { name: 'an unknown token', code: 'token_invalid', token: () => 'glpat-unknownunknownunkn' },
    { name: 'an expired token', code: 'token_expired', token: (fake) => fake.seedAdmin({ expiresAt: fake.dateInDays(-2) }).token },
    { name: 'a revoked token', code: 'token_revoked', token: (fake) => fake.seedAdmin({ revoked: true }).token },
    {
      name: "a non-administrator's api token",
      code: 'token_not_admin',
      token: (fake) => fake.createPersonalAccessToken(fake.createUser({ username: 'alice' }).id, { scopes: ['api'] }).token,
    },
    { name: 'an admin token with read_api only', code: 'token_missing_scope', token: (fake) => fake.seedAdmin({ scopes: ['read_api'] }).token, missingScopes: ['api'] },
  ];
  for (const c of cases) {
    await t.test(`${c.code}: ${c.name}`, async (t) => {
      const fake = await startTestGitlab(t);
      const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
      const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: c.token(fake) }), { status: 422, code: c.code, step: 'verify_token' });
      if (c.missingScopes) t.same(body.missingScopes, c.missingScopes);
      await expectRecordedFailure(t, app, fake.url, { step: 'verify_token', code: c.code });
      t.match(fake.counters, { usersCreated: 0, personalAccessTokensCreated: 0, applicationsCreated: 0 }, 'nothing created on GitLab');
    });
  }
});

t.test('admin_mode_scope_required under Admin Mode without admin_mode; with it the set-up succeeds', async (t) => {
  const fake = await startTestGitlab(t, { adminMode: true });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const apiOnly = fake.seedAdmin({ scopes: ['api'] });
  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: apiOnly.token }), { status: 422, code: 'admin_mode_scope_required', step: 'verify_token' });
  t.same(body.missingScopes, ['admin_mode']);
  await expectRecordedFailure(t, app, fake.url, { step: 'verify_token', code: 'admin_mode_scope_required' });

  const withAdminMode = fake.seedAdmin({ scopes: ['api', 'admin_mode'], username: 'root2' });
  const created = await postBootstrap(app, { url: fake.url, adminToken: withAdminMode.token });
  t.equal(created.statusCode, 201, created.body);
  t.match(await instanceRow(app, fake.url), { status: 'ready', lastErrorStep: null, lastErrorCode: null });
});

t.test('gitlab_unreachable: nothing listens on the port (step probe)', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  const url = `http://127.0.0.1:${String(port)}`;
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);

  expectProblem(t, await postBootstrap(app, { url, adminToken: 'glpat-anything' }), { status: 502, code: 'gitlab_unreachable', step: 'probe' });
  await expectRecordedFailure(t, app, url, { step: 'probe', code: 'gitlab_unreachable' });
});

t.test('gitlab_error: POST /users answering 500 fails step bot_user', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.injectFault({ method: 'POST', path: '/api/v4/users', status: 500 });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const body = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_error', step: 'bot_user' });
  t.match(body.detail, /500/);
  await expectRecordedFailure(t, app, fake.url, { step: 'bot_user', code: 'gitlab_error' });
});

t.test('gitlab_rate_limited: a plain-text 429 on GET /user gives 503 with retryAfter 60 and Retry-After', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.injectFault({ method: 'GET', path: '/api/v4/user', status: 429 });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 503, code: 'gitlab_rate_limited', step: 'verify_token' });
  t.equal(body.retryAfter, 60);
  t.equal(response.headers['retry-after'], '60');
  t.equal(fake.requests.filter((r) => r.path === '/api/v4/user' && r.status === 429).length, 1, 'the fake did answer 429 once');
  await expectRecordedFailure(t, app, fake.url, { step: 'verify_token', code: 'gitlab_rate_limited' });
});

t.test('gitlab_timeout: GET /user never answering gives 504 in step verify_token', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const never = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, GITLAB_TIMEOUT_MS: '1000' });
  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 504, code: 'gitlab_timeout', step: 'verify_token' });
  t.equal(never.applied, 1, 'GitLab had the request and never answered it');
  await expectRecordedFailure(t, app, fake.url, { step: 'verify_token', code: 'gitlab_timeout' });
});

t.test("a ready instance re-run with a token that is not its administrator's leaves its record and audit trail untouched", async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const strangerUser = fake.createUser({ username: 'stranger' });
  const stranger = fake.createPersonalAccessToken(strangerUser.id, { scopes: ['api'] });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  t.equal((await postBootstrap(app, { url: fake.url, adminToken: admin.token })).statusCode, 201);
  // This file's tests share a database: read this test's instance, not whichever row comes first.
  const before = (await instanceRow(app, fake.url))!;
  const eventsBefore = await listInstanceEvents(app.deps.db, before.id);

  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: 'glpat-notatokenatall000' }), { status: 422, code: 'token_invalid', step: 'verify_token' });
  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: stranger.token }), { status: 422, code: 'token_not_admin', step: 'verify_token' });
  const after = (await instanceRow(app, fake.url))!;
  t.match(after, { status: 'ready', lastErrorStep: before.lastErrorStep, lastErrorCode: before.lastErrorCode, lastErrorDetail: before.lastErrorDetail, bootstrapLeaseUntil: null });
  t.equal((await listInstanceEvents(app.deps.db, before.id)).length, eventsBefore.length, 'no event added');
  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } });
  t.match(lookup.json(), { status: 'ready', next: 'login', loginUrl: String });
});

t.test('a failed first set-up leaves the instance failed and lookup says to bootstrap again', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: 'glpat-notatokenatall000' }), { status: 422, code: 'token_invalid', step: 'verify_token' });
  const row = await expectRecordedFailure(t, app, fake.url, { step: 'verify_token', code: 'token_invalid' });
  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } });
  t.equal(lookup.statusCode, 200);
  t.match(lookup.json(), { url: fake.url, status: 'failed', next: 'bootstrap', instanceId: row.id });
  t.notOk(lookup.json().loginUrl, 'no login offered');
});

t.test('bot_username_taken: an administrator named like the bot is never adopted as the bot', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const namesake = fake.createUser({ username: 'Review-Bot', admin: true });
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 422, code: 'bot_username_taken', step: 'bot_user' });
  t.equal(fake.liveTokensOf(namesake.id).length, 0, 'no token minted for the administrator');
  t.equal(fake.counters.personalAccessTokensCreated, 0);
});
