// The OpenAPI 3.1 document, generated from the route schemas, and the interactive page at /docs.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { TSchema } from 'typebox';
import { Me, UserGitlabToken } from '../schemas/auth.js';
import { requestExamples, responseExamples } from '../schemas/examples.js';
import { BootstrapRequest, BootstrapResult, CredentialsRequest, LookupResult, PreflightRequest, PreflightResult, RegisterRequest } from '../schemas/instances.js';
import { BotToken, DeprovisionRequest, DeprovisionResult, InstanceDetails, InstanceEvent } from '../schemas/internal.js';
import { Problem } from '../schemas/problem.js';
import { UpkeepRun } from '../schemas/upkeep.js';
import { InstallationResult, RepositoryList, WebhookFeed, WebhookReceipt } from '../schemas/repositories.js';
import { SESSION_COOKIE } from './session-auth.js';
import { SERVICE_VERSION } from '../version.js';

/** Every named model; each becomes #/components/schemas/<$id>. */
const sharedSchemas: TSchema[] = [
  Problem,
  LookupResult,
  BootstrapRequest,
  PreflightRequest,
  PreflightResult,
  BootstrapResult,
  RegisterRequest,
  CredentialsRequest,
  Me,
  UserGitlabToken,
  InstanceDetails,
  InstanceEvent,
  BotToken,
  DeprovisionRequest,
  DeprovisionResult,
  UpkeepRun,
  InstallationResult,
  RepositoryList,
  WebhookReceipt,
  WebhookFeed,
];

/** Route schema flag for a body that may be left out (Fastify's swagger marks every body required). */
export const OPTIONAL_BODY = 'x-optional-body';

interface Media {
  examples?: unknown;
}
type Operations = Record<
  string,
  Record<string, { operationId?: string; requestBody?: { required?: boolean; content?: Record<string, Media> }; responses?: Record<string, { content?: Record<string, Media> }>; [OPTIONAL_BODY]?: boolean }>
>;

/** Puts the examples of schemas/examples.ts on each operation's request body and success answers. */
function addExamples<T extends { paths?: unknown }>(document: T): T {
  for (const item of Object.values((document.paths ?? {}) as Operations)) {
    for (const operation of Object.values(item)) {
      const id = operation.operationId ?? '';
      for (const media of Object.values(operation.requestBody?.content ?? {})) media.examples = requestExamples[id];
      for (const [status, examples] of Object.entries(responseExamples[id] ?? {})) {
        for (const media of Object.values(operation.responses?.[status]?.content ?? {})) media.examples = examples;
      }
    }
  }
  return document;
}

function markOptionalBodies<T extends { paths?: unknown }>(document: T): T {
  for (const item of Object.values((document.paths ?? {}) as Operations)) {
    for (const operation of Object.values(item)) {
      if (!operation[OPTIONAL_BODY]) continue;
      Reflect.deleteProperty(operation, OPTIONAL_BODY);
      if (operation.requestBody) operation.requestBody.required = false;
    }
  }
  return document;
}

export default fp(
  async function openapiPlugin(app: FastifyInstance) {
    for (const schema of sharedSchemas) app.addSchema(schema);
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'gitlab-connect',
          version: SERVICE_VERSION,
          description: 'Connects self-managed GitLab instances to the code-review bot: instance lookup and bootstrap, OAuth2 login, and GitLab tokens for internal services.',
          license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
        },
        // Relative: /docs "Try it out" calls the origin the page was loaded from (localhost or 127.0.0.1 alike).
        servers: [{ url: '/', description: `This service (deployed at ${app.deps.config.publicUrl})` }],
        tags: [
          { name: 'instances', description: 'Recognise and set up a GitLab instance' },
          { name: 'auth', description: 'OAuth2 login against an instance, sessions' },
          { name: 'repositories', description: "Install the bot on the logged-in user's GitLab projects" },
          { name: 'webhooks', description: "GitLab's webhook deliveries" },
          { name: 'internal', description: 'For internal services (bearer token from INTERNAL_API_TOKENS)' },
          { name: 'service', description: 'Health, readiness, metadata and this document' },
        ],
        components: {
          securitySchemes: {
            sessionCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The session cookie set by the login callback' },
            sessionBearer: { type: 'http', scheme: 'bearer', description: 'The session token as a bearer token' },
            internalBearer: { type: 'http', scheme: 'bearer', description: 'One of INTERNAL_API_TOKENS' },
            gitlabWebhookToken: { type: 'apiKey', in: 'header', name: 'X-Gitlab-Token', description: "The installation's webhook secret token, sent by GitLab" },
          },
        },
      },
      transformObject: (document) => ('openapiObject' in document ? addExamples(markOptionalBodies(document.openapiObject)) : document.swaggerObject),
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${String(i)}`) },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'openapi', dependencies: ['errors', 'dependencies'] },
);
