// One compiled serializer per response schema object, not per route and status: every route answers
// its problems with the same Problem schema, and compiling it once per route and status was about a
// tenth of the start-up time. Given to Fastify as its serializer factory (schemaController).
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

type BuildSerializer = ReturnType<typeof SerializerSelector>;

/** Fastify's default serializer factory, memoised by schema object within each encapsulation context. */
export function sharedSerializers(): BuildSerializer {
  const buildDefault = SerializerSelector();
  return (externalSchemas, serializerOptions) => {
    const compile = buildDefault(externalSchemas, serializerOptions);
    const compiled = new WeakMap<object, ReturnType<typeof compile>>();
    return (route) => {
      if (typeof route.schema !== 'object' || route.schema === null) return compile(route);
      let serializer = compiled.get(route.schema);
      if (!serializer) {
        serializer = compile(route);
        compiled.set(route.schema, serializer);
      }
      return serializer;
    };
  };
}
