// GitLab's webhook deliveries (public: GitLab calls it, authenticated by the hook's secret token) and
// the internal feed the review workers read them from.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import { AppError } from '../errors.js';
import { registerInternalAuth } from '../plugins/internal-auth.js';
import { problemResponses } from '../schemas/problem.js';
import { ref } from '../schemas/ref.js';
import { InstallationIdParams, WebhookFeed, WebhookFeedQuery, WebhookReceipt } from '../schemas/repositories.js';
import { cursorOf, InvalidCursorError, readFeed, receiveWebhook } from '../services/webhooks.service.js';
import { namingField } from './route-scope.js';

/**
 * GitLab encodes webhook bodies up to 25 MiB (app/services/web_hook_service.rb REQUEST_BODY_SIZE_LIMIT,
 * Gitlab::Json::LimitedEncoder): the largest merge request event GitLab sends is accepted.
 */
export const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;
const HEADER_MAX = 128;

/** A header's single value, bounded; undefined when absent, repeated or too long. */
function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && value.length <= HEADER_MAX ? value : undefined;
}

const webhookIntake: FastifyPluginAsyncTypebox = (app) => {
  // The body is kept exactly as GitLab sent it; it must be a JSON object.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => {
    const text = body as string;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      done(new AppError('invalid_json', 'The webhook body is not valid JSON'), undefined);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) done(new AppError('invalid_json', 'The webhook body must be a JSON object'), undefined);
    else done(null, { raw: text });
  });

  app.post('/webhooks/gitlab/:installationId', {
    bodyLimit: WEBHOOK_BODY_LIMIT,
    schema: {
      operationId: 'receiveGitlabWebhook',
      tags: ['webhooks'],
      summary: "GitLab's webhook delivery for an installation",
      description:
        "Called by GitLab. `X-Gitlab-Token` must be the installation's secret token (compared in constant time; `401 webhook_unauthorized` and nothing stored otherwise). The event is stored durably before the answer; a delivery already stored (same `Idempotency-Key`, GitLab 17.4+, else same `X-Gitlab-Event-UUID` and `X-Gitlab-Event`) is acknowledged with `duplicate: true` and not stored again. Bodies up to 25 MiB (GitLab's own limit), `application/json` only.",
      security: [{ gitlabWebhookToken: [] }],
      params: InstallationIdParams,
      response: { 200: ref(WebhookReceipt), ...problemResponses('webhook_unauthorized', 'invalid_json', 'validation_failed', 'payload_too_large', 'unsupported_media_type') },
    },
    handler: async (request) => {
      const eventKind = header(request.headers['x-gitlab-event']);
      if (!eventKind) throw new AppError('validation_failed', 'X-Gitlab-Event is required (at most 128 characters)', { errors: [{ field: 'X-Gitlab-Event', message: 'missing or too long' }] });
      // No body and no Content-Type reach the handler unparsed: GitLab always sends one.
      const body = request.body as { raw: string } | undefined;
      if (!body) throw new AppError('invalid_json', 'The webhook has no body: GitLab sends each event as a JSON object (Content-Type: application/json)');
      const { stored } = await receiveWebhook(
        app.deps,
        {
          installationId: request.params.installationId,
          token: header(request.headers['x-gitlab-token']),
          eventKind,
          webhookUuid: header(request.headers['x-gitlab-webhook-uuid']),
          eventUuid: header(request.headers['x-gitlab-event-uuid']),
          idempotencyKey: header(request.headers['idempotency-key']),
          body: body.raw,
        },
        request.log,
      );
      return { received: true as const, duplicate: !stored };
    },
  });
  return Promise.resolve();
};

const webhookFeedRoutes: FastifyPluginAsyncTypebox = (app) => {
  registerInternalAuth(app);
  app.get('/internal/webhook-events', {
    schema: {
      operationId: 'readWebhookEvents',
      tags: ['internal'],
      summary: 'The stored webhook events, in order, after a cursor',
      description:
        'Events in the order the feed fixes once (a later event never appears before a cursor already handed out), at least once: keep `nextCursor` and pass it as `after`. With `waitSeconds` and nothing new, the answer waits until an event is stored (woken by PostgreSQL LISTEN/NOTIFY) or the time is up. An event is handed out once every transaction older than it has ended (on the whole database server: a long transaction elsewhere delays the feed; meanwhile the wait asks again every second at most). Bodies are the JSON GitLab delivered; one answer carries at most 16 MiB of bodies (at least one event). Events are deleted after WEBHOOK_EVENT_RETENTION_DAYS.',
      security: [{ internalBearer: [] }],
      querystring: WebhookFeedQuery,
      response: { 200: ref(WebhookFeed), ...problemResponses('validation_failed', 'internal_unauthorized', 'rate_limited') },
    },
    handler: async (request, reply) => {
      const { events, nextCursor } = await readFeed(app.deps, request.query).catch(nameCursorField);
      // Built by hand: the stored bodies are JSON already, and are not parsed again to be re-serialised.
      const items = events.map((event) => {
        const fields = {
          cursor: cursorOf(event),
          installationId: event.installationId,
          instanceId: event.instanceId,
          projectId: Number(event.projectId),
          eventKind: event.eventKind,
          receivedAt: event.receivedAt.toISOString(),
        };
        return `${JSON.stringify(fields).slice(0, -1)},"body":${event.body}}`;
      });
      const json = `{"events":[${items.join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
      // A string is sent as it is (no serializer runs on it); its shape is the declared WebhookFeed.
      return reply.type('application/json; charset=utf-8').send(json as unknown as Static<typeof WebhookFeed>);
    },
  });
  return Promise.resolve();
};

export { webhookFeedRoutes, webhookIntake };

/** The feed refuses a cursor it never handed out without knowing HTTP fields; this route names its field. */
const nameCursorField = namingField(
  InvalidCursorError,
  'querystring.after',
  "after must be a cursor this feed handed out: pass the nextCursor of the previous answer (or an event's cursor), or leave it out to start from the oldest event",
  'not a cursor of this feed',
);
