// A reference to a shared model by the $id it carries, typed as the model: the one way routes point
// at #/components/schemas/<$id>.
import Type, { type Static, type TSchema } from 'typebox';

/** `{ $ref: schema.$id }`, statically typed as the schema; throws at start-up for a schema without $id. */
export function ref<T extends TSchema>(schema: T) {
  const id = (schema as { $id?: unknown }).$id;
  if (typeof id !== 'string') throw new TypeError('ref() needs a schema with an $id');
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}
