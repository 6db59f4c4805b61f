// Database faults made by the test through a TCP proxy in front of PostgreSQL (never the shared server
// itself): every route that needs the database answers 503 database_unavailable with Retry-After while
// it is unreachable, reset or silent, /readyz stays bounded, and both recover without a restart.
import type { InjectOptions } from 'fastify';
import t, { type Test } from 'tap';
import pino from 'pino';
import { sql } from 'kysely';
import { isDatabaseUnavailable, openPostgres } from '../../src/db/database.js';
import { buildAppBehindProxy, TEST_INTERNAL_TOKEN, testFileDatabase } from '../helpers/app.js';

const internal = { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` };
const session = { authorization: `Bearer ${'a'.repeat(43)}` };
const json = { 'content-type': 'application/json' };
const someId = '0b7e0c52-4a8f-4d7e-9a40-6f3d2e1c9b11';

/** One request per route that reads or writes the database before anything else. */
const routesNeedingTheDatabase: (InjectOptions & { method: string; url: string })[] = [
  // Not looked up before the fault: a URL this process has cached may be answered from its lookup cache.
  { method: 'GET', url: '/instances/lookup?url=never-looked-up.example.com' },
  { method: 'POST', url: '/instances/bootstrap', headers: json, payload: { url: 'https://gitlab.example.com', adminToken: 'glpat-aaaaaaaaaaaaaaaaaaaa' } },
  { method: 'GET', url: `/auth/gitlab/start?instance=${someId}` },
  { method: 'GET', url: '/me', headers: session },
  { method: 'POST', url: '/auth/logout', headers: session },
  { method: 'GET', url: '/internal/instances', headers: internal },
  { method: 'GET', url: `/internal/instances/${someId}`, headers: internal },
  { method: 'GET', url: `/internal/instances/${someId}/events`, headers: internal },
  { method: 'POST', url: `/internal/instances/${someId}/bot-token`, headers: internal },
  { method: 'DELETE', url: `/internal/instances/${someId}`, headers: internal },
  { method: 'POST', url: `/internal/users/${someId}/gitlab-token`, headers: internal },
];

const serverUrl = process.env.TEST_DATABASE_URL;
const needsPostgres = { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server behind a proxy)' };

/** The app on the test file's database, reached through a proxy the test controls. */
function appBehindProxy(t: Test, statementTimeoutMs = 10_000) {
  return buildAppBehindProxy(t, { maxConnections: 2, statementTimeoutMs });
}

async function expectDatabaseUnavailable(t: Test, app: Awaited<ReturnType<typeof appBehindProxy>>['app']) {
  for (const route of routesNeedingTheDatabase) {
    const response = await app.inject(route);
    const name = `${route.method} ${route.url.split('?')[0]}`;
    t.equal(response.statusCode, 503, `${name} answers 503`);
    t.match(response.headers['content-type'], /^application\/problem\+json/, `${name} is a problem`);
    t.match(response.json(), { code: 'database_unavailable', status: 503, retryAfter: Number }, `${name} says database_unavailable`);
    t.match(response.headers['retry-after'], /^\d+$/, `${name} carries Retry-After`);
  }
}

t.test('while the database is unreachable every route that needs it answers 503 database_unavailable with Retry-After', needsPostgres, async (t) => {
  const { app, proxy } = await appBehindProxy(t);
  t.equal((await app.inject('/instances/lookup?url=gitlab.example.com')).statusCode, 200, 'serves through the proxy');
  await proxy.stop();
  await expectDatabaseUnavailable(t, app);
  t.equal((await app.inject('/healthz')).statusCode, 200, 'liveness does not depend on the database');
  await proxy.start();
  t.equal((await app.inject('/instances/lookup?url=gitlab.example.com')).statusCode, 200, 'recovers without a restart');
});

t.test('connections reset by the network answer 503 database_unavailable, not 500', needsPostgres, async (t) => {
  const { app, proxy } = await appBehindProxy(t);
  t.equal((await app.inject('/instances/lookup?url=gitlab.example.com')).statusCode, 200);
  proxy.reset();
  await expectDatabaseUnavailable(t, app);
  proxy.forward();
  t.equal((await app.inject('/instances/lookup?url=gitlab.example.com')).statusCode, 200, 'recovers without a restart');
});

t.test('readyz answers 503 not_ready on a database that goes silent (a partition without resets), however long queries may run', needsPostgres, async (t) => {
  // Queries may run for 10 minutes here: only readiness's own bound can end the probe before tap's timeout.
  const { app, proxy } = await appBehindProxy(t, 600_000);
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready through the proxy');
  proxy.stall();
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 503, 'readiness gives up instead of hanging');
  t.match(ready.json(), { code: 'not_ready' });
});

t.test('a query on a silent database ends in 503 database_unavailable (the client-side query timeout)', needsPostgres, async (t) => {
  // A short statement timeout makes the client-side query timeout (2 s later) short enough for a test.
  const { app, proxy } = await appBehindProxy(t, 200);
  t.equal((await app.inject('/instances/lookup?url=gitlab.example.com')).statusCode, 200, 'serves through the proxy');
  proxy.stall();
  // A URL not in this process's lookup cache, so the lookup has to ask the database.
  const lookup = await app.inject('/instances/lookup?url=never-looked-up.example.com');
  t.equal(lookup.statusCode, 503, 'a query on a silent connection ends');
  t.match(lookup.json(), { code: 'database_unavailable' });
});

t.test('PostgreSQL cancels a statement that runs past DATABASE_STATEMENT_TIMEOUT_MS, and that counts as unavailable', needsPostgres, async (t) => {
  const { url } = await testFileDatabase();
  const database = openPostgres(url!, pino({ level: 'silent' }), 1, { statementTimeoutMs: 100 });
  t.teardown(() => database.close());
  const error = await sql`select pg_sleep(5)`.execute(database.db).then(() => undefined, (caught: unknown) => caught);
  t.match(error, { code: '57014' }, 'query_canceled by statement_timeout');
  t.ok(isDatabaseUnavailable(error));
});
