// Request and response models of the public instance routes.
import Type, { type Static } from 'typebox';
import { GitlabTokenField, Uuid } from './common.js';

const InstanceModeField = Type.Union([Type.Literal('automated'), Type.Literal('manual')], {
  description: "automated: set up with an admin token (the service owns the bot and the OAuth application); manual: registered with the admin's own bot token and application",
});

/** What is wrong with a failed or degraded instance; never a secret or GitLab's raw text. */
export const InstanceProblemField = Type.Object(
  {
    code: Type.String({ description: 'Stable code, e.g. token_not_admin or bot_token_expiring (the README\'s Troubleshooting section says what to do)' }),
    step: Type.String({ description: 'The bootstrap step that failed, or the part of the set-up it concerns' }),
    title: Type.String({ description: 'What is wrong, in this service\'s words' }),
  },
  { additionalProperties: false, description: 'failed: what went wrong last time; degraded: what is wrong now' },
);

export const InstanceUrlQuery = Type.Object(
  { url: Type.String({ description: 'The GitLab instance URL as the user typed it, e.g. `git.example.com/gitlab`', examples: ['https://gitlab.example.com'] }) },
  { additionalProperties: false },
);

export const LookupResult = Type.Object(
  {
    url: Type.String({ description: 'The normalised instance URL' }),
    status: Type.Union([Type.Literal('unregistered'), Type.Literal('bootstrapping'), Type.Literal('failed'), Type.Literal('ready'), Type.Literal('degraded')], {
      description: 'Where the instance stands: not set up, being set up, set-up failed, ready for login, degraded (logins work; see problem)',
    }),
    next: Type.Union([Type.Literal('bootstrap'), Type.Literal('wait'), Type.Literal('login')], {
      description: 'What the frontend does next: ask for an admin token and bootstrap, wait and look up again, or send the user to loginUrl',
    }),
    callbackUrl: Type.String({
      description: "The OAuth redirect URI of this instance's application (below `$PUBLIC_URL/auth/gitlab/callback/`): distinct per instance URL, known before registration, for an admin who creates the application by hand",
    }),
    instanceId: Type.Optional(Uuid('The instance id, once a bootstrap has started')),
    loginUrl: Type.Optional(Type.String({ description: 'Absolute URL of GET /auth/gitlab/start for this instance (ready, and degraded while logins work)' })),
    step: Type.Optional(
      Type.String({ description: 'bootstrapping: the step the running bootstrap is at (`url`, `probe`, `verify_token`, `bot_user`, `bot_token`, `oauth_application`), for a progress display' }),
    ),
    problem: Type.Optional(InstanceProblemField),
  },
  { $id: 'LookupResult', additionalProperties: false, description: 'What the service knows of an instance URL' },
);

export type LookupResultBody = Static<typeof LookupResult>;

export const BootstrapRequest = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'The instance URL (normalised as by lookup)', examples: ['https://gitlab.example.com'] }),
    adminToken: GitlabTokenField(
      "An administrator's personal access token with the `api` scope (and `admin_mode` when Admin Mode is on). Used for this request only; never stored or logged.",
    ),
    caCertificate: Type.Optional(
      Type.String({ minLength: 1, maxLength: 65536, description: "PEM of the CA that signs the instance's TLS certificate; kept and used for every later call" }),
    ),
  },
  { $id: 'BootstrapRequest', additionalProperties: false, description: 'What the bootstrap needs, once' },
);

const OauthApplicationCredentials = Type.Object(
  {
    clientId: Type.String({ minLength: 1, maxLength: 256, description: "The application's client id (GitLab: Application ID)" }),
    clientSecret: GitlabTokenField("The application's client secret (GitLab: Secret); stored encrypted"),
  },
  { additionalProperties: false, description: 'The instance-wide OAuth application the admin created: redirect URI = lookup\'s callbackUrl, scopes OAUTH_SCOPES, confidential' },
);

const BotTokenField = GitlabTokenField("The bot user's personal access token (scope api; the user must not be an administrator); stored encrypted");

export const RegisterRequest = Type.Object(
  {
    url: BootstrapRequest.properties.url,
    botToken: BotTokenField,
    oauthApplication: OauthApplicationCredentials,
    caCertificate: BootstrapRequest.properties.caCertificate,
  },
  { $id: 'RegisterRequest', additionalProperties: false, description: 'Manual onboarding: the credentials of the bot and the OAuth application the admin created' },
);

export type RegisterRequestBody = Static<typeof RegisterRequest>;

export const CredentialsRequest = Type.Object(
  { botToken: Type.Optional(BotTokenField), oauthApplication: Type.Optional(OauthApplicationCredentials) },
  { $id: 'CredentialsRequest', additionalProperties: false, minProperties: 1, description: 'The credentials to replace (at least one), checked as by register' },
);

export type CredentialsRequestBody = Static<typeof CredentialsRequest>;

export type BootstrapRequestBody = Static<typeof BootstrapRequest>;

export const BootstrapResult = Type.Object(
  {
    instanceId: Uuid('The instance id'),
    url: Type.String({ description: 'The normalised instance URL' }),
    status: Type.Literal('ready', { description: 'Always ready on success' }),
    gitlabVersion: Type.String({ description: 'The GitLab version, e.g. 17.8.1-ee' }),
    bot: Type.Object(
      { userId: Type.Integer({ description: 'GitLab user id of the bot' }), username: Type.String({ description: 'GitLab username of the bot' }) },
      { additionalProperties: false, description: 'The bot user' },
    ),
    oauthApplication: Type.Object(
      {
        id: Type.Union([Type.Integer(), Type.Null()], { description: 'GitLab id of the OAuth application (null on a manual instance: the admin gave only its client id)' }),
        clientId: Type.String({ description: 'The OAuth client id (application_id)' }),
        scopes: Type.Array(Type.String(), { description: 'Scopes of the application' }),
      },
      { additionalProperties: false, description: 'The instance-wide OAuth application' },
    ),
    loginUrl: Type.String({ description: 'Absolute URL of GET /auth/gitlab/start for this instance' }),
    mode: InstanceModeField,
    repaired: Type.Array(Type.Union([Type.Literal('bot_user'), Type.Literal('bot_token'), Type.Literal('oauth_application')]), {
      description: 'What was missing or broken on GitLab and was re-created (empty on first set-up)',
    }),
  },
  { $id: 'BootstrapResult', additionalProperties: false, description: 'The instance, set up and ready for login' },
);

export type BootstrapResultBody = Static<typeof BootstrapResult>;

export const PreflightRequest = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'The instance URL (normalised as by lookup)', examples: ['https://gitlab.example.com'] }),
    adminToken: Type.Optional(
      GitlabTokenField("The administrator's personal access token the bootstrap would get; without it only the URL and GitLab itself are checked. Used for this request only; never stored or logged."),
    ),
    caCertificate: Type.Optional(Type.String({ minLength: 1, maxLength: 65536, description: "PEM of the CA that signs the instance's TLS certificate" })),
  },
  { $id: 'PreflightRequest', additionalProperties: false, description: 'What the bootstrap would get' },
);

export type PreflightRequestBody = Static<typeof PreflightRequest>;

const PreflightCheck = Type.Object(
  {
    name: Type.Union([Type.Literal('url'), Type.Literal('reachable'), Type.Literal('gitlab'), Type.Literal('version'), Type.Literal('admin_token'), Type.Literal('bot_username'), Type.Literal('instance_settings')], {
      description: 'What was checked: the URL policy, reachability and TLS, that it is a GitLab, its version, the admin token (validity, expiry, administrator, scopes, Admin Mode), BOT_USERNAME, the instance settings',
    }),
    status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail'), Type.Literal('skipped')], { description: 'The outcome; skipped when it could not or need not run' }),
    code: Type.Optional(Type.String({ description: 'fail: the error code the bootstrap would answer with' })),
    detail: Type.String({ description: 'What was found' }),
    fix: Type.Optional(Type.String({ description: 'fail: what to do (the advice of the Troubleshooting table)' })),
  },
  { additionalProperties: false, description: 'One check of the preflight' },
);

export const PreflightResult = Type.Object(
  {
    url: Type.String({ description: 'The normalised instance URL' }),
    ready: Type.Boolean({ description: 'True when a bootstrap with the same input would succeed' }),
    checks: Type.Array(PreflightCheck, { description: 'The checklist, in the order the bootstrap runs it' }),
  },
  { $id: 'PreflightResult', additionalProperties: false, description: 'What a bootstrap with this input would meet; nothing was written' },
);
