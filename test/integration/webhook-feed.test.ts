// The feed's long-poll at its edges. A new event hidden behind an older transaction still running (the
// feed hands out only rows of transactions older than every running one): the reader woken by the store
// reads nothing yet, and no notification comes when the older transaction ends, so the reader must look
// again by itself (PostgreSQL only: the older transaction runs on a connection of its own). And a reader
// waiting when the app closes is answered at once.
import pg from 'pg';
import type { LightMyRequestResponse } from 'fastify';
import t from 'tap';
import type { App } from '../../src/app.js';
import { createProject } from '../fake-gitlab/index.js';
import { buildTestApp, testFileDatabase } from '../helpers/app.js';
import { INTERNAL_AUTH } from '../helpers/gitlab.js';
import { loggedInMaintainer } from '../helpers/maintainer.js';
import { settlesWithin, until } from '../helpers/poll.js';

const needsPostgres = { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' };

/** Polling bounds: every 10 ms, for at most 20 s (a generous bound, no timing asserted). */
const POLL = { everyMs: 10, withinMs: 20_000 };

/**
 * A reader long-polling the feed after the events already in the database (other tests leave some), and
 * the cursor it starts from (null: none yet); resolves once it waits.
 */
async function waitingReader(app: App): Promise<{ tail: string | null; answer: Promise<LightMyRequestResponse> }> {
  const tail = (await app.inject({ method: 'GET', url: '/internal/webhook-events', headers: INTERNAL_AUTH })).json().nextCursor as string | null;
  const answer = Promise.resolve(app.inject({ method: 'GET', url: `/internal/webhook-events?waitSeconds=60${tail === null ? '' : `&after=${tail}`}`, headers: INTERNAL_AUTH }));
  await until('the reader waits', () => app.deps.webhookFeed.waiting === 1, POLL);
  return { tail, answer };
}

t.test('a reader woken while an older transaction hides the new event gets it once that transaction ends, long before its wait is up', needsPostgres, async (t) => {
  const { app, fake, alice, as } = await loggedInMaintainer(t);
  const project = createProject(fake, { name: 'horizon', members: { [alice.id]: 40 } });
  const installed = await as('PUT', `/repositories/${String(project.id)}/installation`);
  t.equal(installed.statusCode, 201, installed.body);
  const installationId = (installed.json().installation as { id: string }).id;
  const token = [...project.hooks.values()][0].token ?? '';

  const { url } = await testFileDatabase();
  const older = new pg.Client({ connectionString: url });
  await older.connect();
  t.teardown(() => older.end());
  await older.query('begin');
  await older.query('select pg_current_xact_id()');

  const { answer: waiting } = await waitingReader(app);
  const before = app.deps.webhookFeed.generation;
  const stored = await app.inject({
    method: 'POST',
    url: `/webhooks/gitlab/${installationId}`,
    headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook', 'idempotency-key': 'horizon-1', 'x-gitlab-token': token },
    payload: '{"object_kind":"merge_request","n":1}',
  });
  t.same(stored.json(), { received: true, duplicate: false });
  // Woken by the store and by its NOTIFY, the reader read nothing visible and waits again.
  await until('the reader, woken twice, waits again', () => app.deps.webhookFeed.generation >= before + 2 && app.deps.webhookFeed.waiting === 1, POLL);
  await older.query('commit');

  // A generous bound, far below the 60 s the reader would otherwise wait.
  const answer = await settlesWithin(waiting, 'the reader gets the event once the older transaction ended');
  // Only this installation's events: the tail was read while transactions elsewhere on the shared server
  // could hide an earlier test's event, which the reader may now be handed before ours (fresh-clone CI run L).
  const ours = answer.json().events.filter((event: { installationId: string }) => event.installationId === installationId);
  t.same(ours.map((event: { body: { n: number } }) => event.body.n), [1], 'the reader gets the event');
});

t.test('a reader waiting when the app closes is answered at once, with no events', async (t) => {
  const { app } = await buildTestApp(t);
  const { tail, answer: waiting } = await waitingReader(app);
  const closing = app.close();
  const answer = await settlesWithin(waiting, 'the waiting reader is answered when the app closes');
  t.equal(answer.statusCode, 200);
  t.same(answer.json(), { events: [], nextCursor: tail });
  await closing;
});
