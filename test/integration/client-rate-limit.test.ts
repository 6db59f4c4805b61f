// Per-client limits on the public routes (issue 10 item 6): login starts are limited, and every
// limit counts an IPv6 /64 as one client.
import t from 'tap';
import { clientKeyOf } from '../../src/plugins/client-rate-limit.js';
import { buildTestApp, midMinuteClock } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, startTestGitlab } from '../helpers/gitlab.js';
import { createReadyInstance } from '../helpers/ready-instance.js';
import { readRows } from '../helpers/rows.js';

t.test('clientKeyOf: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', async (t) => {
  t.equal(clientKeyOf('203.0.113.7'), '203.0.113.7');
  t.equal(clientKeyOf('::ffff:203.0.113.7'), '203.0.113.7');
  t.equal(clientKeyOf('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(clientKeyOf('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  t.not(clientKeyOf('2001:db8:1:3::1'), clientKeyOf('2001:db8:1:2::1'));
});

t.test('login start: LOGIN_RATE_LIMIT_PER_MINUTE per client, an IPv6 /64 counted as one client, 429 rate_limited with Retry-After', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, LOGIN_RATE_LIMIT_PER_MINUTE: '2' }, { clock: midMinuteClock() });
  const { instance } = await createReadyInstance(app, fake);
  const start = (remoteAddress: string) => app.inject({ method: 'GET', url: `/auth/gitlab/start?instance=${instance.id}`, remoteAddress });

  t.equal((await start('2001:db8:1:2::1')).statusCode, 302);
  t.equal((await start('2001:db8:1:2::2')).statusCode, 302);
  const refused = await start('2001:db8:1:2:ffff::9');
  t.equal(refused.statusCode, 429, 'a third address of the same /64 is the same client');
  t.match(refused.headers['content-type'], /^application\/problem\+json/);
  t.equal(refused.json().code, 'rate_limited');
  t.match(refused.headers['retry-after'], /^[1-9][0-9]*$/);
  t.equal((await start('2001:db8:1:3::1')).statusCode, 302, 'the next /64 is another client');
  t.equal((await start('203.0.113.7')).statusCode, 302);

  const states = await readRows(app.deps.db, 'loginStates', { instanceId: instance.id });
  t.equal(states.length, 4, 'the refused start wrote no login state');
});

t.test('bootstrap: its limit counts an IPv6 /64 as one client too', async (t) => {
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '1' }, { clock: midMinuteClock() });
  const bootstrap = (remoteAddress: string) => app.inject({ method: 'POST', url: '/instances/bootstrap', payload: {}, remoteAddress });
  t.equal((await bootstrap('2001:db8:9:9::1')).statusCode, 400);
  t.equal((await bootstrap('2001:db8:9:9::abcd')).json().code, 'rate_limited');
});
