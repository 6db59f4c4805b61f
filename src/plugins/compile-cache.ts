// Compiled validators and serializers kept per process, keyed by the JSON text of what they were
// compiled from (external schemas, options, the route part's schema). One app compiles each distinct
// schema once (every route answers problems with the same Problem schema); an app built again in the
// same process (the test suite builds hundreds) compiles nothing again. Ajv and fast-json-stringify
// output are pure functions of those inputs, so sharing them is safe. And nothing is compiled before a
// request needs it: Fastify gets functions that compile (through the cache) at their first call, so a
// start compiles none of the ~150 route parts (a third of the start-up's CPU) and a route never called
// costs nothing. A schema that cannot compile would fail its route's first request instead of the
// start: `compilePending()` compiles every one not yet called, and a test runs it on the whole app.

/** A cache of compiled functions by scope (external schemas and options) and key (a route part's schema), for the life of the process. */
export interface CompileCache<T> {
  /** The function compiled for `key` in `scope`, compiling it with `compile` the first time. */
  get(scope: string, key: string, compile: () => T): T;
}

/** A new, empty cache (module-level in its user: one per process). */
export function createCompileCache<T>(): CompileCache<T> {
  const scopes = new Map<string, Map<string, T>>();
  return {
    get(scope, key, compile) {
      let compiled = scopes.get(scope);
      if (!compiled) scopes.set(scope, (compiled = new Map<string, T>()));
      let value = compiled.get(key);
      if (value === undefined) {
        value = compile();
        compiled.set(key, value);
      }
      return value;
    },
  };
}

/** The compiles handed out and not yet tried (each leaves once tried; a failed one throws again at each call). */
const pending = new Set<() => void>();

/** Runs `obtain` at the first call of the returned function, or at `compilePending()`; answers its result from then on. */
function onFirstCall<F>(obtain: () => F): () => F {
  let compiled: F | undefined;
  const get = () => {
    if (compiled === undefined) {
      pending.delete(get);
      compiled = obtain();
    }
    return compiled;
  };
  pending.add(get);
  return get;
}

/** Compiles every validator and serializer handed out and not yet called; throws the first schema that does not compile (a test's check). */
export function compilePending(): void {
  for (const compile of pending) compile();
}

/** A serializer (data → JSON text) that obtains the real one at its first call. */
export function serializerOnFirstCall<D>(obtain: () => (data: D) => string): (data: D) => string {
  const serializer = onFirstCall(obtain);
  return (data) => serializer()(data);
}

/** An Ajv validate function: true or false, with the last call's `errors`; Fastify passes `context` when `schemaEnv` is set. */
export type ValidateFunction = ((data: unknown, context?: unknown) => boolean) & { errors?: unknown; schemaEnv?: unknown };

/**
 * A validator that obtains the real one at its first call. Fastify reads `errors` off the function it
 * was given after a failure, and passes the parent data (Ajv's coercion of a root value) only when the
 * function has a `schemaEnv`, as Ajv's own functions do.
 */
export function validatorOnFirstCall(obtain: () => ValidateFunction): ValidateFunction {
  const compiled = onFirstCall(obtain);
  const validate: ValidateFunction = (data, context) => {
    const real = compiled();
    const valid = real(data, context);
    validate.errors = real.errors;
    return valid;
  };
  validate.schemaEnv = true;
  return validate;
}
