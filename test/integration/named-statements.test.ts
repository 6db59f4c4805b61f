// The lookup's statements are prepared by name on PostgreSQL (src/db/named-statements.ts): executed
// through one prepared statement per connection, never named inside a transaction, and run again unnamed
// when PostgreSQL refuses the statement (a pooler lost it or holds another's; a migration changed a
// column's type). Each on a pool of one connection, so that PostgreSQL's pg_prepared_statements (one
// session's statements) shows what the pool prepared.
import { hash } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import t, { type Test } from 'tap';
import { openPostgres, type Database } from '../../src/db/database.js';
import { findInstanceLookupRow } from '../../src/db/instance-lookup.repo.js';
import { createTestDatabase } from '../helpers/database.js';

const needsPostgres = { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (named statements are for PostgreSQL)' };

interface PreparedStatement {
  name: string;
  statement: string;
  executions: number;
}

/** A one-connection pool on a fresh test database holding one ready instance; `warnings`: what it logged. */
async function onePool(t: Test): Promise<{ database: Database; warnings: Record<string, unknown>[] }> {
  const test = await createTestDatabase();
  t.teardown(() => test.close());
  const warnings: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line) as Record<string, unknown>) });
  const database = openPostgres(String(test.url), log, 1);
  t.teardown(() => database.close());
  await database.db.insertInto('instances').values({ url: 'https://gitlab.example.com', status: 'ready' }).execute();
  return { database, warnings };
}

/** The statements this session prepared, with how often each ran (PostgreSQL 14+: generic + custom plans). */
async function prepared(database: Database): Promise<PreparedStatement[]> {
  const { rows } = await sql<PreparedStatement>`select name, statement, (generic_plans + custom_plans)::int as executions from pg_prepared_statements order by name`.execute(database.db);
  return rows;
}

t.test('the lookup runs through one named prepared statement per connection', needsPostgres, async (t) => {
  const { database } = await onePool(t);
  for (let i = 0; i < 3; i++) t.match(await findInstanceLookupRow(database.db, 'https://gitlab.example.com'), { status: 'ready' }, 'finds the instance');
  t.equal(await findInstanceLookupRow(database.db, 'https://unknown.example.com'), undefined, 'an unknown URL finds nothing');
  const statements = await prepared(database);
  t.equal(statements.length, 2, "prepared once each: the instance's own URL and the alias");
  const own = statements.find((statement) => statement.statement.includes('from "instances" where "url" = $1'));
  const aliased = statements.find((statement) => statement.statement.includes('from "instance_aliases"'));
  t.match(own, { name: /^gitlab_connect_[0-9a-f]{16}$/, executions: 4 }, 'every lookup executed the one prepared statement');
  t.match(aliased, { name: /^gitlab_connect_[0-9a-f]{16}$/, executions: 1 });
  t.equal(own?.name, `gitlab_connect_${hash('sha256', String(own?.statement), 'hex').slice(0, 16)}`, "named by its text's SHA-256: a session holding that name holds that statement");
});

t.test('inside a transaction the lookup is not prepared by name (a failure there could not be run again)', needsPostgres, async (t) => {
  const { database } = await onePool(t);
  const found = await database.db.transaction().execute((trx) => findInstanceLookupRow(trx, 'https://gitlab.example.com'));
  t.match(found, { status: 'ready' });
  t.same(await prepared(database), [], 'no statement prepared');
});

t.test("code that rewrites a query's text before pg sends it (tracing that appends an SQL comment) still runs the named lookup", needsPostgres, async (t) => {
  const { database } = await onePool(t);
  // What such a tracer does: wrap pg's Client#query and assign a new `text` to the config it is given.
  type Query = (this: pg.Client, config: unknown, ...rest: unknown[]) => unknown;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const original = pg.Client.prototype.query as unknown as Query;
  const traced: Query = function (config, ...rest) {
    if (config !== null && typeof config === 'object' && 'text' in config && typeof config.text === 'string') config.text = `${config.text} /* traced */`;
    return original.call(this, config, ...rest);
  };
  pg.Client.prototype.query = traced as unknown as typeof pg.Client.prototype.query;
  t.teardown(() => {
    pg.Client.prototype.query = original as unknown as typeof pg.Client.prototype.query;
  });
  t.match(await findInstanceLookupRow(database.db, 'https://gitlab.example.com'), { status: 'ready' }, 'answered');
  t.match(await prepared(database), [{ name: /^gitlab_connect_[0-9a-f]{16}$/, statement: /\/\* traced \*\/$/ }], 'prepared by name, with the text the tracer gave it');
});

/** After PostgreSQL refused a statement with `sqlState`: lookups answer, nothing is named any more, and it was said once. */
async function answersUnnamedFromNowOn(t: Test, { database, warnings }: Awaited<ReturnType<typeof onePool>>, sqlState: string): Promise<void> {
  t.match(await findInstanceLookupRow(database.db, 'https://gitlab.example.com'), { status: 'ready' }, 'answered');
  t.equal(await findInstanceLookupRow(database.db, 'https://unknown.example.com'), undefined, 'answered again');
  t.notOk((await prepared(database)).some((statement) => statement.statement.includes('instance_aliases')), 'the alias read, never run before, was not prepared: nothing is named any more');
  t.equal(warnings.length, 1, 'said once');
  t.match(warnings[0], { level: 40, sqlState, msg: /refused a prepared statement/ });
}

/** A pool whose connection has prepared the lookup; `lookupName`: the name it has there. */
async function poolAfterOneLookup(t: Test) {
  const pool = await onePool(t);
  await findInstanceLookupRow(pool.database.db, 'https://gitlab.example.com');
  const [lookupStatement] = await prepared(pool.database);
  return { pool, lookupName: lookupStatement.name };
}

t.test('when a pooler loses the prepared statement (26000) the lookup still answers, and statements run unnamed from then on', needsPostgres, async (t) => {
  const { pool } = await poolAfterOneLookup(t);
  // What a transaction pooler does: the next server connection does not hold the client's statement.
  await sql`deallocate all`.execute(pool.database.db);
  await answersUnnamedFromNowOn(t, pool, '26000');
});

t.test('when the server connection already holds a statement of that name (42P05) the lookup answers unnamed', needsPostgres, async (t) => {
  const { lookupName } = await poolAfterOneLookup(t);
  // What a transaction pooler can hand a client that never prepared it: a connection where another client did.
  const pool = await onePool(t);
  await sql.raw(`prepare "${lookupName}" as select 1`).execute(pool.database.db);
  await answersUnnamedFromNowOn(t, pool, '42P05');
});

t.test("after a migration changes the type of a column it returns (0A000) the lookup answers unnamed", needsPostgres, async (t) => {
  const { pool } = await poolAfterOneLookup(t);
  // A rolling deploy: another build's migration ran while this process held the statement.
  await sql`alter table instances alter column problem_detail type varchar(2000)`.execute(pool.database.db);
  await answersUnnamedFromNowOn(t, pool, '0A000');
});
