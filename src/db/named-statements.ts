// Named prepared statements for the hottest read (the public lookup): PostgreSQL parses and plans a named
// statement once per connection, and then only binds and executes it, where an unnamed one is parsed
// and planned on every call (pg's `name` option: https://node-postgres.com/features/queries#prepared-statements;
// PostgreSQL's extended query protocol: https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY).
// A pooler that hands a client's statements to other server connections (PgBouncer in transaction mode
// before 1.21, or with max_prepared_statements = 0) answers that the statement does not exist, or that
// it exists already: the pool then stops naming statements, says so once, and runs the statement again
// unnamed. Only a statement outside a transaction is named, so that it can be run again.
import pg from 'pg';
import type { Logger } from 'pino';

/** SQL text → the name it is prepared under, the same on every connection of the process. */
const names = new Map<string, string>();

/**
 * Marks `sql` to run as a named prepared statement on the PostgreSQL pools (openPostgres); returns it
 * unchanged. For SQL texts built once, whose result columns are listed (a named statement of `select *`
 * fails once a migration adds a column: "cached plan must not change result type").
 */
export function namedStatement(sql: string): string {
  if (!names.has(sql)) names.set(sql, `gitlab_connect_${String(names.size)}`);
  return sql;
}

/**
 * What a server connection answers when the statement the client prepared is not there (26000,
 * invalid_sql_statement_name) or another client's is (42P05, duplicate_prepared_statement): a
 * transaction pooler between (https://www.postgresql.org/docs/15/errcodes-appendix.html).
 */
const MOVED_STATEMENT = new Set(['26000', '42P05']);

const sqlStateOf = (error: unknown) => (error instanceof Error && 'code' in error ? error.code : undefined);

/**
 * The pg.Client class of one pool (pg.Pool's `Client` option): runs the texts marked by namedStatement,
 * when called as Kysely calls it (`query(text, values)`, no callback) outside a transaction, as named
 * prepared statements, until a server connection answers MOVED_STATEMENT: then that query runs again
 * unnamed, and so does every later one of the pool.
 */
export function namingClient(log: Logger): typeof pg.Client {
  let naming = true;
  return class NamingClient extends pg.Client {
    // The one signature pg's overloads all accept; the other forms go to pg's own query unchanged.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override query(config: any, values?: any, callback?: any): any {
      const name = naming && typeof config === 'string' && callback === undefined ? names.get(config) : undefined;
      // eslint-disable-next-line @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-confusing-void-expression
      if (name === undefined || this.getTransactionStatus() !== 'I') return super.query(config, values, callback);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
      return super.query({ name, text: config, values }).catch((error: unknown) => {
        const code = sqlStateOf(error);
        if (!MOVED_STATEMENT.has(String(code))) throw error;
        if (naming) log.warn({ sqlState: code }, 'PostgreSQL lost a prepared statement (a transaction pooler between?): statements run unnamed from now on');
        naming = false;
        // eslint-disable-next-line @typescript-eslint/no-unsafe-argument
        return super.query(config, values);
      });
    }
  };
}
