// GET /readyz alone on a bare Fastify (the route, the error plugin, stub dependencies): a process that
// is shutting down answers 503 not_ready without asking the database, and a database that fails the
// probe makes it 503 not_ready. Through the whole app the first needs a signalled child process and the
// second a database the test can break (PostgreSQL behind a proxy, not the embedded PGlite).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import pino from 'pino';
import t, { type Test } from 'tap';
import type { DB } from '../../src/db/types.js';
import errorsPlugin from '../../src/plugins/errors.js';
import { createLifecycle } from '../../src/plugins/lifecycle.js';
import healthRoutes from '../../src/routes/health.js';
import { Problem } from '../../src/schemas/problem.js';
import type { ServiceDeps } from '../../src/services/deps.js';

/** A Kysely whose every query `answer` settles; `queries` lists the SQL it was asked. */
function stubDatabase(answer: () => Promise<QueryResult<unknown>>) {
  const queries: string[] = [];
  const connection: DatabaseConnection = {
    executeQuery: <R>(query: { sql: string }) => {
      queries.push(query.sql);
      return answer() as Promise<QueryResult<R>>;
    },
    streamQuery: () => { throw new Error('not stubbed'); },
  };
  const done = () => Promise.resolve();
  const driver: Driver = { init: done, acquireConnection: () => Promise.resolve(connection), beginTransaction: done, commitTransaction: done, rollbackTransaction: done, releaseConnection: done, destroy: done };
  const db = new Kysely<DB>({
    dialect: { createAdapter: () => new PostgresAdapter(), createDriver: () => driver, createIntrospector: (kysely) => new PostgresIntrospector(kysely), createQueryCompiler: () => new PostgresQueryCompiler() },
  });
  return { db, queries };
}

/** The health routes and the error plugin on a bare Fastify; `deps` holds only the database readiness reads. */
async function readinessApp(t: Test, db: Kysely<DB>, options: { draining: boolean }) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const app = Fastify({ loggerInstance: logger }).withTypeProvider<TypeBoxTypeProvider>();
  const lifecycle = createLifecycle();
  if (options.draining) lifecycle.startDraining();
  app.decorate('deps', { db } as Partial<ServiceDeps> as ServiceDeps);
  app.decorate('lifecycle', lifecycle);
  app.addSchema(Problem);
  await app.register(errorsPlugin);
  await app.register(healthRoutes);
  t.teardown(() => app.close());
  return { app, lines };
}

const answered = () => Promise.resolve({ rows: [{ '?column?': 1 }] });

t.test('a database that answers: 200 ready', async (t) => {
  const { db, queries } = stubDatabase(answered);
  const { app } = await readinessApp(t, db, { draining: false });
  const response = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json(), { status: 'ready' });
  t.same(queries, ['select 1'], 'one probe query');
});

t.test('a process shutting down answers 503 not_ready without asking the database', async (t) => {
  const { db, queries } = stubDatabase(answered);
  const { app } = await readinessApp(t, db, { draining: true });
  const response = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(response.statusCode, 503, response.body);
  t.match(response.headers['content-type'], /^application\/problem\+json/);
  t.match(response.json(), { code: 'not_ready', status: 503, detail: /^The service is shutting down/ });
  t.same(queries, [], 'no query');
});

t.test('a database that fails the probe (admin shutdown, 57P01): 503 not_ready, and the cause logged', async (t) => {
  const { db, queries } = stubDatabase(() => Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  const { app, lines } = await readinessApp(t, db, { draining: false });
  const response = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(response.statusCode, 503, response.body);
  t.match(response.json(), { code: 'not_ready', status: 503, detail: /^The database cannot be reached/ });
  t.same(queries, ['select 1'], 'the probe was asked');
  const logged = lines.filter((line) => line.msg === 'database unreachable');
  t.equal(logged.length, 1, 'logged once');
  t.match(logged[0], { level: 40, err: { code: '57P01' } }, 'as a warning, with the database error');
});
