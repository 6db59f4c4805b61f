// The repository routes of a logged-in user: the projects they can install the bot on, install, uninstall.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteScope } from './route-scope.js';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import { assertSameSiteOrigin } from '../plugins/session-auth.js';
import { GITLAB_FAILURES, problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { InstallationResult, ProjectIdParams, RepositoryList, RepositoryListQuery } from '../schemas/repositories.js';
import { accessLevelOf, installOnProject, listRepositories, uninstallFromProject, type SessionUser } from '../services/installations.service.js';
import { installationView } from './views.js';

const SESSION_SECURITY: Record<string, string[]>[] = [{ sessionCookie: [] }, { sessionBearer: [] }];
const SESSION_FAILURES = ['unauthenticated', 'instance_not_ready', 'reauthorization_required', ...GITLAB_FAILURES] as const;

function sessionUser(request: FastifyRequest): SessionUser {
  const session = request.sessionAuth;
  if (!session) throw new Error('a repository route ran without requireSession setting the session');
  return { userId: session.user.id, instanceId: session.instance.id, actor: `session of ${session.user.username} from ${request.ip}` };
}

/** The user's installable projects. */
function listRoute(app: RouteScope): void {
  const { deps } = app;

  app.get('/repositories', {
    schema: {
      operationId: 'listRepositories',
      tags: ['repositories'],
      summary: 'The projects the logged-in user can install the bot on',
      description: "One page of GitLab's projects where the user has at least Maintainer access (`min_access_level=40`), read with the user's own GitLab token (refreshed when due), each with whether the bot is installed. `nextPage` follows GitLab's pagination.",
      security: SESSION_SECURITY,
      querystring: RepositoryListQuery,
      response: { 200: ref(RepositoryList), ...problemResponses('validation_failed', ...SESSION_FAILURES) },
    },
    preHandler: app.requireSession,
    handler: async (request) => {
      const { repositories, nextPage } = await listRepositories(deps, sessionUser(request), request.query, request.log);
      return {
        repositories: repositories.map(({ project, installation }) => ({
          projectId: project.id,
          pathWithNamespace: project.path_with_namespace,
          name: project.name,
          webUrl: project.web_url,
          accessLevel: accessLevelOf(project),
          installed: installation !== undefined,
          ...(installation ? { installation: installationView(deps.config.publicUrl, installation) } : {}),
        })),
        page: request.query.page,
        perPage: request.query.perPage,
        nextPage,
      };
    },
  });
}

/** Installing the bot on a project, and uninstalling it. */
function installationRoutes(app: RouteScope): void {
  const { deps } = app;

  app.put('/repositories/:projectId/installation', {
    schema: {
      operationId: 'installOnRepository',
      tags: ['repositories'],
      summary: 'Install the bot on a project',
      description:
        "With the user's GitLab token: adds the bot as a Developer member (an existing membership at any level is kept, never changed) and creates a project webhook to `$PUBLIC_URL/webhooks/gitlab/<installation id>` for merge request and comment events, SSL verification on, with a random secret token (stored only as a hash). `201` when installed now, `200` when it was already; a hook or membership deleted (or a hook disabled) on GitLab is re-created and named in `repaired`. A cross-site `Origin` is refused.",
      security: SESSION_SECURITY,
      params: ProjectIdParams,
      response: {
        200: ref(InstallationResult),
        201: ref(InstallationResult),
        ...problemResponses('validation_failed', 'cross_site_request', 'project_access_insufficient', 'project_not_found', 'webhook_url_blocked', ...SESSION_FAILURES),
      },
    },
    preHandler: app.requireSession,
    handler: async (request, reply) => {
      assertSameSiteOrigin(deps.config, request);
      const result = await installOnProject(deps, sessionUser(request), request.params.projectId, request.log);
      return reply.code(result.created ? 201 : 200).send({ installation: installationView(deps.config.publicUrl, result.installation), repaired: result.repaired });
    },
  });

  app.delete('/repositories/:projectId/installation', {
    schema: {
      operationId: 'uninstallFromRepository',
      tags: ['repositories'],
      summary: 'Uninstall the bot from a project',
      description: "Deletes the webhook and, only when this service added it, the bot's membership, with the user's GitLab token; `204` also when nothing was installed. A cross-site `Origin` is refused.",
      security: SESSION_SECURITY,
      params: ProjectIdParams,
      response: { 204: Type.Null({ description: 'Uninstalled' }), ...problemResponses('validation_failed', 'cross_site_request', 'project_access_insufficient', 'project_not_found', ...SESSION_FAILURES) },
    },
    preHandler: app.requireSession,
    handler: async (request, reply) => {
      assertSameSiteOrigin(deps.config, request);
      await uninstallFromProject(deps, sessionUser(request), request.params.projectId, request.log);
      return reply.code(204).send(null);
    },
  });
}

const repositoriesRoutes: FastifyPluginAsyncTypebox = (app) => {
  listRoute(app);
  installationRoutes(app);
  return Promise.resolve();
};

export default repositoriesRoutes;
