// Request validation: query strings, path parameters and headers arrive as text and are coerced to
// their schema's types ("5" → 5, "a" → ["a"]); JSON bodies are already typed and are not, so that
// {"url": 5} or a numeric adminToken is refused (400 validation_failed) rather than turned into text.
import AjvCompiler from '@fastify/ajv-compiler';
import { createCompileCache, validatorOnFirstCall, type ValidateFunction } from './compile-cache.js';

/** What @fastify/ajv-compiler really takes and returns (its typings name the schema where Fastify passes the route's). */
type Compile = (route: { schema: unknown; httpPart?: string }) => ValidateFunction;
type BuildValidator = (externalSchemas: Record<string, unknown>, options?: { customOptions?: Record<string, unknown> }) => Compile;

// Fastify's own compiler pool (one Ajv per external schemas and options) and the compiled validators,
// both kept per process (compile-cache.ts).
const build = AjvCompiler() as unknown as BuildValidator;
const validators = createCompileCache<ValidateFunction>();

/**
 * Fastify's `schemaController.compilersFactory.buildValidator`: Fastify's own Ajv compiler with the
 * server's Ajv options for every part but the body, and the same options without `coerceTypes` for it.
 */
export function bodiesUncoerced(): ReturnType<typeof AjvCompiler> {
  const factory: BuildValidator = (externalSchemas, options) => {
    // Each Ajv (with every external schema added) is made at the first compile that needs it, not at start.
    let coercing: Compile | undefined;
    let exact: Compile | undefined;
    const compile = (route: { schema: unknown; httpPart?: string }) => {
      if (route.httpPart !== 'body') return (coercing ??= build(externalSchemas, options))(route);
      return (exact ??= build(externalSchemas, { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } }))(route);
    };
    const scope = JSON.stringify([externalSchemas, options ?? null]);
    return (route) => validatorOnFirstCall(() => validators.get(scope, `${String(route.httpPart === 'body')}${JSON.stringify(route.schema)}`, () => compile(route)));
  };
  return factory as unknown as ReturnType<typeof AjvCompiler>;
}
