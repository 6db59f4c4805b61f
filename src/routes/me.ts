// GET /me: who the session belongs to.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Me } from '../schemas/auth.js';
import { problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';

const meRoutes: FastifyPluginAsyncTypebox = (app) => {
  app.get('/me', {
    schema: {
      operationId: 'getMe',
      tags: ['auth'],
      summary: 'The logged-in user and their instance',
      description: "The session is the `gc_session` cookie or `Authorization: Bearer <session token>`; an expired or revoked session is 401, and so is a session of an instance whose OAuth application GitLab no longer accepts (the user logs in again once the instance is repaired).",
      security: [{ sessionCookie: [] }, { sessionBearer: [] }],
      response: { 200: ref(Me), ...problemResponses('unauthenticated') },
    },
    preHandler: app.requireSession,
    handler: (request) => {
      if (!request.sessionAuth) throw new Error('GET /me ran without requireSession setting the session');
      const { user, instance } = request.sessionAuth;
      return { user, instance };
    },
  });
  return Promise.resolve();
};

export default meRoutes;
