// One compiled serializer per response schema, not per route and status: every route answers its problems
// with the same Problem schema, and compiling it once per route and status was about a tenth of the
// start-up time; kept per process (compile-cache.ts). Given to Fastify as its serializer factory
// (schemaController).
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import { createCompileCache, serializerOnFirstCall } from './compile-cache.js';

type BuildSerializer = ReturnType<typeof SerializerSelector>;
type Serializer = ReturnType<ReturnType<BuildSerializer>>;

const buildDefault = SerializerSelector();
const serializers = createCompileCache<Serializer>();

/** Fastify's default serializer factory, memoised by the JSON of the schema, the external schemas and the options; each compiles at its first call. */
export function sharedSerializers(): BuildSerializer {
  return (externalSchemas, serializerOptions) => {
    const compile = buildDefault(externalSchemas, serializerOptions);
    const scope = JSON.stringify([externalSchemas, serializerOptions ?? null]);
    return (route) => serializerOnFirstCall(() => serializers.get(scope, JSON.stringify(route.schema), () => compile(route)));
  };
}
