// Examples for the OpenAPI document: a request body per operation that takes one, a value per success
// answer, and (problemExample) a problem per code built from the error catalogue. `redocly lint` checks
// each against its schema.
import { adviseDetail } from '../diagnoses.js';
import { errorCatalog, type ErrorCode } from '../errors.js';

const instanceId = '0b9c5f3e-7c1a-4e8b-9a51-3f2d4c6b8a10';
const userId = '5d0e2a8c-1f4b-4c3d-9e7a-6b8c9d0e1f2a';
const url = 'https://gitlab.example.com';
const loginUrl = `http://localhost:3000/auth/gitlab/start?instance=${instanceId}`;
const adminToken = 'glpat-AbCdEfGhIjKlMnOpQrSt';
const scopes = ['api', 'read_user', 'openid', 'email'];
const at = '2026-11-30T09:15:00.000Z';
const callbackUrl = 'http://localhost:3000/auth/gitlab/callback/q2Jb0yv1fTqKXoW3mG8nRc';

const bootstrapResult = {
  instanceId,
  url,
  status: 'ready',
  gitlabVersion: '17.8.1-ee',
  bot: { userId: 42, username: 'review-bot' },
  oauthApplication: { id: 7, clientId: '3f1c9b2e8d7a6c5b4e3f2a1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b', scopes },
  loginUrl,
  mode: 'automated',
  repaired: [],
};
const manualCredentials = { botToken: 'glpat-BoTtOkEnAbCdEfGhIjKl', oauthApplication: { clientId: bootstrapResult.oauthApplication.clientId, clientSecret: 'gloas-0123456789abcdef' } };
const registeredResult = { ...bootstrapResult, oauthApplication: { ...bootstrapResult.oauthApplication, id: null }, mode: 'manual' };
const instanceDetails = {
  id: instanceId,
  url,
  status: 'ready',
  gitlabVersion: '17.8.1-ee',
  bot: { userId: 42, username: 'review-bot' },
  oauthApplicationId: 7,
  botTokenExpiresAt: '2027-11-29T00:00:00.000Z',
  botTokenRotatesAt: '2027-10-30T00:00:00.000Z',
  lastError: null,
  mode: 'automated',
  problem: null,
  health: { checkedAt: null, nextCheckAt: null, problems: [], notices: [] },
  createdAt: at,
  updatedAt: at,
};

const applicationProblem = {
  code: 'oauth_application_unusable',
  step: 'oauth_application',
  title: "GitLab refuses this instance's OAuth client id and secret (the application was deleted, or its secret renewed): users cannot log in; run POST /instances/bootstrap with an admin token to re-create it, or (manual onboarding) send the new credentials with PUT /internal/instances/:id/credentials",
};

type Examples = Record<string, { summary: string; value: unknown }>;
const one = (summary: string, value: unknown): Examples => ({ example: { summary, value } });

/** Request body examples by operationId. */
export const requestExamples: Record<string, Examples> = {
  bootstrapInstance: { example: { summary: 'An instance URL and an administrator token', value: { url, adminToken } } },
  preflightInstance: { example: { summary: 'What the bootstrap would get', value: { url, adminToken } } },
  registerInstance: { example: { summary: "The admin's own bot token and OAuth application", value: { url, ...manualCredentials } } },
  replaceInstanceCredentials: {
    botToken: { summary: 'A new bot token', value: { botToken: manualCredentials.botToken } },
    both: { summary: 'A new bot token and application', value: manualCredentials },
  },
  deprovisionInstance: {
    withAdminToken: { summary: 'Also clean up GitLab', value: { adminToken } },
    withoutAdminToken: { summary: 'Leave GitLab as it is (the answer lists what stays)', value: {} },
  },
};

/** Success answer examples by operationId and status. */
const installationExample = {
  id: '7d3f5c1e-2b4a-4c8e-9f10-3a5b7c9d1e2f',
  projectId: 42,
  pathWithNamespace: 'group/api',
  hookId: 17,
  webhookUrl: 'https://connect.example.com/webhooks/gitlab/7d3f5c1e-2b4a-4c8e-9f10-3a5b7c9d1e2f',
  membershipAddedByUs: true,
  brokenReason: null,
  createdAt: '2026-12-01T10:00:00.000Z',
  updatedAt: '2026-12-01T10:00:00.000Z',
};

export const responseExamples: Record<string, Record<string, Examples>> = {
  listRepositories: {
    200: one('One page of projects', {
      repositories: [{ projectId: 42, pathWithNamespace: 'group/api', name: 'api', webUrl: 'https://git.example.com/group/api', accessLevel: 40, installed: true, installation: installationExample }],
      page: 1,
      perPage: 20,
      nextPage: null,
    }),
  },
  installOnRepository: {
    200: one('Already installed; a deleted hook re-created', { installation: installationExample, repaired: ['hook'] }),
    201: one('Installed now', { installation: installationExample, repaired: [] }),
  },
  receiveGitlabWebhook: { 200: one('Stored', { received: true, duplicate: false }) },
  readWebhookEvents: {
    200: one('One event', {
      events: [{ cursor: '7391-12', installationId: installationExample.id, instanceId: '0b6f1c9e-5d2a-4e7b-8c3f-1a2b3c4d5e6f', projectId: 42, eventKind: 'Merge Request Hook', receivedAt: '2026-12-01T10:05:00.000Z', body: { object_kind: 'merge_request' } }],
      nextCursor: '7391-12',
    }),
  },
  getLiveness: { 200: one('Alive', { status: 'ok' }) },
  getReadiness: { 200: one('The database answers', { status: 'ready' }) },
  getOpenApiDocument: { 200: one('This document (abridged)', { openapi: '3.1.0', info: { title: 'gitlab-connect', version: '0.1.0' }, paths: {} }) },
  getIndex: { 200: one('Links', { service: 'gitlab-connect', version: '0.1.0', links: { me: '/me', docs: '/docs', openapi: '/openapi.json' } }) },
  getMeta: {
    200: one('What an administrator needs before bootstrapping', {
      egressIps: ['203.0.113.7/32'],
      callbackUrl: 'http://localhost:3000/auth/gitlab/callback',
      minimumGitlabVersion: '16.0.0',
      adminTokenScopes: ['api'],
      oauthScopes: scopes,
      version: '0.1.0',
    }),
  },
  lookupInstance: {
    200: {
      ready: { summary: 'Set up: send the user to loginUrl', value: { url, status: 'ready', next: 'login', callbackUrl, instanceId, loginUrl } },
      unregistered: { summary: 'Unknown: ask for an admin token and bootstrap', value: { url, status: 'unregistered', next: 'bootstrap', callbackUrl } },
      bootstrapping: { summary: 'A bootstrap runs: show its step, look up again shortly', value: { url, status: 'bootstrapping', next: 'wait', callbackUrl, instanceId, step: 'bot_user' } },
      failed: {
        summary: 'The last bootstrap failed: show the problem, then bootstrap again',
        value: { url, status: 'failed', next: 'bootstrap', callbackUrl, instanceId, problem: { code: 'token_not_admin', step: 'verify_token', title: 'The token does not belong to an administrator' } },
      },
      degraded: {
        summary: 'Logins work, but the manual bot token expires soon',
        value: {
          url,
          status: 'degraded',
          next: 'login',
          callbackUrl,
          instanceId,
          loginUrl,
          problem: { code: 'bot_token_expiring', step: 'bot_token', title: 'The bot token expires within 14 days and this GitLab (before 16.10) cannot rotate it: create a new one and send it with PUT /internal/instances/:id/credentials' },
        },
      },
    },
  },
  bootstrapInstance: {
    201: one('Set up for the first time', bootstrapResult),
    200: one('Already set up; the missing bot token was re-created', { ...bootstrapResult, repaired: ['bot_token'] }),
  },
  preflightInstance: {
    200: {
      ready: {
        summary: 'Everything a bootstrap needs is in place',
        value: {
          url,
          ready: true,
          checks: [
            { name: 'url', status: 'pass', detail: 'the URL is allowed' },
            { name: 'reachable', status: 'pass', detail: `${url} answers over https` },
            { name: 'gitlab', status: 'pass', detail: 'GitLab answers (OpenID configuration or API)' },
            { name: 'version', status: 'pass', detail: 'GitLab 17.8.1-ee' },
            { name: 'admin_token', status: 'pass', detail: 'a valid, unexpired administrator token with the api scope that can make admin calls' },
            { name: 'bot_username', status: 'pass', detail: 'review-bot is free' },
            {
              name: 'instance_settings',
              status: 'warn',
              detail:
                "the maximum token lifetime is 90 days: the bot's token gets 90 days (its standby about half) and is rotated that much more often; sign-ups need admin approval, which does not hold a user the bootstrap creates",
            },
          ],
        },
      },
      notReady: {
        summary: 'Admin Mode is on and the token lacks admin_mode',
        value: {
          url,
          ready: false,
          checks: [
            { name: 'admin_token', status: 'fail', code: 'admin_mode_scope_required', detail: 'Admin Mode is on for this instance: create the admin token with the admin_mode scope as well as api', fix: 'Admin Mode is on …' },
          ],
        },
      },
    },
  },
  registerInstance: { 201: one('Registered with the credentials the admin gave', registeredResult) },
  replaceInstanceCredentials: { 200: one('Credentials replaced', registeredResult) },
  getMe: {
    200: one('The logged-in user', {
      user: { id: userId, gitlabUserId: 1234, username: 'alice', name: 'Alice Example', email: 'alice@example.com', avatarUrl: null },
      instance: { id: instanceId, url },
    }),
  },
  listInstances: { 200: one('One ready instance', { instances: [instanceDetails] }) },
  getInstance: { 200: one('A ready instance', instanceDetails) },
  checkInstance: {
    200: {
      ready: { summary: 'Everything GitLab was asked accepted', value: { ...instanceDetails, health: { checkedAt: at, nextCheckAt: at, problems: [], notices: [] } } },
      degraded: { summary: 'The OAuth application was deleted on GitLab', value: { ...instanceDetails, status: 'degraded', problem: applicationProblem, health: { checkedAt: at, nextCheckAt: at, problems: [applicationProblem], notices: [] } } },
    },
  },
  listInstanceEvents: {
    200: one('The first events of a bootstrap', {
      events: [
        { id: '1', step: 'url', outcome: 'succeeded', actor: 'bootstrap from 198.51.100.23', detail: null, errorCode: null, createdAt: at },
        { id: '2', step: 'version', outcome: 'succeeded', actor: 'bootstrap from 198.51.100.23', detail: 'GitLab 17.8.1-ee', errorCode: null, createdAt: at },
      ],
    }),
  },
  deprovisionInstance: {
    200: {
      cleanedUp: { summary: 'With an admin token: GitLab cleaned up', value: { instanceId, status: 'removed', gitlab: { oauthApplicationDeleted: true, botTokenRevoked: true, botBlocked: true }, leftOnGitlab: null } },
      leftOnGitlab: {
        summary: 'Without an admin token: what stays on GitLab and how to remove it',
        value: {
          instanceId,
          status: 'removed',
          gitlab: null,
          leftOnGitlab: {
            botTokenId: 99,
            botTokenLive: true,
            botTokenExpiresAt: '2027-11-29T00:00:00.000Z',
            oauthApplicationId: 7,
            botUserId: 42,
            botUsername: 'review-bot',
            howToRemove: [`DELETE ${url}/api/v4/personal_access_tokens/99 with an administrator's token (scope api, plus admin_mode when Admin Mode is on): revokes the bot token`],
          },
        },
      },
    },
  },
  listUpkeepRuns: {
    200: one('A sweep and the instance run it queued (the bot token rotated)', {
      runs: [
        { id: '42', job: 'instance', instanceId, startedAt: at, finishedAt: at, outcome: 'succeeded', counts: { botToken: 'rotated', check: 'ok' }, error: null },
        {
          id: '41', job: 'sweep', instanceId: null, startedAt: at, finishedAt: at, outcome: 'succeeded',
          counts: { loginStatesDeleted: 3, sessionsDeleted: 1, rateLimitWindowsDeleted: 12, abandonedInstancesDeleted: 0, upkeepRunsDeleted: 0, instancesQueued: 1 }, error: null,
        },
      ],
    }),
  },
  triggerUpkeepSweep: { 202: one('The sweep is queued', { queued: true }) },
  getBotToken: { 200: one('The current bot token', { token: 'glpat-ZyXwVuTsRqPoNmLkJiHg', expiresAt: '2027-11-29T00:00:00.000Z' }) },
  rotateBotToken: { 200: one('The new bot token, after both tokens were rotated', { token: 'glpat-QwErTyUiOpAsDfGhJkLz', expiresAt: '2027-11-26T00:00:00.000Z' }) },
  getUserGitlabToken: { 200: one("The user's access token", { accessToken: 'a3f9c2e1b8d7c6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1', expiresAt: '2026-11-30T11:15:00.000Z' }) },
  getMetrics: {
    200: one('A scrape (abridged)', '# HELP gitlab_connect_bootstraps_total Bootstrap calls by outcome\n# TYPE gitlab_connect_bootstraps_total counter\ngitlab_connect_bootstraps_total{outcome="success",code="none"} 3\n'),
  },
};

/** Extra members a problem of this code typically carries. */
const problemExtras: Partial<Record<ErrorCode, Record<string, unknown>>> = {
  validation_failed: { errors: [{ field: '/url', message: 'must NOT have fewer than 1 characters' }] },
  token_missing_scope: { step: 'admin_token', missingScopes: ['api'] },
  bot_token_missing_scope: { step: 'bot_token', missingScopes: ['api'] },
  bot_token_is_admin: { step: 'bot_token' },
  oauth_client_invalid: { step: 'oauth_application' },
  rate_limited: { retryAfter: 60 },
  bot_account_unusable: { step: 'bot_user', reason: 'terms_not_accepted' },
  bot_username_taken: { step: 'bot_user' },
  instance_identity_changed: { step: 'probe' },
  gitlab_rate_limited: { retryAfter: 30 },
  url_not_allowed: { step: 'url' },
  not_gitlab: { step: 'probe', suggestedUrl: 'https://git.example.com/gitlab' },
  gitlab_redirected: { step: 'probe', location: 'https://gitlab.example.org' },
  gitlab_blocked: { step: 'probe' },
  gitlab_unreachable: { step: 'probe', reason: 'dns' },
  gitlab_tls_error: { step: 'probe', reason: 'incomplete_chain' },
  service_busy: { retryAfter: 5 },
};

/** What happened in the example occurrence of a code, before the diagnoses table's advice. */
const occurrences: Partial<Record<ErrorCode, string>> = {
  not_gitlab: 'https://git.example.com/gitlab/group/project does not answer like a GitLab instance',
  gitlab_redirected: 'https://gitlab.example.com answers with a redirect to https://gitlab.example.org',
  gitlab_blocked: 'gitlab.example.com answered 403 with an HTML page where GitLab answers JSON',
  gitlab_unreachable: 'gitlab.example.com cannot be reached: its name does not resolve (ENOTFOUND)',
  gitlab_tls_error: 'The TLS certificate of gitlab.example.com cannot be verified (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
};

/** A problem document for `code`, as the error plugin sends it (the detail carries the diagnoses table's advice). */
export function problemExample(code: ErrorCode) {
  const { status, title } = errorCatalog[code];
  const extras = problemExtras[code];
  return {
    type: `urn:gitlab-connect:problem:${code}`,
    title,
    status,
    detail: adviseDetail(code, occurrences[code] ?? title, typeof extras?.reason === 'string' ? extras.reason : undefined),
    code,
    ...extras,
    requestId: '6f1d2c3b-4a5e-4f60-8b7a-9c0d1e2f3a4b',
  };
}
