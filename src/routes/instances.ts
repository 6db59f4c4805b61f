// Public instance routes: lookup and bootstrap.
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { AppError } from '../errors.js';
import { InstanceUrlQuery, type BootstrapRequestBody, type BootstrapResultBody, type LookupResultBody } from '../schemas/instances.js';
import { GITLAB_FAILURES, problemResponses } from '../schemas/problem.js';
import { databaseRateLimitStore } from '../plugins/rate-limit-store.js';
import { bootstrapInstance } from '../services/bootstrap/bootstrap.service.js';
import { lookupInstance } from '../services/instances.service.js';

const lookupResultRef = Type.Unsafe<LookupResultBody>(Type.Ref('LookupResult'));
const bootstrapRequestRef = Type.Unsafe<BootstrapRequestBody>(Type.Ref('BootstrapRequest'));
const bootstrapResultRef = Type.Unsafe<BootstrapResultBody>(Type.Ref('BootstrapResult'));

const instancesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(rateLimit, {
    global: false,
    store: databaseRateLimitStore(app.db, app.clock),
    keyGenerator: (request) => `bootstrap:${request.ip}`,
    errorResponseBuilder: (_request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError('rate_limited', `At most ${context.max} bootstrap calls per minute from one address; retry in ${retryAfter} s`, { retryAfter });
    },
  });

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
    handler: async (request) => lookupInstance(app.instanceLookups, app.config, request.query.url, app.clock()),
  });

  app.post('/instances/bootstrap', {
    config: { rateLimit: { max: app.config.bootstrapRateLimitPerMinute, timeWindow: 60_000 } },
    schema: {
      operationId: 'bootstrapInstance',
      tags: ['instances'],
      summary: 'Set an instance up with an admin token',
      description:
        'Checks the instance and the admin token, then creates (or finds) the bot user, its token and the instance-wide OAuth application. `201` on first set-up; `200` when the instance was already ready: every resource is re-checked and only what is missing or broken is re-created (listed in `repaired`). Re-running after a failure resumes; concurrent calls for one instance get `409 bootstrap_in_progress`. The admin token is used for this request only and never stored or logged.',
      security: [],
      body: bootstrapRequestRef,
      response: {
        200: bootstrapResultRef,
        201: bootstrapResultRef,
        ...problemResponses('invalid_url', 'validation_failed', 'invalid_json', 'bootstrap_in_progress', 'payload_too_large', 'unsupported_media_type', 'url_not_allowed', 'not_gitlab', 'gitlab_version_unsupported', 'token_invalid', 'token_expired', 'token_revoked', 'token_not_admin', 'token_missing_scope', 'admin_mode_scope_required', 'bot_username_taken', 'rate_limited', ...GITLAB_FAILURES),
      },
    },
    handler: async (request, reply) => {
      const deps = { db: app.db, config: app.config, sealer: app.sealer, gitlab: app.gitlab, gitlabHttp: app.gitlabHttp, clock: app.clock, log: request.log };
      const { created, result } = await bootstrapInstance(deps, request.body, `bootstrap from ${request.ip}`);
      return reply.code(created ? 201 : 200).send(result);
    },
  });
};

export default instancesRoutes;
