// The lookup's statements are prepared by name on PostgreSQL (src/db/named-statements.ts): executed
// through one prepared statement per connection, never named inside a transaction, and run again unnamed
// when a pooler between loses the statement. Each on a pool of one connection, so that PostgreSQL's
// pg_prepared_statements (one session's statements) shows what the pool prepared.
import { sql } from 'kysely';
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
  t.match(statements[0], { name: /^gitlab_connect_\d+$/, statement: /from "instances" where "url" = \$1/, executions: 4 }, 'every lookup executed the one prepared statement');
  t.match(statements[1], { name: /^gitlab_connect_\d+$/, statement: /from "instance_aliases"/, executions: 1 });
});

t.test('inside a transaction the lookup is not prepared by name (a failure there could not be run again)', needsPostgres, async (t) => {
  const { database } = await onePool(t);
  const found = await database.db.transaction().execute((trx) => findInstanceLookupRow(trx, 'https://gitlab.example.com'));
  t.match(found, { status: 'ready' });
  t.same(await prepared(database), [], 'no statement prepared');
});

t.test('when a pooler loses the prepared statement the lookup still answers, and statements run unnamed from then on', needsPostgres, async (t) => {
  const { database, warnings } = await onePool(t);
  await findInstanceLookupRow(database.db, 'https://gitlab.example.com');
  t.equal((await prepared(database)).length, 1, 'prepared');
  // What a transaction pooler does: the next server connection does not hold the client's statement.
  await sql`deallocate all`.execute(database.db);
  t.match(await findInstanceLookupRow(database.db, 'https://gitlab.example.com'), { status: 'ready' }, 'answered');
  t.match(await findInstanceLookupRow(database.db, 'https://gitlab.example.com'), { status: 'ready' }, 'answered again');
  t.same(await prepared(database), [], 'nothing prepared again');
  t.equal(warnings.length, 1, 'said once');
  t.match(warnings[0], { level: 40, sqlState: '26000', msg: /prepared statement/ });
});
