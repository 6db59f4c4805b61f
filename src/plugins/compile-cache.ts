// Compiled validators and serializers kept per process, keyed by the JSON text of what they were
// compiled from (external schemas, options, the route part's schema). One app compiles each distinct
// schema once (every route answers problems with the same Problem schema); an app built again in the
// same process (the test suite builds hundreds) compiles nothing again. Ajv and fast-json-stringify
// output are pure functions of those inputs, so sharing them is safe.

/** A cache of compiled functions by key, for the life of the process. */
export interface CompileCache<T> {
  /** The function compiled for `key`, compiling it with `compile` the first time. */
  get(key: string, compile: () => T): T;
}

/** A new, empty cache (module-level in its user: one per process). */
export function createCompileCache<T>(): CompileCache<T> {
  const compiled = new Map<string, T>();
  return {
    get(key, compile) {
      let value = compiled.get(key);
      if (value === undefined) {
        value = compile();
        compiled.set(key, value);
      }
      return value;
    },
  };
}
