// What route plugins share: the type they and their route groups register on, and how a route names the
// HTTP field of a service error that knows none.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';

/** The Fastify instance a route plugin receives, with TypeBox's type provider (request types from the schemas). */
export type RouteScope = Parameters<FastifyPluginAsyncTypebox>[0];

/**
 * A `.catch` handler for a service error of class `kind`, which knows no HTTP field: rethrown as
 * validation_failed with `detail` and `{ field, message }` in `errors`; any other error passes unchanged.
 */
export function namingField(kind: abstract new (...args: never[]) => Error, field: string, detail: string, message: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof kind) throw new AppError('validation_failed', detail, { errors: [{ field, message }] });
    throw error;
  };
}
