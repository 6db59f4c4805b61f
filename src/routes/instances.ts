// Public instance routes: lookup (and, from the bootstrap issue, bootstrap).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { InstanceUrlQuery, type LookupResultBody } from '../schemas/instances.js';
import { problemResponses } from '../schemas/problem.js';
import { lookupInstance } from '../services/instances.service.js';

const lookupResultRef = Type.Unsafe<LookupResultBody>(Type.Ref('LookupResult'));

const instancesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/instances/lookup', {
    schema: {
      operationId: 'lookupInstance',
      tags: ['instances'],
      summary: 'Recognise an instance URL',
      description:
        'Normalises the URL the user typed and says whether the instance is set up: `next` tells the frontend to bootstrap, wait or send the user to `loginUrl`. No request goes to GitLab.',
      security: [],
      querystring: InstanceUrlQuery,
      response: { 200: lookupResultRef, ...problemResponses('invalid_url', 'validation_failed') },
    },
    handler: async (request) => lookupInstance(app.db, app.config, request.query.url, app.clock()),
  });
};

export default instancesRoutes;
