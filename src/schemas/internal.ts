// Models of the internal instance routes: what internal services see of an instance (never a secret).
import Type, { type Static } from 'typebox';
import { GitlabTokenField, Uuid } from './common.js';
import { InstanceProblemField } from './instances.js';

export const InstanceIdParams = Type.Object({ id: Uuid('The instance id') }, { additionalProperties: false });

export const InstanceDetails = Type.Object(
  {
    id: Uuid('The instance id'),
    url: Type.String({ description: 'The normalised instance URL' }),
    status: Type.Union([Type.Literal('bootstrapping'), Type.Literal('failed'), Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('removed')], {
      description: 'Stored status; degraded: ready, but something needs the admin (see problem)',
    }),
    mode: Type.Union([Type.Literal('automated'), Type.Literal('manual')], { description: "automated: set up with an admin token; manual: the admin's own bot and OAuth application" }),
    problem: Type.Union([InstanceProblemField, Type.Null()], { description: 'degraded: what is wrong' }),
    health: Type.Object(
      {
        checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the last live check ran (the upkeep, or POST /internal/instances/:id/check)' }),
        nextCheckAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
          description: 'When the upkeep checks the instance next (it re-verifies every ready instance every UPKEEP_INTERVAL_SECONDS, spread over the interval); null before its first sweep and for instances that are not ready',
        }),
        problems: Type.Array(InstanceProblemField, { description: 'What makes the instance degraded now; empty when it is not' }),
        notices: Type.Array(InstanceProblemField, {
          description:
            'What needs attention without making the instance degraded: bot_token_short_lifetime (GitLab granted a bot token 8 days or fewer, as 16.0–16.5 do on every rotation: it must be rotated within that time)',
        }),
      },
      { additionalProperties: false, description: 'The last live check and what is wrong' },
    ),
    gitlabVersion: Type.Union([Type.String(), Type.Null()], { description: 'GitLab version seen by the last bootstrap' }),
    bot: Type.Union([Type.Object({ userId: Type.Integer(), username: Type.String() }, { additionalProperties: false }), Type.Null()], { description: 'The bot user on GitLab' }),
    oauthApplicationId: Type.Union([Type.Integer(), Type.Null()], { description: 'GitLab id of the OAuth application' }),
    botTokenExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the bot token expires' }),
    botTokenRotatesAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'When the upkeep rotates the bot token at the latest (the first run from then on): the earlier of the two tokens, at least 3 days (BOT_TOKEN_ROTATE_DAYS when more) plus one upkeep interval before expiry, or at half the lifetime GitLab granted; null when the service cannot rotate it (manual onboarding before GitLab 16.10) or it never expires',
    }),
    lastError: Type.Union(
      [Type.Object({ step: Type.String(), code: Type.String(), detail: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }), Type.Null()],
      { description: 'The last failure, with the step it happened in' },
    ),
    installations: Type.Optional(
      Type.Object(
        {
          total: Type.Integer({ minimum: 0, description: 'Projects the bot is installed on' }),
          broken: Type.Integer({ minimum: 0, description: 'Of those, installations the upkeep could not repair (the installing user must act: see GET /repositories)' }),
        },
        { additionalProperties: false, description: 'GET /internal/instances/:id only: the installations of PUT /repositories/:projectId/installation' },
      ),
    ),
    createdAt: Type.String({ format: 'date-time', description: 'When the instance was first seen' }),
    updatedAt: Type.String({ format: 'date-time', description: 'Last change' }),
  },
  { $id: 'InstanceDetails', additionalProperties: false, description: 'An instance as internal services see it' },
);
export type InstanceDetailsBody = Static<typeof InstanceDetails>;

export const InstanceEvent = Type.Object(
  {
    id: Type.String({ description: 'Event id (increasing)' }),
    step: Type.String({ description: 'What happened: a bootstrap step, bot_token_rotate, deprovision_*, removed' }),
    outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('repaired'), Type.Literal('skipped')], { description: 'How it ended' }),
    actor: Type.String({ description: 'Who caused it' }),
    detail: Type.Union([Type.String(), Type.Null()], { description: 'Human-readable detail, never a secret' }),
    errorCode: Type.Union([Type.String(), Type.Null()], { description: 'The problem code when it failed' }),
    createdAt: Type.String({ format: 'date-time', description: 'When' }),
  },
  { $id: 'InstanceEvent', additionalProperties: false, description: 'One entry of the audit trail' },
);
export type InstanceEventBody = Static<typeof InstanceEvent>;

export const BotToken = Type.Object(
  {
    token: Type.String({ description: "The bot's personal access token (scope api)" }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When it expires (null: never)' }),
  },
  { $id: 'BotToken', additionalProperties: false, description: 'The bot token for the review workers' },
);
export type BotTokenBody = Static<typeof BotToken>;

export const DeprovisionRequest = Type.Object(
  {
    adminToken: Type.Optional(
      GitlabTokenField('An admin token: also delete the OAuth application, revoke the bot token and block the bot on GitLab'),
    ),
  },
  { $id: 'DeprovisionRequest', additionalProperties: false, description: 'Optional clean-up on GitLab' },
);
export type DeprovisionRequestBody = Static<typeof DeprovisionRequest>;

export const DeprovisionResult = Type.Object(
  {
    instanceId: Uuid('The instance id'),
    status: Type.Literal('removed', { description: 'Always removed' }),
    gitlab: Type.Union(
      [
        Type.Object(
          {
            oauthApplicationDeleted: Type.Boolean({ description: 'The OAuth application is gone from GitLab' }),
            botTokenRevoked: Type.Boolean({ description: 'The bot token is revoked' }),
            botBlocked: Type.Boolean({ description: 'The bot user is blocked' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'What was cleaned up on GitLab (null without an admin token)' },
    ),
    leftOnGitlab: Type.Union(
      [
        Type.Object(
          {
            botTokenId: Type.Union([Type.Integer(), Type.Null()], { description: "The bot token's id on GitLab" }),
            botTokenLive: Type.Boolean({ description: 'The bot token still works on GitLab (until botTokenExpiresAt): revoke it' }),
            botTokenExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the bot token expires' }),
            oauthApplicationId: Type.Union([Type.Integer(), Type.Null()], { description: "The OAuth application's id on GitLab" }),
            botUserId: Type.Union([Type.Integer(), Type.Null()], { description: "The bot user's id on GitLab" }),
            botUsername: Type.Union([Type.String(), Type.Null()], { description: "The bot user's username" }),
            howToRemove: Type.Array(Type.String(), { description: 'The GitLab API calls an administrator makes to remove them' }),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'Without an admin token: what stays on GitLab and how to remove it (null when GitLab was cleaned up)' },
    ),
  },
  { $id: 'DeprovisionResult', additionalProperties: false, description: 'The instance is out of service' },
);
export type DeprovisionResultBody = Static<typeof DeprovisionResult>;
