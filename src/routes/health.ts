// Liveness, readiness and the OpenAPI document.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { problemResponses } from '../schemas/problem.js';
import { assertReady } from '../services/readiness.service.js';

const Status = (value: string, description: string) =>
  Type.Object({ status: Type.Literal(value, { description }) }, { additionalProperties: false });

const healthRoutes: FastifyPluginAsyncTypebox = (app) => {
  app.get('/healthz', {
    schema: {
      operationId: 'getLiveness',
      tags: ['service'],
      summary: 'Liveness',
      description: 'Answers 200 while the process serves requests. Checks no dependency.',
      security: [],
      response: { 200: Status('ok', 'Always ok'), ...problemResponses() },
    },
    handler: () => ({ status: 'ok' as const }),
  });

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      tags: ['service'],
      summary: 'Readiness',
      description: 'Answers 200 when the database answers within 2 s; 503 `not_ready` while it cannot, and from the moment a shutdown begins.',
      security: [],
      response: { 200: Status('ready', 'The database answers'), ...problemResponses('not_ready') },
    },
    handler: async (request) => {
      await assertReady(app.deps, app.lifecycle.draining, request.log);
      return { status: 'ready' as const };
    },
  });

  app.get('/openapi.json', {
    schema: {
      operationId: 'getOpenApiDocument',
      tags: ['service'],
      summary: 'This OpenAPI document',
      description: 'The OpenAPI 3.1 document of this service, generated from its route schemas.',
      security: [],
      response: { 200: Type.Object({}, { additionalProperties: true, description: 'An OpenAPI 3.1 document' }), ...problemResponses() },
    },
    handler: () => app.swagger(),
  });
  return Promise.resolve();
};

export default healthRoutes;
