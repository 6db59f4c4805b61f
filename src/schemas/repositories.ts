// Models of the repository (installation) routes, the webhook intake and the internal webhook feed.
import Type from 'typebox';
import { Uuid } from './common.js';

export const Installation = Type.Object(
  {
    id: Uuid('The installation id: the last segment of its webhook URL'),
    projectId: Type.Integer({ description: "The project's GitLab id" }),
    pathWithNamespace: Type.String({ description: "The project's path, e.g. group/project" }),
    hookId: Type.Union([Type.Integer(), Type.Null()], { description: 'GitLab id of the project webhook this service created' }),
    webhookUrl: Type.String({ description: 'Where GitLab delivers the events: $PUBLIC_URL/webhooks/gitlab/<id>' }),
    membershipAddedByUs: Type.Boolean({ description: "Whether this service added the bot as a member (then an uninstall removes the membership; otherwise it stays)" }),
    brokenReason: Type.Union([Type.String(), Type.Null()], { description: 'What the user must do when the upkeep found the hook broken and could not repair it; null when working' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, description: 'The bot installed on one project' },
);

export const InstallationResult = Type.Object(
  {
    installation: Installation,
    repaired: Type.Array(Type.Union([Type.Literal('membership'), Type.Literal('hook')]), { description: 'What was found deleted (or disabled) on GitLab and re-created by this call' }),
  },
  { $id: 'InstallationResult', additionalProperties: false },
);

export const Repository = Type.Object(
  {
    projectId: Type.Integer(),
    pathWithNamespace: Type.String(),
    name: Type.String(),
    webUrl: Type.String(),
    accessLevel: Type.Integer({ description: "The user's access level on the project (40 Maintainer, 50 Owner)" }),
    installed: Type.Boolean(),
    installation: Type.Optional(Installation),
  },
  { additionalProperties: false },
);

export const RepositoryList = Type.Object(
  {
    repositories: Type.Array(Repository),
    page: Type.Integer({ description: 'This page (GitLab\'s page number)' }),
    perPage: Type.Integer(),
    nextPage: Type.Union([Type.Integer(), Type.Null()], { description: 'The next page, null on the last' }),
  },
  { $id: 'RepositoryList', additionalProperties: false, description: 'Projects where the user has at least Maintainer access' },
);

export const RepositoryListQuery = Type.Object(
  {
    search: Type.Optional(Type.String({ maxLength: 255, description: "Filter on the project's name or path (GitLab's search)" })),
    page: Type.Integer({ minimum: 1, maximum: 10000, default: 1 }),
    perPage: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  },
  { additionalProperties: false },
);

export const ProjectIdParams = Type.Object({ projectId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: "The project's GitLab id" }) }, { additionalProperties: false });

export const InstallationIdParams = Type.Object({ installationId: Type.String({ maxLength: 64, description: 'The installation id from the webhook URL' }) }, { additionalProperties: false });

export const WebhookReceipt = Type.Object(
  { received: Type.Literal(true), duplicate: Type.Boolean({ description: 'The delivery was stored before (a GitLab retry): acknowledged, not stored again' }) },
  { $id: 'WebhookReceipt', additionalProperties: false },
);

export const WebhookEvent = Type.Object(
  {
    cursor: Type.String({ description: 'Opaque position of this event; pass it as `after` to read what follows' }),
    installationId: Type.String({ format: 'uuid' }),
    instanceId: Type.String({ format: 'uuid' }),
    projectId: Type.Integer(),
    eventKind: Type.String({ description: 'X-Gitlab-Event, e.g. `Merge Request Hook`, `Note Hook`' }),
    receivedAt: Type.String({ format: 'date-time' }),
    body: Type.Object({}, { additionalProperties: true, description: 'The JSON GitLab delivered, unchanged' }),
  },
  { additionalProperties: false },
);

export const WebhookFeed = Type.Object(
  {
    events: Type.Array(WebhookEvent),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` next time (the last event\'s cursor; `after` again when none came)' }),
  },
  { $id: 'WebhookFeed', additionalProperties: false },
);

export const WebhookFeedQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 64, description: 'A cursor from an earlier answer; absent: from the oldest stored event' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 100 }),
    waitSeconds: Type.Integer({ minimum: 0, maximum: 60, default: 0, description: 'With no event after the cursor, wait up to this long for one (answered as soon as one is stored)' }),
  },
  { additionalProperties: false },
);
