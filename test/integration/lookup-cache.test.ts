// The lookup cache: answers without reading the database, stays coherent across two processes on one
// PostgreSQL (LISTEN/NOTIFY), catches up after its listener reconnects, stays bounded (LRU), and on the
// embedded default invalidates inside the process.
import pino from 'pino';
import t from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { testConfig, testFileDatabase } from '../helpers/app.js';
import { openMigratedPglite } from '../helpers/database.js';
import { holdsWithin } from '../helpers/poll.js';
import { LIVENESS, twoProcesses, writeUnannounced } from '../helpers/replicas.js';
import { insertRows, updateRows } from '../helpers/rows.js';
import { proxyDatabase } from '../helpers/tcp-proxy.js';

const serverUrl = process.env.TEST_DATABASE_URL;
const needsServer = { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' };
const quiet = pino({ level: 'silent' });

async function statusOf(app: App, url: string): Promise<string> {
  const response = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url } });
  return response.json<{ status: string }>().status;
}

t.test('process B answers from its cache, and a status written on process A reaches it by the notification', needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t);
  // Unannounced, so no late notification of the insert can drop B's entry behind the test's back.
  await writeUnannounced(url, `insert into instances (url, status, bootstrap_lease_until) values ($1, 'bootstrapping', now() + interval '10 minutes')`, ['https://cached.example.com']);
  t.equal(await statusOf(b, 'cached.example.com'), 'bootstrapping');

  await writeUnannounced(url, `update instances set status = 'failed' where url = $1`, ['https://cached.example.com']);
  t.equal(await statusOf(b, 'cached.example.com'), 'bootstrapping', 'an unannounced write is not seen: B answered from its cache');

  await updateRows(a.deps.db, 'instances', { url: 'https://cached.example.com' }, { status: 'ready' });
  t.ok(await holdsWithin(async () => (await statusOf(b, 'cached.example.com')) === 'ready', LIVENESS), 'B answers ready once A wrote it');
});

t.test('an unknown URL is cached as unknown on B until a write to it is announced', needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t);
  t.equal(await statusOf(b, 'later.example.com'), 'unregistered');
  await writeUnannounced(url, `insert into instances (url, status) values ($1, 'failed')`, ['https://later.example.com']);
  t.equal(await statusOf(b, 'later.example.com'), 'unregistered', 'B answered from its negative entry');

  await updateRows(a.deps.db, 'instances', { url: 'https://later.example.com' }, { status: 'ready' });
  t.ok(await holdsWithin(async () => (await statusOf(b, 'later.example.com')) === 'ready', LIVENESS), 'the announced write drops the negative entry');
});

t.test('the cache keeps at most LOOKUP_CACHE_SIZE URLs, the least recently used going first', needsServer, async (t) => {
  const { b, url } = await twoProcesses(t, { LOOKUP_CACHE_SIZE: '2' });
  for (const host of ['one', 'two', 'three']) t.equal(await statusOf(b, `${host}.example.com`), 'unregistered');
  await writeUnannounced(url, `insert into instances (url, status) values ($1, 'ready'), ($2, 'ready')`, ['https://one.example.com', 'https://three.example.com']);
  t.equal(await statusOf(b, 'one.example.com'), 'ready', 'the oldest entry was evicted: read again from the database');
  t.equal(await statusOf(b, 'three.example.com'), 'unregistered', 'the newest entry is still served from the cache');
});

t.test('after its listener reconnects, B drops what it cached before (a missed notification is caught up)', needsServer, async (t) => {
  const { proxy, url: viaProxy } = await proxyDatabase((await testFileDatabase()).url!);
  t.teardown(() => proxy.close());
  const { a, b, url } = await twoProcesses(t, {}, { databaseUrlOfB: viaProxy });
  // Unannounced, so no late notification of the insert can drop B's entry behind the test's back.
  await writeUnannounced(url, `insert into instances (url, status) values ($1, 'ready')`, ['https://flaky.example.com']);
  t.equal(await statusOf(b, 'flaky.example.com'), 'ready', 'cached on B');

  await proxy.stop();
  t.ok(await holdsWithin(() => !b.deps.instanceLookups.serving, LIVENESS), 'B notices that its listener lost the connection');
  await updateRows(a.deps.db, 'instances', { url: 'https://flaky.example.com' }, { status: 'failed' });
  await proxy.start();
  t.ok(await holdsWithin(() => b.deps.instanceLookups.serving, LIVENESS), 'B listens again');
  t.equal(await statusOf(b, 'flaky.example.com'), 'failed', 'the change made while B was deaf is answered');
});

t.test('on the embedded default a write is seen by the next lookups in the process', async (t) => {
  const database = await openMigratedPglite();
  const app = await buildApp(testConfig(), { database, logger: quiet });
  t.teardown(async () => {
    await app.close();
    await database.close();
  });
  t.ok(await holdsWithin(() => app.deps.instanceLookups.serving, LIVENESS), 'the in-process listener is on');
  t.equal(await statusOf(app, 'embedded.example.com'), 'unregistered');
  // Written on the database handle, not through the app: only the trigger's NOTIFY can tell the cache.
  await insertRows(database.db, 'instances', { url: 'https://embedded.example.com', status: 'ready' });
  t.ok(await holdsWithin(async () => (await statusOf(app, 'embedded.example.com')) === 'ready', LIVENESS));
});
