// Internal instance routes: status, audit trail, the bot token for review workers, manual credentials, deprovisioning.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteScope } from './route-scope.js';
import Type, { type TSchema } from 'typebox';
import { internalActorOf, registerInternalAuth } from '../plugins/internal-auth.js';
import { OPTIONAL_BODY } from '../plugins/openapi.js';
import { BotToken, DeprovisionRequest, DeprovisionResult, InstanceDetails, InstanceEvent, InstanceIdParams } from '../schemas/internal.js';
import { BootstrapResult, CredentialsRequest } from '../schemas/instances.js';
import { GITLAB_FAILURES, MANUAL_CREDENTIAL_FAILURES, problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { botTokenFor, rotateBotTokenNow } from '../services/bot-token.service.js';
import { replaceCredentials } from '../services/bootstrap/register.service.js';
import { deprovisionInstance } from '../services/deprovision.service.js';
import { checkInstance } from '../services/instance-check.service.js';
import { getInstance, installationCounts, instanceEvents, instanceProblem, listAllInstances } from '../services/instances.service.js';
import { loginUrlOf } from '../auth-paths.js';
import { deprovisionView, instanceDetails, instanceEvent } from './views.js';

const internal = { tags: ['internal'], security: [{ internalBearer: [] }] };
const listOf = (name: string, items: TSchema, description: string) => Type.Object({ [name]: Type.Array(items) }, { additionalProperties: false, description });

/** Reading instances: the list, one instance, its audit trail. */
function instanceReadRoutes(app: RouteScope): void {
  const { deps } = app;

  app.get('/internal/instances', {
    schema: {
      ...internal,
      operationId: 'listInstances',
      summary: 'List instances',
      description: 'Every instance with its status, GitLab version, bot, OAuth application id, bot token expiry and last error. No secret.',
      response: { 200: listOf('instances', ref(InstanceDetails), 'All instances, oldest first'), ...problemResponses('internal_unauthorized') },
    },
    handler: async () => ({ instances: (await listAllInstances(deps)).map((instance) => instanceDetails(instance, instanceProblem(instance, deps.clock()), deps.config)) }),
  });

  app.get('/internal/instances/:id', {
    schema: {
      ...internal,
      operationId: 'getInstance',
      summary: 'One instance',
      description: 'Status, GitLab version, bot, OAuth application id, bot token expiry, the last error with its step, and how many projects the bot is installed on (broken ones counted apart). No secret.',
      params: InstanceIdParams,
      response: { 200: ref(InstanceDetails), ...problemResponses('internal_unauthorized', 'instance_not_found', 'validation_failed') },
    },
    handler: async (request) => {
      const instance = await getInstance(deps, request.params.id);
      return { ...instanceDetails(instance, instanceProblem(instance, deps.clock()), deps.config), installations: await installationCounts(deps, instance.id) };
    },
  });

  app.get('/internal/instances/:id/events', {
    schema: {
      ...internal,
      operationId: 'listInstanceEvents',
      summary: "An instance's audit trail",
      description: 'Every bootstrap step, repair, rotation and removal: who, what, when, outcome. Never a secret.',
      params: InstanceIdParams,
      response: {
        200: listOf('events', ref(InstanceEvent), 'Events, oldest first'),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'validation_failed'),
      },
    },
    handler: async (request) => ({ events: (await instanceEvents(deps, request.params.id)).map(instanceEvent) }),
  });
}

/** What review workers and operators ask of a live instance: the bot token, a live check. */
function workerRoutes(app: RouteScope): void {
  const { deps } = app;

  app.post('/internal/instances/:id/bot-token', {
    schema: {
      ...internal,
      operationId: 'getBotToken',
      summary: 'The bot token for review workers',
      description:
        'Returns the bot token. When it expires within BOT_TOKEN_ROTATE_DAYS it is first rotated through GitLab (once, whatever the number of concurrent callers) and the rotation recorded. When the rotation fails otherwise (GitLab error or timeout) and the current token has not expired yet, the current token is returned and the failure recorded. A token GitLab no longer accepts is never rotated blindly: it is dropped, and `409 bot_token_unusable` (at once, without asking GitLab again) asks for a new bootstrap. The token handed out is verified live (`GET /personal_access_tokens/self`) at most once per instance every 60 s, across processes: one revoked behind the service’s back is replaced by the live standby, else `409 bot_token_unusable` and the instance `degraded`.',
      params: InstanceIdParams,
      response: {
        200: ref(BotToken),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'instance_not_ready', 'bot_token_unusable', 'validation_failed', ...GITLAB_FAILURES),
      },
    },
    handler: async (request) => {
      const { token, expiresAt } = await botTokenFor(deps, request.params.id, internalActorOf(request), request.log);
      return { token, expiresAt: expiresAt?.toISOString() ?? null };
    },
  });

  app.post('/internal/instances/:id/check', {
    schema: {
      ...internal,
      operationId: 'checkInstance',
      summary: 'Check the instance live on GitLab now',
      description:
        "Runs the live verification without an admin token, in one round trip: the served bot token answers `GET /user` as the bot (401: the token is dead; 403: the account is blocked, deactivated or held by the terms of service) and GitLab's token endpoint accepts the OAuth client id and secret (`invalid_client`: the application was deleted or its secret renewed). A refused served token is replaced by the standby when that works. What is still dead makes the instance `degraded` with its `problem`; a clean check makes it `ready` again. Each check is one event of the instance. Answers the instance with its `health`. GitLab unreachable or rate limiting: the error, and nothing changed.",
      params: InstanceIdParams,
      response: {
        200: ref(InstanceDetails),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'instance_not_ready', 'validation_failed', ...GITLAB_FAILURES),
      },
    },
    handler: async (request) => {
      const instance = await checkInstance(deps, request.params.id, internalActorOf(request), request.log);
      return instanceDetails(instance, instanceProblem(instance, deps.clock()), deps.config);
    },
  });
}

/** An operator's changes: new manual credentials, a bot token rotation now. */
function operatorRoutes(app: RouteScope): void {
  const { deps } = app;

  app.put('/internal/instances/:id/credentials', {
    schema: {
      ...internal,
      operationId: 'replaceInstanceCredentials',
      summary: 'Replace the bot token or the OAuth application credentials (manual onboarding)',
      description:
        'Replaces the bot token and/or the OAuth client id and secret of a ready instance after the checks of `POST /instances/register`; the instance is `manual` from then on. Nothing is created or revoked on GitLab.',
      params: InstanceIdParams,
      body: ref(CredentialsRequest),
      response: {
        200: ref(BootstrapResult),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'instance_not_ready', 'bootstrap_in_progress', 'validation_failed', 'url_not_allowed', 'not_gitlab', 'gitlab_version_unsupported', ...MANUAL_CREDENTIAL_FAILURES, ...GITLAB_FAILURES),
      },
    },
    handler: async (request) => {
      const instance = await replaceCredentials(deps, request.params.id, request.body, internalActorOf(request), request.log);
      return { ...instance, loginUrl: loginUrlOf(deps.config.publicUrl, instance.instanceId) };
    },
  });

  app.post('/internal/instances/:id/bot-token/rotate', {
    schema: {
      ...internal,
      operationId: 'rotateBotToken',
      summary: 'Rotate the bot token now',
      description:
        "An operator's rotation, e.g. after a suspected leak: both bot tokens (the one served and the standby, either of which may have been handed out) are rotated through GitLab, the standby first and then served, so a working token is stored throughout; answers the new token. Concurrent calls cause one rotation and all get its token. When GitLab fails part-way, the old token is never returned: the error is, and a retry completes the rotation (a lost answer has revoked the old token anyway, and the next rotation adopts what GitLab created for it). An instance bootstrapped with a single token rotates it in place. A token GitLab no longer accepts: `409 bot_token_unusable`.",
      params: InstanceIdParams,
      response: {
        200: ref(BotToken),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'instance_not_ready', 'bot_token_unusable', 'validation_failed', ...GITLAB_FAILURES),
      },
    },
    handler: async (request) => {
      const { token, expiresAt } = await rotateBotTokenNow(deps, request.params.id, internalActorOf(request), request.log);
      return { token, expiresAt: expiresAt?.toISOString() ?? null };
    },
  });
}

/** Taking an instance out of service. */
function deprovisionRoute(app: RouteScope): void {
  const { deps } = app;

  app.delete('/internal/instances/:id', {
    schema: {
      ...internal,
      operationId: 'deprovisionInstance',
      summary: 'Take an instance out of service',
      description:
        "Revokes the instance's sessions, wipes its secrets and sets its status to `removed` (lookup then offers a new bootstrap). With `adminToken` it first deletes the OAuth application, revokes the bot token and blocks the bot on GitLab; if that fails, nothing is changed. While a bootstrap of the instance is running, `409 bootstrap_in_progress` and nothing is changed.",
      params: InstanceIdParams,
      body: ref(DeprovisionRequest),
      [OPTIONAL_BODY]: true,
      response: {
        200: ref(DeprovisionResult),
        ...problemResponses('internal_unauthorized', 'instance_not_found', 'bootstrap_in_progress', 'validation_failed', 'token_invalid', 'token_expired', 'token_revoked', 'token_not_admin', 'token_missing_scope', ...GITLAB_FAILURES),
      },
    },
    // The body is optional: no body means no admin token.
    // Typed as present (the schema), but absent when the request has no body. A Promise: the hook has no `done`.
    preValidation: (request) => {
      if ((request.body as typeof request.body | undefined) === undefined) request.body = {};
      return Promise.resolve();
    },
    handler: async (request) => deprovisionView(await deprovisionInstance(deps, request.params.id, request.body.adminToken, internalActorOf(request), request.log)),
  });
}

const internalInstancesRoutes: FastifyPluginAsyncTypebox = (app) => {
  registerInternalAuth(app);
  instanceReadRoutes(app);
  workerRoutes(app);
  operatorRoutes(app);
  deprovisionRoute(app);
  return Promise.resolve();
};

export default internalInstancesRoutes;
