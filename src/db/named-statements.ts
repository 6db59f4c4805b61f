// Named prepared statements for the hottest read (the public lookup): PostgreSQL parses a named statement
// once per connection, and then only binds and executes it, where an unnamed one is parsed and planned on
// every call; after five runs PostgreSQL may also keep a generic plan and stop planning it (it does for
// the lookup: 5 custom and 5 generic plans after 10 runs in pg_prepared_statements) (pg's `name` option:
// https://node-postgres.com/features/queries#prepared-statements; PostgreSQL's plan cache:
// https://www.postgresql.org/docs/15/sql-prepare.html). A name is the hash of its text, so a session
// that holds a statement of that name holds that statement. When PostgreSQL refuses one (a transaction
// pooler handed the client another server connection, or a migration changed the type of a column it
// returns), the pool logs it, runs that query again unnamed, and names nothing from then on. Only a
// statement outside a transaction is named, so that it can be run again.
import { hash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';

/** A named statement as pg's query config takes it (https://node-postgres.com/apis/client#queryconfig). */
interface Statement {
  name: string;
  text: string;
}

/** SQL text → its statement, named `gitlab_connect_` and 16 hex digits of the text's SHA-256. */
const statements = new Map<string, Statement>();

/**
 * The query config of one run of `statement`: an object whose prototype is the statement and whose own
 * property is `values`. pg copies every query config it is given (lib/utils.js, cloneQueryConfig: own
 * property descriptors, onto an object of the same prototype) and reads `name` and `text` as plain
 * properties; copying three own properties cost ~10 µs of CPU of each lookup the cache does not answer
 * (bench, LOOKUP_CACHE_SIZE=0), one costs a fraction of that. The statement is not frozen: code that
 * rewrites a query's text (tracing that adds an SQL comment) assigns `text` on the run, which a frozen
 * prototype would refuse with a TypeError.
 */
function runOf(statement: Statement, values: unknown[]): Statement & { values: unknown[] } {
  const run = Object.create(statement) as Statement & { values: unknown[] };
  run.values = values;
  return run;
}

/**
 * Marks `sql` to run as a named prepared statement on the PostgreSQL pools (openPostgres); returns it
 * unchanged. For SQL texts built once whose result columns are listed: a named `select *` fails once a
 * migration adds a column, as a listed column does when a migration changes its type (both answered
 * by running unnamed, see namingClient).
 */
export function namedStatement(sql: string): string {
  if (!statements.has(sql)) statements.set(sql, { name: `gitlab_connect_${hash('sha256', sql, 'hex').slice(0, 16)}`, text: sql });
  return sql;
}

/**
 * SQLSTATEs that refuse a prepared statement a plain one would not meet
 * (https://www.postgresql.org/docs/15/errcodes-appendix.html): 26000 invalid_sql_statement_name (the
 * server connection does not hold it) and 42P05 duplicate_prepared_statement (it holds another
 * client's), both from a transaction pooler between; 0A000 feature_not_supported, "cached plan must not
 * change result type", after a migration changed the type of a column the statement returns.
 */
const REFUSED_STATEMENT = new Set(['26000', '42P05', '0A000']);

const sqlStateOf = (error: unknown) => (error instanceof Error && 'code' in error ? error.code : undefined);

/**
 * The pg.Client class of one pool (pg.Pool's `Client` option): runs the texts marked by namedStatement,
 * when called as Kysely calls it (`query(text, values array)`, no callback) outside a transaction, as
 * named prepared statements, until PostgreSQL answers one with a REFUSED_STATEMENT code: then that query
 * runs again unnamed (a read outside a transaction: safe to repeat) and every later query of the pool runs
 * unnamed; a warning is logged per refused query (the first, and any already in flight on the pool's
 * other connections). Every other call goes to pg's own query unchanged.
 */
export function namingClient(log: Logger): typeof pg.Client {
  let naming = true;
  return class NamingClient extends pg.Client {
    // The one signature pg's overloads all accept.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(config: any, values?: any, callback?: any): any {
      const statement = naming && typeof config === 'string' && Array.isArray(values) && callback === undefined ? statements.get(config) : undefined;
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-confusing-void-expression
      if (statement === undefined || this.getTransactionStatus() !== 'I') return super.query(config, values, callback);
      return super.query(runOf(statement, values as unknown[])).catch((error: unknown) => {
        const code = sqlStateOf(error);
        if (!REFUSED_STATEMENT.has(String(code))) throw error;
        log.warn({ sqlState: code }, 'PostgreSQL refused a prepared statement (a transaction pooler between, or a migration changed its columns): statements run unnamed from now on');
        naming = false;
        // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
        return super.query(config, values);
      });
    }
  };
}
