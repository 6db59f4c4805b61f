// GET /instances/lookup: normalisation, every status with its callbackUrl, step and problem, the URL rules
// judged from the URL alone, and never a request to GitLab.
import t from 'tap';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { insertRows } from '../helpers/rows.js';

t.test('lookup reports each state of an instance', async (t) => {
  const now = new Date('2026-11-25T12:00:00Z');
  const { app } = await buildTestApp(t, {}, { clock: () => now });
  const future = new Date(now.getTime() + 60_000);
  const past = new Date(now.getTime() - 60_000);
  const rows = await insertRows(app.deps.db, 'instances', [
    { url: 'https://ready.example.com/gitlab', status: 'ready' },
    { url: 'https://running.example.com', status: 'bootstrapping', bootstrapLeaseUntil: future, bootstrapStep: 'verify_token' },
    { url: 'https://crashed.example.com', status: 'bootstrapping', bootstrapLeaseUntil: past },
    { url: 'https://failed.example.com', status: 'failed', lastErrorStep: 'probe', lastErrorCode: 'not_gitlab' },
    { url: 'https://removed.example.com', status: 'removed' },
    { url: 'https://bot-dead.example.com', status: 'ready', problemCode: 'bot_token_unusable', problemStep: 'bot_token', problemDetail: 'GitLab refuses the bot token' },
    { url: 'https://app-dead.example.com', status: 'ready', problemCode: 'oauth_application_unusable', problemStep: 'oauth_application', problemDetail: 'GitLab refuses the OAuth application' },
  ]);
  const idOf = (url: string) => rows.find((row) => row.url === url)!.id;

  const lookup = async (url: string) => {
    const response = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url } });
    t.equal(response.statusCode, 200, url);
    const { callbackUrl, ...rest } = response.json();
    t.equal(callbackUrl, instanceCallbackUrl('http://connect.test', rest.url), `${url}: the instance's own redirect URI, whatever its state`);
    return rest;
  };

  t.same(await lookup('https://unknown.example.com'), { url: 'https://unknown.example.com', status: 'unregistered', next: 'bootstrap' });
  t.same(await lookup('READY.example.com:443/gitlab/'), {
    url: 'https://ready.example.com/gitlab',
    status: 'ready',
    next: 'login',
    instanceId: idOf('https://ready.example.com/gitlab'),
    loginUrl: `http://connect.test/auth/gitlab/start?instance=${idOf('https://ready.example.com/gitlab')}`,
  });
  t.same(await lookup('running.example.com'), {
    url: 'https://running.example.com',
    status: 'bootstrapping',
    next: 'wait',
    instanceId: idOf('https://running.example.com'),
    step: 'verify_token',
  });
  t.same(
    await lookup('crashed.example.com'),
    { url: 'https://crashed.example.com', status: 'failed', next: 'bootstrap', instanceId: idOf('https://crashed.example.com') },
    'a bootstrap whose lease ran out is failed',
  );
  t.same(await lookup('failed.example.com'), {
    url: 'https://failed.example.com',
    status: 'failed',
    next: 'bootstrap',
    instanceId: idOf('https://failed.example.com'),
    problem: { code: 'not_gitlab', step: 'probe', title: 'The URL does not point to a GitLab instance' },
  });
  t.same(await lookup('removed.example.com'), { url: 'https://removed.example.com', status: 'unregistered', next: 'bootstrap' });
  // Degraded: logins still work with a dead bot token (login, with its URL); with the OAuth application
  // refused they do not (a bootstrap repairs it, and no login URL).
  for (const [host, code, step, title, loginsWork] of [
    ['bot-dead.example.com', 'bot_token_unusable', 'bot_token', 'GitLab refuses the bot token', true],
    ['app-dead.example.com', 'oauth_application_unusable', 'oauth_application', 'GitLab refuses the OAuth application', false],
  ] as const) {
    const instanceId = idOf(`https://${host}`);
    t.same(await lookup(host), {
      url: `https://${host}`,
      status: 'degraded',
      next: loginsWork ? 'login' : 'bootstrap',
      instanceId,
      problem: { code, step, title },
      ...(loginsWork ? { loginUrl: `http://connect.test/auth/gitlab/start?instance=${instanceId}` } : {}),
    }, host);
  }
});

t.test('lookup applies the URL rules from the URL alone: url_not_allowed with step url, before any admin token is asked for', async (t) => {
  const lookups: string[] = [];
  const { app } = await buildTestApp(t, {}, { lookup: ((host: string, ...rest: unknown[]) => {
    lookups.push(host);
    (rest.at(-1) as (e: Error) => void)(new Error('no DNS in lookup'));
  }) as never });
  // The first again at the end: refused again (unit/recognised-urls.test.ts counts that it is checked again).
  for (const url of ['http://gitlab.example.com', 'https://10.1.2.3', 'https://[::1]/gitlab', '127.0.0.1', 'http://gitlab.example.com']) {
    const response = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url } });
    t.equal(response.statusCode, 422, url);
    t.match(response.json(), { code: 'url_not_allowed', step: 'url', detail: /ALLOW_HTTP=true/ }, url);
  }
  t.equal((await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: 'https://gitlab.example.com' } })).statusCode, 200, 'a host name passes without a DNS query');
  t.same(lookups, [], 'no DNS query');
});

t.test('lookup refuses a host that cannot be a DNS name: 400 invalid_url', async (t) => {
  const { app } = await buildTestApp(t);
  const label = 'a'.repeat(63);
  for (const url of [`https://${'a'.repeat(2000)}.example.com`, `https://${'a'.repeat(64)}.example.com`, `https://${[label, label, label, label].join('.')}.com`]) {
    const response = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url } });
    t.equal(response.statusCode, 400, `${String(url.length)} characters`);
    t.match(response.json(), { code: 'invalid_url', detail: /cannot be a DNS name/ });
  }
  const longest = `https://${[label, label, label, 'a'.repeat(61)].join('.')}`;
  t.equal((await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: longest } })).statusCode, 200, 'a 253-character name passes');
});

t.test('lookup shows the step a running bootstrap is at, and the failed step and code after it fails', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const held = fake.injectFault({ method: 'POST', path: '/api/v4/users', hold: true });
  const running = postBootstrap(app, { url: fake.url, adminToken: admin.token });
  await held.reached;
  const during = (await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } })).json();
  t.match(during, { status: 'bootstrapping', next: 'wait', step: 'bot_user' });
  held.release();
  t.equal((await running).statusCode, 201);
  const after = (await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } })).json();
  t.match(after, { status: 'ready', step: undefined, problem: undefined });

  const other = await startTestGitlab(t);
  const refused = await postBootstrap(app, { url: other.url, adminToken: 'glpat-not-a-known-token-000' });
  t.equal(refused.statusCode, 422);
  const failed = (await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: other.url } })).json();
  t.same(failed.problem, { code: 'token_invalid', step: 'verify_token', title: 'The admin token is not valid' });
});

t.test('lookup refuses what cannot be an instance URL with a problem', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of ['ftp://gitlab.example.com', 'https://u:p@gitlab.example.com', 'https://gitlab.example.com/?a=1', '']) {
    const response = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url } });
    t.equal(response.statusCode, 400, url);
    t.match(response.headers['content-type'], /^application\/problem\+json/);
    t.match(response.json(), { status: 400, code: 'invalid_url', type: 'urn:gitlab-connect:problem:invalid_url' });
  }
  const missing = await app.inject({ method: 'GET', url: '/instances/lookup' });
  t.match(missing.json(), { code: 'validation_failed', errors: [{ field: 'querystring.url' }] });
});
