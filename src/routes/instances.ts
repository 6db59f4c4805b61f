// Public instance routes: lookup, bootstrap and register (manual onboarding).
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { namingField, type RouteScope } from './route-scope.js';
import { BootstrapRequest, BootstrapResult, InstanceUrlQuery, LookupResult, PreflightRequest, PreflightResult, RegisterRequest } from '../schemas/instances.js';
import { GITLAB_FAILURES, MANUAL_CREDENTIAL_FAILURES, problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { clientRateLimitOptions, onboardingRateLimit } from '../plugins/client-rate-limit.js';
import { bootstrapInstance, InvalidCaCertificateError } from '../services/bootstrap/bootstrap.service.js';
import { preflightInstance } from '../services/bootstrap/preflight.service.js';
import { registerInstance } from '../services/bootstrap/register.service.js';
import { lookupInstance } from '../services/instances.service.js';
import { loginUrlOf } from '../auth-paths.js';

/** What the user typed, recognised: no request goes to GitLab. */
function lookupRoute(app: RouteScope): void {
  const { deps } = app;

  app.get('/instances/lookup', {
    schema: {
      operationId: 'lookupInstance',
      tags: ['instances'],
      summary: 'Recognise an instance URL',
      description:
        'Normalises the URL the user typed and says whether the instance is set up: `next` tells the frontend to bootstrap, wait or send the user to `loginUrl`. No request goes to GitLab.',
      security: [],
      querystring: InstanceUrlQuery,
      response: { 200: ref(LookupResult), ...problemResponses('invalid_url', 'validation_failed', 'url_not_allowed') },
    },
    handler: (request) => lookupInstance(deps, request.query.url),
  });
}

/** Setting an instance up with an admin token, and the dry run of it (preflight), which writes nothing. */
function bootstrapRoutes(app: RouteScope): void {
  const { deps } = app;

  app.post('/instances/bootstrap', {
    config: { rateLimit: onboardingRateLimit(deps.config.bootstrapRateLimitPerMinute) },
    schema: {
      operationId: 'bootstrapInstance',
      tags: ['instances'],
      summary: 'Set an instance up with an admin token',
      description:
        'Checks the instance and the admin token, then creates (or finds) the bot user, its token and the instance-wide OAuth application. `201` on first set-up; `200` when the instance was already ready: every resource is re-checked and only what is missing or broken is re-created (listed in `repaired`). Re-running after a failure resumes; concurrent calls for one instance get `409 bootstrap_in_progress`. The admin token is used for this request only and never stored or logged.',
      security: [],
      body: ref(BootstrapRequest),
      response: {
        200: ref(BootstrapResult),
        201: ref(BootstrapResult),
        ...problemResponses('invalid_url', 'validation_failed', 'invalid_json', 'bootstrap_in_progress', 'payload_too_large', 'unsupported_media_type', 'url_not_allowed', 'not_gitlab', 'gitlab_version_unsupported', 'token_invalid', 'token_expired', 'token_revoked', 'token_not_admin', 'token_missing_scope', 'admin_mode_scope_required', 'bot_username_taken', 'bot_account_unusable', 'instance_already_registered', 'instance_identity_changed', 'rate_limited', 'service_busy', ...GITLAB_FAILURES),
      },
    },
    handler: async (request, reply) => {
      const { created, instance } = await bootstrapInstance(deps, request.body, `bootstrap from ${request.ip}`, request.log).catch(nameCaCertificateField);
      return reply.code(created ? 201 : 200).send({ ...instance, loginUrl: loginUrlOf(deps.config.publicUrl, instance.instanceId) });
    },
  });

  app.post('/instances/preflight', {
    config: { rateLimit: onboardingRateLimit(deps.config.bootstrapRateLimitPerMinute) },
    schema: {
      operationId: 'preflightInstance',
      tags: ['instances'],
      summary: 'Check what a bootstrap would meet, writing nothing',
      description:
        "Runs every check of the bootstrap that writes nothing, on GitLab or here: the URL policy, reachability and TLS, that it is a GitLab and its version, and with an admin token the token, BOT_USERNAME and the instance's settings. `ready` is true when a bootstrap with the same input would succeed. GitLab gets only GET requests; the admin token is never stored or logged.",
      security: [],
      body: ref(PreflightRequest),
      response: {
        200: ref(PreflightResult),
        ...problemResponses('invalid_url', 'validation_failed', 'invalid_json', 'payload_too_large', 'unsupported_media_type', 'rate_limited'),
      },
    },
    handler: async (request) => preflightInstance(deps, request.body, request.log).catch(nameCaCertificateField),
  });
}

/** Setting an instance up with credentials the admin made by hand (manual onboarding). */
function registerRoute(app: RouteScope): void {
  const { deps } = app;

  app.post('/instances/register', {
    config: { rateLimit: onboardingRateLimit(deps.config.bootstrapRateLimitPerMinute) },
    schema: {
      operationId: 'registerInstance',
      tags: ['instances'],
      summary: "Register an instance with the admin's own bot and OAuth application (manual onboarding)",
      description:
        "For admins who will not hand over an admin token. On GitLab they create a regular (not admin) bot user with a personal access token (scope `api`), and an instance-wide OAuth application with the redirect URI lookup's `callbackUrl`, the scopes of `GET /meta` `oauthScopes`, confidential. The service checks the instance as the bootstrap does, that the bot token is live, has `api` and is not an administrator's, and that GitLab's token endpoint accepts the client id and secret; it stores them encrypted and creates nothing on GitLab. A login failure that only GitLab sees (wrong redirect URI, missing scope) cannot be checked here: the application must have exactly that redirect URI and those scopes. `201` with `mode: manual`. A ready instance is never re-registered (`409 instance_already_registered`): use `PUT /internal/instances/:id/credentials` or an admin-token bootstrap.",
      security: [],
      body: ref(RegisterRequest),
      response: {
        201: ref(BootstrapResult),
        ...problemResponses('invalid_url', 'validation_failed', 'invalid_json', 'bootstrap_in_progress', 'instance_already_registered', 'payload_too_large', 'unsupported_media_type', 'url_not_allowed', 'not_gitlab', 'gitlab_version_unsupported', ...MANUAL_CREDENTIAL_FAILURES, 'rate_limited', 'service_busy', ...GITLAB_FAILURES),
      },
    },
    handler: async (request, reply) => {
      const instance = await registerInstance(deps, request.body, `register from ${request.ip}`, request.log).catch(nameCaCertificateField);
      return reply.code(201).send({ ...instance, loginUrl: loginUrlOf(deps.config.publicUrl, instance.instanceId) });
    },
  });
}

const instancesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { deps } = app;
  await app.register(rateLimit, clientRateLimitOptions(deps));
  lookupRoute(app);
  bootstrapRoutes(app);
  registerRoute(app);
};

export default instancesRoutes;

/** The GitLab client refuses a non-PEM CA without knowing HTTP fields; these routes name its field. */
const nameCaCertificateField = namingField(
  InvalidCaCertificateError,
  'body.caCertificate',
  "caCertificate must be one or more PEM certificates (-----BEGIN CERTIFICATE-----) and nothing else: paste the CA certificate that signs GitLab's TLS certificate, never a private key",
  'must be PEM certificates only',
);
