// Internal user routes: a user's GitLab access token for the review workers.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { internalActorOf, registerInternalAuth } from '../plugins/internal-auth.js';
import { UserGitlabToken, UserGitlabTokenParams } from '../schemas/auth.js';
import { GITLAB_FAILURES, problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { userGitlabToken } from '../services/user-tokens.service.js';

const internalUsersRoutes: FastifyPluginAsyncTypebox = (app) => {
  registerInternalAuth(app);

  app.post('/internal/users/:id/gitlab-token', {
    schema: {
      operationId: 'getUserGitlabToken',
      tags: ['internal'],
      summary: "A user's current GitLab access token",
      description:
        'Refreshes the token through GitLab first when it has expired or expires within 5 minutes. Concurrent calls, on one process or many, cause a single refresh (GitLab refresh tokens are single-use). When GitLab refuses the refresh, the user must log in again: `409 reauthorization_required` until they do. When GitLab refuses the OAuth client itself (`invalid_client`: the application was deleted or its secret replaced), the instance turns `degraded` and the answer is `409 reauthorization_required`, without asking GitLab again, until the instance is repaired. An unexpired token is no proof that its application lives (GitLab deletes the tokens of an application with it): the OAuth client of the instance is verified at the token endpoint at most once per instance every 60 s (a token due for a refresh is verified by the refresh), and a user whose application the bootstrap re-created gets `409 reauthorization_required` at once.',
      security: [{ internalBearer: [] }],
      params: UserGitlabTokenParams,
      response: {
        200: ref(UserGitlabToken),
        ...problemResponses('validation_failed', 'internal_unauthorized', 'user_not_found', 'reauthorization_required', 'instance_not_ready', ...GITLAB_FAILURES),
      },
    },
    handler: async (request) => {
      const token = await userGitlabToken(app.deps, request.params.id, internalActorOf(request), request.log);
      return { accessToken: token.accessToken, expiresAt: token.expiresAt?.toISOString() ?? null };
    },
  });
  return Promise.resolve();
};

export default internalUsersRoutes;
