// The user cache (sessions for /me, users for the internal token route): answers without reading the
// database, stays coherent across two processes on one PostgreSQL (LISTEN/NOTIFY on user_changes, for
// writes to sessions, users and instances), catches up after its listener reconnects, never answers a
// kept session past its expiry, can be turned off, and on the embedded default invalidates in the process.
import pino from 'pino';
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import { buildApp, type App } from '../../src/app.js';
import { inTransaction, openPostgres, type Database } from '../../src/db/database.js';
import { revokeSessionByHash } from '../../src/db/sessions.repo.js';
import { hashSecret } from '../../src/crypto/tokens.js';
import { buildTestApp, testConfig, testFileDatabase } from '../helpers/app.js';
import { openMigratedPglite } from '../helpers/database.js';
import { FAKE_GITLAB_ENV, gitlabToken, startTestGitlab } from '../helpers/gitlab.js';
import { holdsWithin } from '../helpers/poll.js';
import { Browser, createReadyInstance, login } from '../helpers/ready-instance.js';
import { cachesServing, LIVENESS, twoProcesses, writeAnnounced, writeUnannounced } from '../helpers/replicas.js';
import { readRow, updateRows } from '../helpers/rows.js';
import { proxyDatabase } from '../helpers/tcp-proxy.js';

const serverUrl = process.env.TEST_DATABASE_URL;
const needsServer = { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' };

/** Writes outside every app: hidden (triggers off, no NOTIFY: only a read of the database sees it) or announced. */
interface Writer {
  hidden(statement: string, values: unknown[]): Promise<void>;
  announced(statement: string, values: unknown[]): Promise<void>;
}

/** A Writer on a PostgreSQL server's database (its own connection each time). */
const serverWriter = (url: string): Writer => ({
  hidden: (statement, values) => writeUnannounced(url, statement, values),
  announced: (statement, values) => writeAnnounced(url, statement, values),
});

/** A Writer on the embedded database (one connection, shared with the app: the role is set back at once). */
const embeddedWriter = (database: Database): Writer => ({
  async hidden(statement, values) {
    await sql`set session_replication_role = replica`.execute(database.db);
    try {
      await sql.raw(statement.replace('$1', `'${String(values[0])}'`)).execute(database.db);
    } finally {
      await sql`set session_replication_role = origin`.execute(database.db);
    }
  },
  announced: async (statement, values) => {
    await sql.raw(statement.replace('$1', `'${String(values[0])}'`)).execute(database.db);
  },
});

/**
 * A user logged in through `app` on a fresh fake GitLab: their session token, id and instance. The
 * instance's OAuth client then counts as verified just now (written hidden), so that no call of the
 * test claims a verification, whose announced write to the instance would drop entries at a time of its own.
 */
async function loggedInUser(t: Test, app: App, writer: Writer) {
  const fake = await startTestGitlab(t);
  const { instance } = await createReadyInstance(app, fake);
  const gitlabUser = fake.createUser({ username: `user${String(fake.users.size + 1)}` });
  const result = await login(new Browser(), app, fake, instance.id, { gitlabUserId: gitlabUser.id });
  const user = await readRow(app.deps.db, 'users', { gitlabUserId: String(gitlabUser.id), instanceId: instance.id });
  await writer.hidden('update instances set oauth_client_verified_at = now() where id = $1', [instance.id]);
  return { token: result.sessionToken!, userId: user.id, instanceId: instance.id };
}

const meStatus = async (app: App, token: string) => (await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode;
const tokenStatus = async (app: App, userId: string) => (await gitlabToken(app, userId)).statusCode;

/** A row change made hidden, so that only a read of the database sees it, and its undoing (announced). */
interface HiddenChange {
  hide: string;
  unhide: string;
  values: unknown[];
}

const revokedUnannounced = (token: string): HiddenChange => ({
  hide: 'update sessions set revoked_at = now() where token_hash = $1',
  unhide: 'update sessions set revoked_at = null where token_hash = $1',
  values: [hashSecret(token)],
});

const reauthorizationUnannounced = (userId: string): HiddenChange => ({
  hide: 'update users set reauthorization_required = true where id = $1',
  unhide: 'update users set reauthorization_required = false where id = $1',
  values: [userId],
});

/**
 * True once `read` on a process is answered 200 from its cache: the change is hidden and the answer
 * stays 200. The notifications of the set-up's own writes (bootstrap, login) arrive at a time of their
 * own and may drop a fresh entry, which the next read then fills with the hidden change; so between
 * tries the change is undone, announced (dropping that entry), and read again. Leaves the change
 * hidden: the next read of the database (after a drop) answers it.
 */
async function keptOn(writer: Writer, read: () => Promise<number>, change: HiddenChange): Promise<boolean> {
  return holdsWithin(async () => {
    const before = await read();
    await writer.hidden(change.hide, change.values);
    if (before === 200 && (await read()) === 200) return true;
    await writer.announced(change.unhide, change.values);
    return false;
  }, LIVENESS);
}

t.test('process B answers /me from its cache, and a session revoked on process A reaches it by the notification', needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t, FAKE_GITLAB_ENV);
  const { token } = await loggedInUser(t, a, serverWriter(url));
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(serverWriter(url), () => meStatus(b, token), revoked), 'an unannounced revocation is not seen: B answers from its cache');
  // Undone as hidden: a revocation of a session already revoked is not announced (nothing cached could show it).
  await writeUnannounced(url, revoked.unhide, revoked.values);

  await updateRows(a.deps.db, 'sessions', { tokenHash: hashSecret(token) }, { revokedAt: new Date() });
  t.ok(await holdsWithin(async () => (await meStatus(b, token)) === 401, LIVENESS), 'B refuses the session once A revoked it');
});

t.test("a write on A to a session's user, or to its instance, drops the session kept on B", needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t, FAKE_GITLAB_ENV);
  const { token, userId, instanceId } = await loggedInUser(t, a, serverWriter(url));
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(serverWriter(url), () => meStatus(b, token), revoked), 'kept on B');
  await updateRows(a.deps.db, 'users', { id: userId }, { name: 'Renamed' });
  t.ok(await holdsWithin(async () => (await meStatus(b, token)) === 401, LIVENESS), 'the write to the user dropped it: B read the revocation');

  await writeUnannounced(url, revoked.unhide, revoked.values);
  t.ok(await keptOn(serverWriter(url), () => meStatus(b, token), revoked), 'kept on B again');
  await updateRows(a.deps.db, 'instances', { id: instanceId }, { oauthClientVerifiedAt: new Date() });
  t.ok(await holdsWithin(async () => (await meStatus(b, token)) === 401, LIVENESS), 'the write to the instance dropped it');
});

t.test("process B serves a user's token from its cache until A's write of the user is announced, whatever the id's case", needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t, FAKE_GITLAB_ENV);
  const { userId } = await loggedInUser(t, a, serverWriter(url));
  // The route takes a uuid in capitals too; the trigger announces it in PostgreSQL's lowercase.
  const asCalled = userId.toUpperCase();
  t.ok(await keptOn(serverWriter(url), () => tokenStatus(b, asCalled), reauthorizationUnannounced(userId)), 'an unannounced write is not seen: B answers from its cache');

  await updateRows(a.deps.db, 'users', { id: userId }, { name: 'Renamed' });
  t.ok(await holdsWithin(async () => (await tokenStatus(b, asCalled)) === 409, LIVENESS), 'B answers 409 reauthorization_required once A wrote the user');
});

t.test("a write on A to the user's instance drops the user kept on B", needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t, FAKE_GITLAB_ENV);
  const { userId, instanceId } = await loggedInUser(t, a, serverWriter(url));
  t.ok(await keptOn(serverWriter(url), () => tokenStatus(b, userId), reauthorizationUnannounced(userId)), 'kept on B');
  await updateRows(a.deps.db, 'instances', { id: instanceId }, { oauthClientVerifiedAt: new Date() });
  t.ok(await holdsWithin(async () => (await tokenStatus(b, userId)) === 409, LIVENESS), 'B answers 409 once the instance changed');
});

t.test('after its listener reconnects, B drops what it kept before (a revocation missed meanwhile is caught up)', needsServer, async (t) => {
  const { proxy, url: viaProxy } = await proxyDatabase((await testFileDatabase()).url!);
  t.teardown(() => proxy.close());
  const { a, b, url } = await twoProcesses(t, FAKE_GITLAB_ENV, { databaseUrlOfB: viaProxy });
  const { token } = await loggedInUser(t, a, serverWriter(url));
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(serverWriter(url), () => meStatus(b, token), revoked), 'kept on B');
  await writeUnannounced(url, revoked.unhide, revoked.values);

  await proxy.stop();
  t.ok(await holdsWithin(() => !b.deps.userCache.serving, LIVENESS), 'B notices that its listener lost the connection');
  await updateRows(a.deps.db, 'sessions', { tokenHash: hashSecret(token) }, { revokedAt: new Date() });
  await proxy.start();
  t.ok(await holdsWithin(() => b.deps.userCache.serving, LIVENESS), 'B listens again');
  t.equal(await meStatus(b, token), 401, 'the revocation announced while B was deaf is answered');
});

t.test('a kept session is not answered once it has expired, though no write announced anything', needsServer, async (t) => {
  const clock = { now: new Date() };
  const { app, testDatabase } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, SESSION_TTL_HOURS: '1' }, { clock: () => clock.now });
  t.ok(await holdsWithin(() => cachesServing(app), LIVENESS), 'the cache listens');
  const writer = serverWriter(testDatabase.url!);
  const { token } = await loggedInUser(t, app, writer);
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(writer, () => meStatus(app, token), revoked), 'kept');
  await writer.hidden(revoked.unhide, revoked.values);
  clock.now = new Date(clock.now.getTime() + 3_600_000 + 1);
  t.equal(await meStatus(app, token), 401, 'expired: refused');
});

/**
 * An app whose pool reaches the database directly and whose listeners go through a proxy the test can
 * stall (while stalled a listener hears nothing and still counts as listening, until its heartbeat,
 * 5 s), with a user logged in and their session kept.
 */
async function stallableListener(t: Test) {
  const { url } = await testFileDatabase();
  const { proxy, url: viaProxy } = await proxyDatabase(url!);
  const quiet = pino({ level: 'silent' });
  const database = { ...openPostgres(url!, quiet), connectionString: viaProxy };
  const app = await buildApp(testConfig(FAKE_GITLAB_ENV), { database, logger: quiet });
  t.teardown(async () => {
    await app.close();
    await database.close();
    await proxy.close();
  });
  t.ok(await holdsWithin(() => cachesServing(app), LIVENESS), 'the cache listens');
  const writer = serverWriter(url!);
  const { token } = await loggedInUser(t, app, writer);
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(writer, () => meStatus(app, token), revoked), 'kept');
  await writer.hidden(revoked.unhide, revoked.values);
  return { app, proxy, token };
}

t.test('a write through the process itself is answered by its very next call, before any notification (read-your-writes)', needsServer, async (t) => {
  const { app, proxy, token } = await stallableListener(t);
  proxy.stall();
  const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: `Bearer ${token}` } });
  t.equal(logout.statusCode, 204);
  t.equal(await meStatus(app, token), 401, 'the logout is answered at once');
  t.ok(app.deps.userCache.serving, 'by the cache: its listener, stalled, heard nothing');
});

t.test("a read between a transaction's write and its commit is not answered after the commit", needsServer, async (t) => {
  const { app, proxy, token } = await stallableListener(t);
  proxy.stall();
  await inTransaction(app.deps.db, async (trx) => {
    await revokeSessionByHash(trx, hashSecret(token), new Date());
    t.equal(await meStatus(app, token), 200, 'before the commit another connection still reads the session live');
  });
  t.equal(await meStatus(app, token), 401, 'the commit dropped what that read kept');
  t.ok(app.deps.userCache.serving, 'by the cache: its listener, stalled, heard nothing');
});

t.test('USER_CACHE_SIZE=0 reads the database on every call', needsServer, async (t) => {
  const { a, b, url } = await twoProcesses(t, { ...FAKE_GITLAB_ENV, USER_CACHE_SIZE: '0' });
  t.equal(b.deps.userCache.serving, false, 'nothing is served from a cache');
  const { token } = await loggedInUser(t, a, serverWriter(url));
  t.equal(await meStatus(b, token), 200);
  await writeUnannounced(url, 'update sessions set revoked_at = now() where token_hash = $1', [hashSecret(token)]);
  t.equal(await meStatus(b, token), 401, 'even an unannounced write is seen at once');
});

t.test('on the embedded default a revocation written outside the app is seen by the next calls in the process', async (t) => {
  const database = await openMigratedPglite();
  const app = await buildApp(testConfig(FAKE_GITLAB_ENV), { database, logger: pino({ level: 'silent' }) });
  t.teardown(async () => {
    await app.close();
    await database.close();
  });
  t.ok(await holdsWithin(() => app.deps.userCache.serving, LIVENESS), 'the in-process listener is on');
  const writer = embeddedWriter(database);
  const { token } = await loggedInUser(t, app, writer);
  const revoked = revokedUnannounced(token);
  t.ok(await keptOn(writer, () => meStatus(app, token), revoked), 'kept: a hidden revocation is not seen');
  // Written on the database handle, not through the app: only the trigger's NOTIFY can tell the cache.
  await updateRows(database.db, 'users', { id: (await readRow(database.db, 'sessions', { tokenHash: hashSecret(token) })).userId }, { name: 'Renamed' });
  t.ok(await holdsWithin(async () => (await meStatus(app, token)) === 401, LIVENESS), 'the announced write dropped it');
});
