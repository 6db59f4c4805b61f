// GET /instances/lookup: normalisation, every status, and never a request to GitLab.
import t from 'tap';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { buildTestApp } from '../helpers/app.js';

t.test('lookup reports each state of an instance', async (t) => {
  const now = new Date('2026-11-25T12:00:00Z');
  const { app } = await buildTestApp(t, {}, { clock: () => now });
  const db = app.deps.db;
  const future = new Date(now.getTime() + 60_000);
  const past = new Date(now.getTime() - 60_000);
  const rows = await db
    .insertInto('instances')
    .values([
      { url: 'https://ready.example.com/gitlab', status: 'ready' },
      { url: 'https://running.example.com', status: 'bootstrapping', bootstrap_lease_until: future },
      { url: 'https://crashed.example.com', status: 'bootstrapping', bootstrap_lease_until: past },
      { url: 'https://failed.example.com', status: 'failed', last_error_step: 'probe', last_error_code: 'not_gitlab' },
      { url: 'https://removed.example.com', status: 'removed' },
    ])
    .returning(['id', 'url'])
    .execute();
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
  t.same(await lookup('running.example.com'), { url: 'https://running.example.com', status: 'bootstrapping', next: 'wait', instanceId: idOf('https://running.example.com') });
  t.same(await lookup('crashed.example.com'), { url: 'https://crashed.example.com', status: 'failed', next: 'bootstrap', instanceId: idOf('https://crashed.example.com') }, 'a bootstrap whose lease ran out is failed');
  t.same(await lookup('failed.example.com'), { url: 'https://failed.example.com', status: 'failed', next: 'bootstrap', instanceId: idOf('https://failed.example.com') });
  t.same(await lookup('removed.example.com'), { url: 'https://removed.example.com', status: 'unregistered', next: 'bootstrap' });
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
