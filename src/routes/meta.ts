// GET /meta: what the frontend shows admins before they bootstrap; GET /: where a login lands when no
// FRONTEND_URL is configured.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ADMIN_TOKEN_SCOPES, MINIMUM_GITLAB_VERSION } from '../services/gitlab-requirements.js';
import { SERVICE_VERSION } from '../version.js';
import { problemResponses } from '../schemas/problem.js';

const Meta = Type.Object(
  {
    egressIps: Type.Array(Type.String(), { description: 'CIDRs this service calls GitLab from, for instances that allow-list callers' }),
    callbackUrl: Type.String({ description: "`$PUBLIC_URL/auth/gitlab/callback`: every instance's OAuth redirect URI lies below it (`GET /instances/lookup` gives an instance's exact one, `/auth/gitlab/callback/<key>`)" }),
    minimumGitlabVersion: Type.String({ description: 'The oldest GitLab version supported' }),
    adminTokenScopes: Type.Array(Type.String(), { description: 'Scopes the admin token needs (add `admin_mode` when Admin Mode is on)' }),
    oauthScopes: Type.Array(Type.String(), { description: 'Scopes of the OAuth application and of the login request' }),
    version: Type.String({ description: 'This service version' }),
  },
  { additionalProperties: false },
);

const Index = Type.Object(
  {
    service: Type.Literal('gitlab-connect', { description: 'This service' }),
    version: Type.String({ description: 'This service version' }),
    links: Type.Object(
      { me: Type.String({ description: 'The signed-in user' }), docs: Type.String({ description: 'The interactive API page' }), openapi: Type.String({ description: 'The OpenAPI document' }) },
      { additionalProperties: false, description: 'Where to go next' },
    ),
  },
  { additionalProperties: false },
);

const metaRoutes: FastifyPluginAsyncTypebox = (app) => {
  app.get('/', {
    schema: {
      operationId: 'getIndex',
      tags: ['service'],
      summary: 'Service index',
      description: 'Names the service and links to /me, /docs and /openapi.json. A login without returnTo lands here when FRONTEND_URL is not set.',
      security: [],
      response: { 200: Index, ...problemResponses() },
    },
    handler: () => ({ service: 'gitlab-connect' as const, version: SERVICE_VERSION, links: { me: '/me', docs: '/docs', openapi: '/openapi.json' } }),
  });

  app.get('/meta', {
    schema: {
      operationId: 'getMeta',
      tags: ['service'],
      summary: 'Service metadata',
      description: 'Egress IPs, the OAuth callback URL, the minimum GitLab version and the scopes the set-up needs.',
      security: [],
      response: { 200: Meta, ...problemResponses() },
    },
    handler: () => ({
      egressIps: app.deps.config.egressIps,
      callbackUrl: app.deps.config.callbackUrl,
      minimumGitlabVersion: MINIMUM_GITLAB_VERSION,
      adminTokenScopes: [...ADMIN_TOKEN_SCOPES],
      oauthScopes: app.deps.config.oauthScopes,
      version: SERVICE_VERSION,
    }),
  });
  return Promise.resolve();
};

export default metaRoutes;
