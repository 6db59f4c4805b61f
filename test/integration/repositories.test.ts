// Installing the bot on projects (member and hook on the fake GitLab), GitLab's deliveries stored once,
// and the ordered webhook feed with its long-poll.
import tap from 'tap';
import { INTERNAL_AUTH, FAKE_GITLAB_ENV, bootstrappedInstance } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import { buildTestApp } from '../helpers/app.js';
import { loggedInMaintainer as setUp } from '../helpers/maintainer.js';
import { createProject, triggerEvent } from '../fake-gitlab/index.js';
import type { App } from '../../src/app.js';
import { findInstallation } from '../../src/db/installations.repo.js';
import { insertRows, readRows } from '../helpers/rows.js';
import { settlesWithin, until } from '../helpers/poll.js';
import { lastRunId, sweepNow, upkeepRuns, UPKEEP_ENV } from '../helpers/upkeep.js';

const feed = (app: App, query = '') => app.inject({ method: 'GET', url: `/internal/webhook-events${query}`, headers: INTERNAL_AUTH });

tap.test('install adds the bot as Developer and one hook; again is 200 with no second hook; a deleted hook is re-created', async (t) => {
  const { fake, alice, as, botId } = await setUp(t);
  const project = createProject(fake, { name: 'api', members: { [alice.id]: 40 } });
  const first = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(first.statusCode, 201, first.body);
  t.equal(project.members.get(botId), 30, 'the bot is a Developer');
  t.equal(project.hooks.size, 1);
  const hook = [...project.hooks.values()][0];
  t.equal(hook.url, first.json().installation.webhookUrl);
  t.ok(hook.mergeRequestsEvents && hook.noteEvents && hook.enableSslVerification);
  t.match(hook.token, /^[A-Za-z0-9_-]{43}$/);

  const again = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(again.statusCode, 200);
  t.same(again.json().repaired, []);
  t.equal(fake.counters.hooksCreated, 1, 'no second hook');

  project.hooks.clear();
  project.members.delete(botId);
  const repaired = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(repaired.statusCode, 200);
  t.same(repaired.json().repaired.sort(), ['hook', 'membership']);
  t.equal(project.hooks.size, 1);
  t.equal(project.members.get(botId), 30);
});

tap.test('a Developer cannot install (403 project_access_insufficient, nothing created); an unknown project is 404', async (t) => {
  const { fake, alice, as, botId } = await setUp(t);
  const project = createProject(fake, { name: 'dev-only', members: { [alice.id]: 30 } });
  const refused = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(refused.statusCode, 403);
  t.equal(refused.json().code, 'project_access_insufficient');
  t.match(refused.json().detail, /access level 30/, 'refused before GitLab is asked to change anything');
  t.equal(project.hooks.size, 0);
  t.notOk(project.members.has(botId));
  const missing = await as('PUT', '/repositories/9999/installation');
  t.equal(missing.json().code, 'project_not_found');
});

tap.test('GitLab refusing a local-network webhook URL is webhook_url_blocked naming the admin setting', async (t) => {
  const ready = await bootstrappedInstance(t, {}, { PUBLIC_URL: 'http://10.0.0.5:3000' });
  const alice = ready.fake.createUser({ username: 'alice' });
  const browser = new Browser();
  await login(browser, ready.app, ready.fake, ready.instance.instanceId, { gitlabUserId: alice.id });
  const project = createProject(ready.fake, { name: 'local', members: { [alice.id]: 40 } });
  const refused = await ready.app.inject({ method: 'PUT', url: `/repositories/${String(project.id)}/installation`, cookies: browser.cookieObject });
  t.equal(refused.statusCode, 422);
  t.equal(refused.json().code, 'webhook_url_blocked');
  t.match(refused.json().detail, /Outbound requests/);
});

tap.test('uninstall removes the hook and only the membership this service added', async (t) => {
  const { fake, alice, as, botId } = await setUp(t);
  const ours = createProject(fake, { name: 'ours', members: { [alice.id]: 40 } });
  const theirs = createProject(fake, { name: 'theirs', members: { [alice.id]: 40, [botId]: 40 } });
  for (const project of [ours, theirs]) t.equal((await as('PUT', `/repositories/${String(project.id)}/installation`)).statusCode, 201);
  t.equal(theirs.members.get(botId), 40, 'an existing membership is kept as it is');
  for (const project of [ours, theirs]) t.equal((await as('DELETE', `/repositories/${String(project.id)}/installation`)).statusCode, 204);
  t.equal(ours.hooks.size + theirs.hooks.size, 0);
  t.notOk(ours.members.has(botId), 'added by us: removed');
  t.equal(theirs.members.get(botId), 40, 'someone else\'s: kept');
  t.equal((await as('DELETE', `/repositories/${String(ours.id)}/installation`)).statusCode, 204, 'idempotent');
});

tap.test('listing follows GitLab pages and shows which projects are installed', async (t) => {
  const { fake, alice, as } = await setUp(t);
  for (let i = 0; i < 3; i++) createProject(fake, { name: `p${String(i)}`, members: { [alice.id]: 40 } });
  createProject(fake, { name: 'reporter', members: { [alice.id]: 20 } });
  await as('PUT', '/repositories/1/installation');
  const first = await as('GET', '/repositories?perPage=2');
  t.equal(first.statusCode, 200, first.body);
  t.equal(first.json().repositories.length, 2);
  t.equal(first.json().nextPage, 2);
  const second = await as('GET', '/repositories?perPage=2&page=2');
  t.equal(second.json().repositories.length, 1);
  t.equal(second.json().nextPage, null);
  const all = [...first.json().repositories, ...second.json().repositories];
  t.same(all.map((r: { installed: boolean }) => r.installed).filter(Boolean).length, 1);
});

tap.test('deliveries: right token stored once (GitLab retry after a lost answer too), wrong token refused; the feed in order; long-poll woken', async (t) => {
  const { app, fake, alice, as, rewrite } = await setUp(t);
  const project = createProject(fake, { name: 'hooks', members: { [alice.id]: 40 } });
  const installed = (await as('PUT', `/repositories/${String(project.id)}/installation`)).json().installation;
  const attempts = await triggerEvent(fake, project.id, 'merge_request', { object_attributes: { iid: 1 } }, rewrite);
  t.same(attempts.map((a) => a.status), [200]);

  const hook = [...project.hooks.values()][0];
  const url = `/webhooks/gitlab/${String(installed.id)}`;
  const headers = { 'content-type': 'application/json', 'x-gitlab-event': 'Note Hook', 'idempotency-key': 'key-1', 'x-gitlab-token': hook.token ?? '' };
  const firstNote = await app.inject({ method: 'POST', url, headers, payload: '{"object_kind":"note","n":1}' });
  t.same(firstNote.json(), { received: true, duplicate: false });
  const retried = await app.inject({ method: 'POST', url, headers, payload: '{"object_kind":"note","n":1}' });
  t.same(retried.json(), { received: true, duplicate: true }, 'a retry of a stored delivery (its answer lost) is acknowledged');
  const wrong = await app.inject({ method: 'POST', url, headers: { ...headers, 'idempotency-key': 'key-2', 'x-gitlab-token': 'nope' }, payload: '{"n":2}' });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, 'webhook_unauthorized');
  const text = await app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'text/plain' }, payload: 'x' });
  t.equal(text.statusCode, 415);
  const empty = await app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': undefined } });
  t.match(empty.json(), { status: 400, code: 'invalid_json' }, 'no body and no Content-Type: a problem, not a 500');

  // Waiting (answered at once when settled): on a shared server another test file's transaction may
  // hold the events back for a moment (see webhook-feed.test.ts).
  const page = await feed(app, '?limit=1&waitSeconds=60');
  t.equal(page.json().events.length, 1);
  t.equal(page.json().events[0].eventKind, 'Merge Request Hook');
  const rest = await feed(app, `?after=${String(page.json().nextCursor)}&waitSeconds=60`);
  t.same(rest.json().events.map((e: { body: { n?: number } }) => e.body.n), [1], 'the note once, after the merge request');
  const cursor = rest.json().nextCursor as string;

  // inject() starts on then(): Promise.resolve starts the request now.
  const waiting = Promise.resolve(feed(app, `?after=${cursor}&waitSeconds=60`));
  await until('a reader waits', () => app.deps.webhookFeed.waiting !== 0, { everyMs: 10, withinMs: 20_000 });
  t.equal(app.deps.webhookFeed.waiting, 1, 'the reader waits');
  await app.inject({ method: 'POST', url, headers: { ...headers, 'idempotency-key': 'key-3' }, payload: '{"n":3}' });
  // A generous bound, far below the 60 s the reader would otherwise wait.
  const woken = await settlesWithin(waiting, 'the waiting reader is woken');
  t.same(woken.json().events.map((e: { body: { n: number } }) => e.body.n), [3], 'the waiting reader gets the new event');
});

tap.test('the upkeep re-creates a deleted hook where the bot is Maintainer, else marks the installation broken; the sweep deletes old events; the instance counts them', async (t) => {
  // A database of its own: the sweep's count of old events covers the whole database.
  const { app, fake, alice, as, botId, instance, clock } = await setUp(t, UPKEEP_ENV, { ownDatabase: true });
  const maintained = createProject(fake, { name: 'bot-maintainer', members: { [alice.id]: 40, [botId]: 40 } });
  const plain = createProject(fake, { name: 'bot-developer', members: { [alice.id]: 40 } });
  for (const project of [maintained, plain]) t.equal((await as('PUT', `/repositories/${String(project.id)}/installation`)).statusCode, 201);
  maintained.hooks.clear();
  plain.members.delete(botId);
  const installationId = (await findInstallation(app.deps.db, instance.instanceId, maintained.id))!.id;
  const eventAt = (days: number) => new Date(clock.now.getTime() - days * 86_400_000);
  for (const [key, days] of [['old', 8], ['recent', 6]] as const) {
    await insertRows(app.deps.db, 'webhookEvents', { installationId, instanceId: instance.instanceId, projectId: 1, eventKind: 'Note Hook', deliveryKey: key, body: '{}', bodyBytes: 2, receivedAt: eventAt(days) });
  }

  const after = await lastRunId(app);
  const run = await sweepNow(app, instance.instanceId);
  t.equal(run.counts.hooks, '1 repaired, 1 broken', 'the instance run checked both hooks');
  t.equal(maintained.hooks.size, 1, 're-created with the bot token');
  const broken = await findInstallation(app.deps.db, instance.instanceId, plain.id);
  t.match(broken?.brokenReason, /can no longer see it|no longer a member/);
  const sweep = (await upkeepRuns(app)).find((candidate) => Number(candidate.id) > after && candidate.job === 'sweep');
  t.equal(sweep?.counts.webhookEventsDeleted, 1, 'the sweep deleted the event older than 7 days');
  const left = (await readRows(app.deps.db, 'webhookEvents')).filter((row) => ['old', 'recent'].includes(row.deliveryKey));
  t.same(left.map((row) => row.deliveryKey), ['recent'], 'the 6-day-old event is kept');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: INTERNAL_AUTH })).json();
  t.same(details.installations, { total: 2, broken: 1 }, 'the instance counts its installations and the broken one');
});

tap.test('two app instances receiving the same delivery at once store it once', async (t) => {
  const { app, fake, alice, as } = await setUp(t);
  const { app: other } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const project = createProject(fake, { name: 'twice', members: { [alice.id]: 40 } });
  const installed = (await as('PUT', `/repositories/${String(project.id)}/installation`)).json().installation;
  const token = [...project.hooks.values()][0].token ?? '';
  const post = (target: App) => target.inject({
    method: 'POST', url: `/webhooks/gitlab/${String(installed.id)}`,
    headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-event-uuid': 'e1f0c2a4-0000-4000-8000-000000000001', 'x-gitlab-token': token },
    payload: '{"object_kind":"merge_request"}',
  });
  const answers = await Promise.all([post(app), post(other), post(app), post(other)]);
  t.same(answers.map((a) => a.statusCode), [200, 200, 200, 200]);
  t.equal(answers.filter((a) => a.json().duplicate === false).length, 1, 'exactly one stored it');
  const rows = await readRows(app.deps.db, 'webhookEvents', { installationId: installed.id });
  t.equal(rows.length, 1);
});

tap.test('the feed refuses a cursor it never handed out, naming the field and what to pass instead', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await feed(app, '?after=not-a-cursor');
  t.equal(response.statusCode, 400);
  t.match(response.json(), { code: 'validation_failed', detail: /nextCursor/, errors: [{ field: 'querystring.after' }] });
});
