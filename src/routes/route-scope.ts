// The type route plugins and their route groups register on.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** The Fastify instance a route plugin receives, with TypeBox's type provider (request types from the schemas). */
export type RouteScope = Parameters<FastifyPluginAsyncTypebox>[0];
