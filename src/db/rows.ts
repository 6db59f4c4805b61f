// The one mapping between snake_case rows and camelCase domain values, used by every repository.
import type { Camelized } from '../domain/types.js';

const toCamel = (key: string) => key.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());
const toSnake = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** A row as its domain value: every column, renamed to camelCase. */
export function fromRow<T extends object>(row: T): Camelized<T> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [toCamel(key), value])) as Camelized<T>;
}

/** A row or undefined, as its domain value or undefined. */
export function fromRowOrUndefined<T extends object>(row: T | undefined): Camelized<T> | undefined {
  return row === undefined ? undefined : fromRow(row);
}

/** Domain values as column values: keys renamed to snake_case; undefined values left out. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the snake_case row type the keys map to
export function toRow<T>(values: object): T {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined).map(([key, value]) => [toSnake(key), value])) as T;
}
