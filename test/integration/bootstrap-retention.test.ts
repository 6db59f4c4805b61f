// Instances that never became ready and hold nothing on GitLab (a made-up token, a typo) are deleted with
// their events by the upkeep's sweep once untouched for 30 days: strangers cannot make the tables grow
// forever (issue 10 item 6; issue 12 moved the purge from the bootstrap to the upkeep).
import t from 'tap';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import { instanceRow } from '../helpers/bootstrap.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { sweepNow, UPKEEP_ENV } from '../helpers/upkeep.js';

const DAY_MS = 86_400_000;

t.test('the upkeep sweep deletes never-ready instances untouched for 30 days (and their events); recent, resource-holding and ready ones stay', async (t) => {
  const clock = { now: new Date('2026-12-01T10:00:00Z') };
  // A database of its own: the sweep's counts cover the whole database.
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...UPKEEP_ENV }, { clock: () => clock.now, ownDatabase: true });
  const [stranger, holder, ready, recent, later] = await Promise.all([1, 2, 3, 4, 5].map(() => startTestGitlab(t)));
  const admins = [holder, ready, later].map((fake) => fake.seedAdmin());

  t.equal((await postBootstrap(app, { url: stranger.url, adminToken: 'glpat-made-up-token-000000' })).statusCode, 422, 'a stranger with a made-up token');
  holder.injectFault({ method: 'POST', path: '/api/v4/applications', status: 500, body: { message: '500 Internal Server Error' } });
  holder.injectFault({ method: 'POST', path: /\/personal_access_tokens$/, status: 500, body: { message: '500 Internal Server Error' } });
  t.equal((await postBootstrap(app, { url: holder.url, adminToken: admins[0].token })).statusCode, 502, 'failed after creating the bot user (token and application refused): it holds a bot on GitLab');
  t.equal((await postBootstrap(app, { url: ready.url, adminToken: admins[1].token })).statusCode, 201);
  const strangerId = (await instanceRow(app, stranger.url))!.id;

  clock.now = new Date(clock.now.getTime() + 2 * DAY_MS);
  t.equal((await postBootstrap(app, { url: recent.url, adminToken: 'glpat-made-up-token-111111' })).statusCode, 422, 'another stranger, two days later');

  clock.now = new Date(clock.now.getTime() + 29 * DAY_MS);
  t.equal((await postBootstrap(app, { url: later.url, adminToken: admins[2].token })).statusCode, 201, 'a bootstrap 31 days on');
  t.ok(await instanceRow(app, stranger.url), 'a bootstrap deletes nothing');
  const sweep = await sweepNow(app);
  t.equal(sweep.counts.abandonedInstancesDeleted, 1, 'the sweep counts what it deleted');

  t.equal(await instanceRow(app, stranger.url), undefined, 'the 31-day-old never-ready instance is gone');
  const events = await listInstanceEvents(app.deps.db, strangerId);
  t.same(events, [], 'with its events');
  t.ok(await instanceRow(app, recent.url), 'a 29-day-old one stays');
  t.ok(await instanceRow(app, holder.url), 'one that holds a bot on GitLab stays (its clean-up needs it)');
  t.equal((await instanceRow(app, ready.url))!.status, 'ready', 'a ready one stays');
});
