// The Postman collection's flow: which operation runs in which order, with what request, and the tests
// Postman runs on each answer (status, problem `code`, values carried on: instanceId, the session cookie,
// the user id, the project, installation and hook ids, the feed cursor). Cookie auth stays a cookie: the
// login's redirects fill Postman's cookie jar. One step calls the (fake) GitLab itself: its hook test API
// makes GitLab deliver an event to the installed hook with the hook's secret token, which nobody else sees.

export interface FlowStep {
  /** operationId in openapi/openapi.json: the step borrows its description and saved examples. Absent for a GitLab call. */
  operationId?: string;
  /** A call to GitLab's API at {{gitlabUrl}} instead of this service, described here. */
  gitlab?: { description: string };
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path (and query) after {{baseUrl}} (or {{gitlabUrl}}), with {{variables}}. */
  path: string;
  auth?: 'internal' | 'none';
  body?: unknown;
  headers?: Record<string, string>;
  prerequest?: string[];
  tests: string[];
}

const status = (code: number) => `pm.test('HTTP ${String(code)}', () => pm.response.to.have.status(${String(code)}));`;
const problem = (code: number, name: string) => [
  status(code),
  `pm.test('problem ${name}', () => { pm.expect(pm.response.headers.get('Content-Type')).to.match(/^application\\/problem\\+json/); pm.expect(pm.response.json().code).to.eql('${name}'); });`,
];

/** After the login: list, install (then again: idempotent), GitLab delivers, the feed has it, uninstall. */
const repositorySteps: FlowStep[] = [
  {
    operationId: 'listRepositories',
    name: 'Repositories: the projects alice can install on',
    method: 'GET',
    path: '/repositories',
    tests: [
      status(200),
      "const project = pm.response.json().repositories.find((r) => r.pathWithNamespace === 'alice/sandbox-project');",
      "pm.test('alice/sandbox-project, Maintainer, not installed', () => { pm.expect(project).to.include({ accessLevel: 40, installed: false }); pm.expect(project.projectId).to.be.a('number'); });",
      "pm.environment.set('projectId', project.projectId);",
    ],
  },
  {
    operationId: 'installOnRepository',
    name: 'Repositories: install the bot',
    method: 'PUT',
    path: '/repositories/{{projectId}}/installation',
    tests: [
      status(201),
      "const { installation, repaired } = pm.response.json();",
      "pm.test('a hook to this service, the bot added by us', () => { pm.expect(installation.projectId).to.eql(Number(pm.environment.get('projectId'))); pm.expect(installation.hookId).to.be.a('number'); pm.expect(installation.webhookUrl).to.eql(`${pm.environment.get('baseUrl')}/webhooks/gitlab/${installation.id}`); pm.expect(installation.membershipAddedByUs).to.eql(true); pm.expect(installation.brokenReason).to.eql(null); pm.expect(repaired).to.eql([]); });",
      "pm.environment.set('installationId', installation.id);",
      "pm.environment.set('hookId', installation.hookId);",
    ],
  },
  {
    operationId: 'installOnRepository',
    name: 'Repositories: install again (idempotent)',
    method: 'PUT',
    path: '/repositories/{{projectId}}/installation',
    tests: [
      status(200),
      "pm.test('the same installation and hook, nothing repaired', () => { const body = pm.response.json(); pm.expect(body.installation.id).to.eql(pm.environment.get('installationId')); pm.expect(body.installation.hookId).to.eql(Number(pm.environment.get('hookId'))); pm.expect(body.repaired).to.eql([]); });",
    ],
  },
  {
    gitlab: {
      description:
        "GitLab's own hook test API (`POST /api/v4/projects/:id/hooks/:hook_id/test/:trigger`, what the Test button of Settings > Webhooks does), on the sandbox's fake GitLab with its admin token: GitLab sends the project's newest merge request to the installed hook, with the hook's secret token, and answers `201` once this service answered `2xx`.",
    },
    name: 'GitLab: test the hook (GitLab delivers a merge request event)',
    method: 'POST',
    path: '/api/v4/projects/{{projectId}}/hooks/{{hookId}}/test/merge_requests_events',
    headers: { 'PRIVATE-TOKEN': '{{adminToken}}' },
    tests: [status(201), "pm.test('delivered', () => pm.expect(pm.response.json()).to.eql({ message: '201 Created' }));"],
  },
  {
    operationId: 'readWebhookEvents',
    name: 'Internal: the webhook events, the delivery last',
    method: 'GET',
    path: '/internal/webhook-events?limit=100',
    auth: 'internal',
    tests: [
      status(200),
      "const { events, nextCursor } = pm.response.json();",
      "const last = events[events.length - 1];",
      "pm.test('the merge request event of this installation, last', () => { pm.expect(last).to.include({ installationId: pm.environment.get('installationId'), instanceId: pm.environment.get('instanceId'), projectId: Number(pm.environment.get('projectId')), eventKind: 'Merge Request Hook' }); pm.expect(last.body.object_kind).to.eql('merge_request'); pm.expect(last.body.object_attributes.iid).to.be.a('number'); });",
      "pm.test('nextCursor is the cursor of the last event', () => pm.expect(nextCursor).to.eql(last.cursor));",
      "pm.environment.set('webhookCursor', nextCursor);",
    ],
  },
  {
    operationId: 'readWebhookEvents',
    name: 'Internal: nothing after the cursor',
    method: 'GET',
    path: '/internal/webhook-events?after={{webhookCursor}}',
    auth: 'internal',
    tests: [status(200), "pm.test('no event, the cursor kept', () => pm.expect(pm.response.json()).to.eql({ events: [], nextCursor: pm.environment.get('webhookCursor') }));"],
  },
  {
    operationId: 'uninstallFromRepository',
    name: 'Repositories: uninstall the bot',
    method: 'DELETE',
    path: '/repositories/{{projectId}}/installation',
    tests: [status(204)],
  },
  {
    operationId: 'listRepositories',
    name: 'Repositories: not installed any more',
    method: 'GET',
    path: '/repositories',
    tests: [status(200), "pm.test('alice/sandbox-project is not installed', () => pm.expect(pm.response.json().repositories.find((r) => r.projectId === Number(pm.environment.get('projectId'))).installed).to.eql(false));"],
  },
];

export const flow: FlowStep[] = [
  { operationId: 'getLiveness', name: 'Liveness', method: 'GET', path: '/healthz', tests: [status(200), "pm.test('ok', () => pm.expect(pm.response.json().status).to.eql('ok'));"] },
  { operationId: 'lookupInstance', name: 'Lookup: a URL that cannot be GitLab', method: 'GET', path: '/instances/lookup?url=ftp%3A%2F%2Fgitlab.example.com', tests: problem(400, 'invalid_url') },
  {
    operationId: 'lookupInstance',
    name: 'Lookup: the sandbox GitLab',
    method: 'GET',
    path: '/instances/lookup?url={{gitlabUrl}}',
    tests: [status(200), "pm.test('a known status', () => pm.expect(pm.response.json().status).to.be.oneOf(['unregistered', 'ready']));"],
  },
  {
    operationId: 'bootstrapInstance',
    name: 'Bootstrap: a wrong admin token',
    method: 'POST',
    path: '/instances/bootstrap',
    body: { url: '{{gitlabUrl}}', adminToken: 'glpat-not-a-token-of-this-gitlab' },
    tests: problem(422, 'token_invalid'),
  },
  {
    operationId: 'bootstrapInstance',
    name: 'Bootstrap',
    method: 'POST',
    path: '/instances/bootstrap',
    body: { url: '{{gitlabUrl}}', adminToken: '{{adminToken}}' },
    tests: [
      "pm.test('HTTP 201 (first set-up) or 200 (already set up)', () => pm.expect(pm.response.code).to.be.oneOf([200, 201]));",
      "const result = pm.response.json();",
      "pm.test('ready, with a loginUrl', () => { pm.expect(result.status).to.eql('ready'); pm.expect(result.loginUrl).to.include(result.instanceId); });",
      "pm.environment.set('instanceId', result.instanceId);",
    ],
  },
  {
    operationId: 'startLogin',
    name: "Login: start, the fake GitLab's authorize, the callback, lands on returnTo",
    method: 'GET',
    path: '/auth/gitlab/start?instance={{instanceId}}&returnTo=%2Fmeta',
    tests: [
      status(200),
      "pm.test('landed on returnTo (/meta)', () => pm.expect(pm.response.json().callbackUrl).to.match(/\\/auth\\/gitlab\\/callback$/));",
      "pm.test('the session cookie is in the jar', (done) => pm.cookies.jar().get(pm.environment.get('baseUrl'), 'gc_session', (error, value) => { pm.expect(error).to.eql(null); pm.expect(value).to.match(/^[A-Za-z0-9_-]{43}$/); pm.environment.set('sessionToken', value); done(); }));",
    ],
  },
  {
    operationId: 'getMe',
    name: 'Me, by the session cookie',
    method: 'GET',
    path: '/me',
    tests: [
      status(200),
      "const me = pm.response.json();",
      "pm.test('alice, through this instance', () => { pm.expect(me.user.username).to.eql('alice'); pm.expect(me.instance.id).to.eql(pm.environment.get('instanceId')); });",
      "pm.environment.set('userId', me.user.id);",
    ],
  },
  ...repositorySteps,
  { operationId: 'listInstances', name: 'Internal: without a token', method: 'GET', path: '/internal/instances', tests: problem(401, 'internal_unauthorized') },
  {
    operationId: 'listInstances',
    name: 'Internal: list instances',
    method: 'GET',
    path: '/internal/instances',
    auth: 'internal',
    tests: [status(200), "pm.test('lists the instance', () => pm.expect(pm.response.json().instances.map((i) => i.id)).to.include(pm.environment.get('instanceId')));"],
  },
  {
    operationId: 'getInstance',
    name: 'Internal: the instance',
    method: 'GET',
    path: '/internal/instances/{{instanceId}}',
    auth: 'internal',
    tests: [status(200), "pm.test('ready', () => pm.expect(pm.response.json().status).to.eql('ready'));"],
  },
  {
    operationId: 'listInstanceEvents',
    name: "Internal: the instance's audit trail",
    method: 'GET',
    path: '/internal/instances/{{instanceId}}/events',
    auth: 'internal',
    tests: [status(200), "pm.test('starts with the bootstrap', () => pm.expect(pm.response.json().events[0].actor).to.match(/^bootstrap from /));"],
  },
  {
    operationId: 'getBotToken',
    name: 'Internal: the bot token',
    method: 'POST',
    path: '/internal/instances/{{instanceId}}/bot-token',
    auth: 'internal',
    tests: [status(200), "pm.test('a personal access token', () => pm.expect(pm.response.json().token).to.match(/^glpat-/));"],
  },
  {
    operationId: 'rotateBotToken',
    name: 'Internal: rotate the bot token now',
    method: 'POST',
    path: '/internal/instances/{{instanceId}}/bot-token/rotate',
    auth: 'internal',
    tests: [status(200), "pm.test('a new personal access token', () => pm.expect(pm.response.json().token).to.match(/^glpat-/));"],
  },
  {
    operationId: 'triggerUpkeepSweep',
    name: 'Internal: run the upkeep sweep now',
    method: 'POST',
    path: '/internal/upkeep/sweep',
    auth: 'internal',
    tests: [status(202)],
  },
  {
    operationId: 'listUpkeepRuns',
    name: 'Internal: recent upkeep runs',
    method: 'GET',
    path: '/internal/upkeep/runs',
    auth: 'internal',
    tests: [status(200), "pm.test('a list of runs', () => pm.expect(pm.response.json().runs).to.be.an('array'));"],
  },
  {
    operationId: 'getUserGitlabToken',
    name: "Internal: the user's GitLab token",
    method: 'POST',
    path: '/internal/users/{{userId}}/gitlab-token',
    auth: 'internal',
    tests: [status(200), "pm.test('an access token', () => pm.expect(pm.response.json().accessToken).to.be.a('string').and.not.empty);"],
  },
  {
    operationId: 'getMetrics',
    name: 'Metrics',
    method: 'GET',
    path: '/metrics',
    auth: 'internal',
    tests: [status(200), "pm.test('counts the login', () => pm.expect(pm.response.text()).to.match(/^gitlab_connect_logins_total\\{outcome=\"success\",code=\"none\"\\} [1-9]/m));"],
  },
  {
    operationId: 'logout',
    name: 'Logout, by the session cookie',
    method: 'POST',
    path: '/auth/logout',
    tests: [status(204), "pm.test('the cookie is cleared', (done) => pm.cookies.jar().get(pm.environment.get('baseUrl'), 'gc_session', (error, value) => { pm.expect(value || '').to.eql(''); done(); }));"],
  },
  {
    operationId: 'getMe',
    name: 'Me, with the logged-out session token: revoked',
    method: 'GET',
    path: '/me',
    headers: { Authorization: 'Bearer {{sessionToken}}' },
    tests: problem(401, 'unauthenticated'),
  },
  {
    operationId: 'deprovisionInstance',
    name: 'Internal: remove the instance, cleaning up GitLab',
    method: 'DELETE',
    path: '/internal/instances/{{instanceId}}',
    auth: 'internal',
    body: { adminToken: '{{adminToken}}' },
    tests: [
      status(200),
      "pm.test('removed, GitLab cleaned up', () => { const body = pm.response.json(); pm.expect(body.status).to.eql('removed'); pm.expect(body.gitlab).to.eql({ oauthApplicationDeleted: true, botTokenRevoked: true, botBlocked: true }); });",
    ],
  },
  {
    operationId: 'lookupInstance',
    name: 'Lookup after removal',
    method: 'GET',
    path: '/instances/lookup?url={{gitlabUrl}}',
    tests: [status(200), "pm.test('unregistered again', () => pm.expect(pm.response.json()).to.include({ status: 'unregistered', next: 'bootstrap' }));"],
  },
];
