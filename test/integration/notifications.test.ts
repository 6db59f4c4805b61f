// The process's notification listener (src/db/notifications.ts) on PostgreSQL: one connection carries
// every channel (a replica holds one LISTEN connection, not one per cache), a channel subscribed once
// that connection is live is heard too, each notification reaches its own channel's handlers only, a
// lost connection makes every channel deaf and then listening again, a handler that throws disturbs no
// other (on the embedded default too), and a channel name PostgreSQL would fold, or a second subscriber,
// is refused.
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import t, { type Test } from 'tap';
import { createNotificationListener, LISTENER_APPLICATION_NAME, type ChangeHandlers, type NotificationListener } from '../../src/db/notifications.js';
import { openPostgres } from '../../src/db/database.js';
import { createTestDatabase, openMigratedPglite } from '../helpers/database.js';
import { holdsWithin } from '../helpers/poll.js';
import { LIVENESS, twoProcesses } from '../helpers/replicas.js';

const serverUrl = process.env.TEST_DATABASE_URL;
const needsServer = { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' };
const quiet = pino({ level: 'silent' });

/** Runs `text` on its own connection to `url`. */
async function run(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** How many connections to this database the listeners hold (pg_stat_activity.application_name). */
async function listenerConnections(url: string): Promise<number> {
  const { rows } = await run(url, `select count(*)::int as count from pg_stat_activity where datname = current_database() and application_name = '${LISTENER_APPLICATION_NAME}'`);
  return (rows[0] as { count: number }).count;
}

/** Handlers that record what they hear, and how often they were told they listen and are deaf. */
function recorder() {
  const heard: string[] = [];
  const told = { listening: 0, deaf: 0 };
  const handlers: ChangeHandlers = {
    changed: (payload) => { heard.push(payload); },
    listening: () => { told.listening++; },
    deaf: () => { told.deaf++; },
  };
  return { handlers, heard, told, isListening: () => told.listening > 0 };
}

/** Handlers whose `changed()` and `listening()` throw. */
function throwingHandlers(): ChangeHandlers {
  return {
    changed: () => { throw new Error('changed threw'); },
    listening: () => { throw new Error('listening threw'); },
    deaf: () => undefined,
  };
}

/** A listener on a fresh database of the test's own, closed with the test. */
async function listenerOnOwnDatabase(t: Test): Promise<{ listener: NotificationListener; url: string }> {
  const testDatabase = await createTestDatabase();
  const url = testDatabase.url!;
  const database = openPostgres(url, quiet);
  const listener = createNotificationListener(database, quiet, { heartbeatMs: 5000, maxBackoffMs: 5000 });
  t.teardown(async () => {
    await listener.close();
    await database.close();
    await testDatabase.close();
  });
  return { listener, url };
}

/** A listener on a database of the test's own with `channel_one` and `channel_two` subscribed, once both listen. */
async function twoChannelsListening(t: Test) {
  const { listener, url } = await listenerOnOwnDatabase(t);
  const first = recorder();
  const second = recorder();
  listener.listen('channel_one', first.handlers);
  listener.listen('channel_two', second.handlers);
  t.ok(await holdsWithin(() => first.isListening() && second.isListening(), LIVENESS), 'both channels listen');
  return { url, first, second };
}

t.test('one connection listens on every channel, and each notification reaches its own channel only', needsServer, async (t) => {
  const { url, first, second } = await twoChannelsListening(t);
  t.equal(await listenerConnections(url), 1, 'over one connection');

  await run(url, `select pg_notify('channel_two', 'to two'), pg_notify('channel_one', 'to one')`);
  t.ok(await holdsWithin(() => first.heard.length > 0 && second.heard.length > 0, LIVENESS), 'both heard');
  t.same(first.heard, ['to one']);
  t.same(second.heard, ['to two']);
});

t.test('a channel listened to once the connection is live is heard too', needsServer, async (t) => {
  const { listener, url } = await listenerOnOwnDatabase(t);
  const early = recorder();
  listener.listen('early_channel', early.handlers);
  t.ok(await holdsWithin(early.isListening, LIVENESS), 'the first channel listens');
  const late = recorder();
  listener.listen('late_channel', late.handlers);
  t.ok(await holdsWithin(late.isListening, LIVENESS), 'the later channel listens');
  await run(url, `select pg_notify('late_channel', 'late')`);
  t.ok(await holdsWithin(() => late.heard.length > 0, LIVENESS), 'and hears');
  t.same(late.heard, ['late']);
  t.equal(await listenerConnections(url), 1, 'on the same connection');
});

t.test('a replica holds one listening connection for its lookup cache, user cache and webhook feed', needsServer, async (t) => {
  const { url } = await twoProcesses(t);
  // Earlier tests' apps may still be leaving: the count settles at one per process.
  t.ok(await holdsWithin(async () => (await listenerConnections(url)) === 2, LIVENESS), 'two processes, two listening connections');
});

t.test('a lost connection makes every channel deaf, then every channel listens again and hears', needsServer, async (t) => {
  const { url, first, second } = await twoChannelsListening(t);

  await run(url, `select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = '${LISTENER_APPLICATION_NAME}'`);
  t.ok(await holdsWithin(() => first.told.deaf > 0 && second.told.deaf > 0, LIVENESS), 'both told they are deaf');
  t.ok(await holdsWithin(() => first.told.listening > 1 && second.told.listening > 1, LIVENESS), 'both listen again');
  await run(url, `select pg_notify('channel_one', 'one again'), pg_notify('channel_two', 'two again')`);
  t.ok(await holdsWithin(() => first.heard.length > 0 && second.heard.length > 0, LIVENESS), 'and hear');
  t.same([first.heard, second.heard], [['one again'], ['two again']]);
});

t.test('a handler that throws keeps no other channel from listening or hearing', needsServer, async (t) => {
  const { listener, url } = await listenerOnOwnDatabase(t);
  const other = recorder();
  listener.listen('channel_one', throwingHandlers());
  listener.listen('channel_two', other.handlers);
  t.ok(await holdsWithin(other.isListening, LIVENESS), 'the other channel listens');
  await run(url, `select pg_notify('channel_one', 'to the thrower'), pg_notify('channel_two', 'to the other')`);
  t.ok(await holdsWithin(() => other.heard.length > 0, LIVENESS), 'and hears');
  t.same(other.heard, ['to the other']);
});

t.test('a channel name PostgreSQL would fold or truncate, and a second subscriber of a channel, are refused', needsServer, async (t) => {
  const { listener } = await listenerOnOwnDatabase(t);
  for (const name of ['MixedCase', 'bad name', 'drop;table', '1starts_with_a_digit', 'x'.repeat(64), '']) {
    t.throws(() => listener.listen(name, recorder().handlers), /not a lowercase identifier/, JSON.stringify(name));
  }
  listener.listen('taken', recorder().handlers);
  t.throws(() => listener.listen('taken', recorder().handlers), /already has a subscriber/);
});

t.test('the embedded default refuses the same names and a second subscriber', async (t) => {
  const database = await openMigratedPglite();
  t.teardown(() => database.close());
  const listener = createNotificationListener(database, quiet, { heartbeatMs: 5000, maxBackoffMs: 5000 });
  t.throws(() => listener.listen('MixedCase', recorder().handlers), /not a lowercase identifier/);
  const stop = listener.listen('taken', recorder().handlers);
  t.throws(() => listener.listen('taken', recorder().handlers), /already has a subscriber/);
  await stop();
  t.doesNotThrow(() => listener.listen('taken', recorder().handlers), 'free again once its subscriber stopped');
});

t.test('on the embedded default a handler that throws keeps no other channel from listening or hearing', async (t) => {
  const database = await openMigratedPglite();
  t.teardown(() => database.close());
  const listener = createNotificationListener(database, quiet, { heartbeatMs: 5000, maxBackoffMs: 5000 });
  listener.listen('channel_one', throwingHandlers());
  const other = recorder();
  listener.listen('channel_two', other.handlers);
  t.ok(await holdsWithin(other.isListening, LIVENESS), 'the other channel listens');
  await sql`select pg_notify('channel_one', 'to the thrower'), pg_notify('channel_two', 'to the other')`.execute(database.db);
  t.ok(await holdsWithin(() => other.heard.length > 0, LIVENESS), 'and hears');
  t.same(other.heard, ['to the other']);
});
