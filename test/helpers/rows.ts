// Arranging and reading database state in tests, in the domain's camelCase words: tables and columns are
// named as the repositories' domain types name them (`instanceEvents`, `botTokenExpiresAt`), mapped to
// the snake_case schema here and only here (through src/db/rows.ts, the repositories' own mapping), so
// no test spells a column name. Filters are equality on columns (null: IS NULL); anything finer is a
// `.filter()` on the rows read, the tables of a test database being small.
import type { Insertable, Selectable, Updateable } from 'kysely';
import { fromRow, toRow } from '../../src/db/rows.js';
import type { DB, Executor } from '../../src/db/types.js';
import type { CamelCase, Camelized } from '../../src/domain/types.js';

type SnakeTable = keyof DB;
/** A table as the domain names it: `instanceEvents` for instance_events. */
export type Table = CamelCase<SnakeTable>;
type SnakeOf<T extends Table> = { [S in SnakeTable]: CamelCase<S> extends T ? S : never }[SnakeTable];

/** A row of `T` as a domain value. */
export type Row<T extends Table> = Camelized<Selectable<DB[SnakeOf<T>]>>;
/** Values for a new row of `T` (what the table's defaults fill in may be left out). */
export type NewRow<T extends Table> = Camelized<Insertable<DB[SnakeOf<T>]>>;
/** Columns to change in rows of `T`. */
export type RowChanges<T extends Table> = Camelized<Updateable<DB[SnakeOf<T>]>>;
/** Equality on columns of `T` (null: the column IS NULL); every one must hold. */
export type RowFilter<T extends Table> = Partial<Row<T>>;

const snakeTable = (table: Table) => table.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`) as SnakeTable;

// Kysely types each query by its literal table; these helpers take any table, so they talk to an
// untyped view of the same connection and type their answers themselves.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Untyped = any;

/**
 * `query` narrowed by `where`. A filter value of undefined throws instead of being left out (toRow drops
 * undefined values): a test whose id came back undefined must not update, read or delete every row.
 */
function filtered(query: Untyped, where: object): Untyped {
  const missing = Object.entries(where).filter(([, value]) => value === undefined).map(([column]) => column);
  if (missing.length > 0) throw new Error(`a row filter on ${missing.join(', ')} is undefined (use null for IS NULL)`);
  let next = query;
  for (const [column, value] of Object.entries(toRow<Record<string, unknown>>(where))) {
    next = value === null ? next.where(column, 'is', null) : next.where(column, '=', value);
  }
  return next;
}

/** Every row of `table` that matches `where`, in no particular order unless `orderBy` (a column) is given. */
export async function readRows<T extends Table>(db: Executor, table: T, where: RowFilter<T> = {}, orderBy?: keyof Row<T> & string): Promise<Row<T>[]> {
  let query: Untyped = filtered((db as Untyped).selectFrom(snakeTable(table)).selectAll(), where);
  if (orderBy) query = query.orderBy(Object.keys(toRow({ [orderBy]: true }))[0]);
  const rows = (await query.execute()) as object[];
  return rows.map((row) => fromRow(row) as Row<T>);
}

/** The one row of `table` that matches `where`; throws when none or several do. */
export async function readRow<T extends Table>(db: Executor, table: T, where: RowFilter<T>): Promise<Row<T>> {
  const rows = await readRows(db, table, where);
  const row = rows.at(0);
  if (!row || rows.length > 1) throw new Error(`${String(rows.length)} ${table} rows match ${JSON.stringify(where)}, not one`);
  return row;
}

/** Inserts `values` (one row or several) into `table`; answers the rows as stored (defaults filled in). */
export async function insertRows<T extends Table>(db: Executor, table: T, values: NewRow<T> | NewRow<T>[]): Promise<Row<T>[]> {
  const list = Array.isArray(values) ? values : [values];
  const rows = (await (db as Untyped).insertInto(snakeTable(table)).values(list.map((value) => toRow(value))).returningAll().execute()) as object[];
  return rows.map((row) => fromRow(row) as Row<T>);
}

/** Sets `changes` on every row of `table` that matches `where`; answers how many rows changed. */
export async function updateRows<T extends Table>(db: Executor, table: T, where: RowFilter<T>, changes: RowChanges<T>): Promise<number> {
  const result = await filtered((db as Untyped).updateTable(snakeTable(table)).set(toRow(changes)), where).executeTakeFirst();
  return Number((result as { numUpdatedRows: bigint }).numUpdatedRows);
}

/** Deletes every row of `table` that matches `where`; answers how many. */
export async function deleteRows<T extends Table>(db: Executor, table: T, where: RowFilter<T>): Promise<number> {
  const result = await filtered((db as Untyped).deleteFrom(snakeTable(table)), where).executeTakeFirst();
  return Number((result as { numDeletedRows: bigint }).numDeletedRows);
}
