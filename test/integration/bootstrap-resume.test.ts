// POST /instances/bootstrap resumes: a fault at each step fails the call, and the retry ends with
// exactly one bot user, one live bot token and one OAuth application on the fake GitLab.
import t from 'tap';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import type { FaultSpec } from '../fake-gitlab/index.js';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem, expectRecordedFailure, instanceRow } from '../helpers/bootstrap.js';
import { botSideEffects, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { botTokenName } from '../../src/services/bootstrap/markers.js';

const BOT_TOKENS = /^\/api\/v4\/users\/\d+\/personal_access_tokens$/;

interface ResumeCase {
  name: string;
  faults: FaultSpec[];
  failure: { status: number; code: string; step: string };
  /** What the failed call already left on the fake, kept by the retry. */
  afterFailure: { usersCreated: number; personalAccessTokensCreated: number; applicationsCreated: number };
  /** Bot tokens ever created (default 2, the pair). */
  tokensEverCreated?: number;
}

const cases: ResumeCase[] = [
  {
    // A 5xx says GitLab is in trouble, not that it is no GitLab.
    name: 'probe: the OpenID configuration and the anonymous /version both answer 500',
    faults: [
      { method: 'GET', path: '/.well-known/openid-configuration', status: 500 },
      { method: 'GET', path: '/api/v4/version', status: 500 },
    ],
    failure: { status: 502, code: 'gitlab_error', step: 'probe' },
    afterFailure: { usersCreated: 0, personalAccessTokensCreated: 0, applicationsCreated: 0 },
  },
  {
    name: 'verify_token: GET /user answers 500',
    faults: [{ method: 'GET', path: '/api/v4/user', status: 500 }],
    failure: { status: 502, code: 'gitlab_error', step: 'verify_token' },
    afterFailure: { usersCreated: 0, personalAccessTokensCreated: 0, applicationsCreated: 0 },
  },
  {
    name: 'bot_user: POST /users answers 500',
    faults: [{ method: 'POST', path: '/api/v4/users', status: 500 }],
    failure: { status: 502, code: 'gitlab_error', step: 'bot_user' },
    afterFailure: { usersCreated: 0, personalAccessTokensCreated: 0, applicationsCreated: 0 },
  },
  {
    // The pair is created in parallel: the token whose connection held was created, but the step failed
    // and stored neither; the retry creates a pair and revokes it as an orphan (it bears the marker).
    name: 'bot_token: the connection of POST /users/:id/personal_access_tokens is dropped',
    faults: [{ method: 'POST', path: BOT_TOKENS, drop: true }],
    failure: { status: 502, code: 'gitlab_unreachable', step: 'bot_token' },
    afterFailure: { usersCreated: 1, personalAccessTokensCreated: 1, applicationsCreated: 1 },
    tokensEverCreated: 3,
  },
  {
    name: 'oauth_application: POST /applications answers 502',
    faults: [{ method: 'POST', path: '/api/v4/applications', status: 502 }],
    failure: { status: 502, code: 'gitlab_error', step: 'oauth_application' },
    afterFailure: { usersCreated: 1, personalAccessTokensCreated: 2, applicationsCreated: 0 },
  },
];

for (const c of cases) {
  t.test(`a fault in ${c.name}, then a retry, leaves one bot, two live tokens (the pair), one application`, async (t) => {
    const fake = await startTestGitlab(t);
    const admin = fake.seedAdmin();
    const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
    for (const fault of c.faults) fake.injectFault(fault);

    expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), c.failure);
    await expectRecordedFailure(t, app, fake.url, { step: c.failure.step, code: c.failure.code });
    t.match(fake.counters, c.afterFailure, 'what the failed call created');
    t.ok(
      c.faults.every((fault) => fake.faults.find((f) => f.path === fault.path)!.applied === 1),
      'every fault was hit once',
    );

    const retry = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    t.equal(retry.statusCode, 201, retry.body);
    t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
    t.equal(fake.counters.usersCreated, 1, 'one bot user ever created');
    t.equal(fake.counters.applicationsCreated, 1, 'one application ever created');
    t.equal(fake.counters.personalAccessTokensCreated, c.tokensEverCreated ?? 2, 'one pair of bot tokens ever created (and a lost pair’s partner)');
    t.match(await instanceRow(app, fake.url), { status: 'ready', lastErrorStep: null, lastErrorCode: null });
  });
}

t.test('the token step failed but the application step succeeded: the retry keeps the application', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  fake.injectFault({ method: 'POST', path: BOT_TOKENS, status: 500 });

  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_error', step: 'bot_token' });
  const failed = await expectRecordedFailure(t, app, fake.url, { step: 'bot_token', code: 'gitlab_error' });
  const [application] = [...fake.applications.values()];
  t.equal(fake.counters.applicationsCreated, 1, 'the application was created in the failed call');
  t.match(failed, { oauthApplicationId: String(application.id), oauthClientId: application.uid, oauthClientSecretSealed: String, botTokenId: null });
  const events = await listInstanceEvents(app.deps.db, failed.id);
  t.ok(events.some((e) => e.step === 'oauth_application' && e.outcome === 'succeeded'), 'the application step is recorded as succeeded');

  const retry = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(retry.statusCode, 201, retry.body);
  t.equal(retry.json().oauthApplication.clientId, application.uid, 'the same application');
  t.equal(fake.counters.applicationsCreated, 1, 'not created again');
  t.equal(fake.counters.applicationsDeleted, 0);
  t.equal(fake.counters.usersCreated, 1);
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
});

t.test('a bot token GitLab created although its answer was lost is revoked by the retry: the pair, two live tokens', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  fake.injectFault({ method: 'POST', path: BOT_TOKENS, drop: true });

  expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: admin.token }), { status: 502, code: 'gitlab_unreachable', step: 'bot_token' });
  await expectRecordedFailure(t, app, fake.url, { step: 'bot_token', code: 'gitlab_unreachable' });
  // What GitLab holds when it created the token but the answer never arrived (the fake's drop happens
  // before routing, so the orphan is put in place by hand).
  const [bot] = fake.usersNamed('review-bot');
  const failed = await instanceRow(app, fake.url);
  const orphan = fake.createPersonalAccessToken(bot.id, { name: botTokenName(app.deps.config.publicUrl, failed!.id), scopes: ['api'] });

  const retry = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(retry.statusCode, 201, retry.body);
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
  t.equal(fake.counters.usersCreated, 1);
  t.equal(fake.counters.applicationsCreated, 1);
  t.equal(fake.personalAccessTokens.get(orphan.id)!.revoked, true, 'the orphaned token was revoked');
  const row = await instanceRow(app, fake.url);
  t.same([row?.botTokenId, row?.botStandbyTokenId], fake.liveTokensOf(bot.id).map((token) => String(token.id)), 'the stored tokens are the live ones');
});
