// "Only its own resources": every bot token and OAuth application the bootstrap creates carries a marker
// naming the deployment (a digest of PUBLIC_URL) and the instance record, and the clean-up of leftovers
// revokes or deletes only what bears this instance's marker: another deployment's or another instance's
// application or token on the same GitLab is never touched. An instance set up before markers keeps
// its unmarked resources (recognised by their stored ids). Side effects counted on the fake.
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { buildApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { buildTestApp, LogCapture, testConfig } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';

const DEFAULT_PUBLIC_URL = 'http://connect.test';

/** The marker the contract asks for, computed here independently of the service's code. */
const markerOf = (publicUrl: string, instanceId: string) => `[gc:${createHash('sha256').update(publicUrl).digest('hex').slice(0, 12)}:${instanceId}]`;

const liveNames = (fake: FakeGitlab, userId: number) => fake.liveTokensOf(userId).map((token) => token.name);

/** A second deployment of the service (its own database and PUBLIC_URL) on the same GitLab. */
async function otherDeployment(t: Test, env: Record<string, string>): Promise<App> {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const app = await buildApp(testConfig({ ...FAKE_GITLAB_ENV, ...env }), { database: database.database, logger: createLogger('silent', new LogCapture()) });
  t.teardown(() => app.close());
  return app;
}

t.test('the bot tokens and the OAuth application carry the marker of this deployment and instance, within GitLab name lengths', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);
  const { instanceId, bot, oauthApplication } = response.json();
  const marker = markerOf(DEFAULT_PUBLIC_URL, instanceId);
  const names = liveNames(fake, bot.userId);
  t.equal(names.length, 2);
  t.ok(names.every((name) => name.includes(marker) && name.length <= 255), `both tokens named with ${marker}: ${names.join(', ')}`);
  const application = fake.applications.get(oauthApplication.id)!;
  t.ok(application.name.includes(marker) && application.name.length <= 255, `the application is named with the marker: ${application.name}`);
});

t.test('two deployments (PUBLIC_URL on the same host) on one GitLab: re-creating one’s application and tokens never touches the other’s', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  const staging = await otherDeployment(t, { PUBLIC_URL: `${DEFAULT_PUBLIC_URL}/staging`, BOT_USERNAME: 'staging-review-bot' });
  const second = await postBootstrap(staging, { url: fake.url, adminToken: admin.token });
  t.equal(second.statusCode, 201, second.body);
  const { bot: stagingBot, oauthApplication: stagingApplication, instanceId: stagingId } = second.json();
  t.ok(fake.applications.get(stagingApplication.id)!.name.includes(markerOf(`${DEFAULT_PUBLIC_URL}/staging`, stagingId)), "the second deployment's own marker");

  // The second deployment's application and tokens lost behind its back: its re-check re-creates them.
  fake.deleteApplication(stagingApplication.id);
  for (const token of fake.liveTokensOf(stagingBot.userId)) fake.revokePersonalAccessToken(token.id);
  const firstTokens = fake.liveTokensOf(first.bot.userId).map((token) => token.id);
  const repaired = await postBootstrap(staging, { url: fake.url, adminToken: admin.token });
  t.equal(repaired.statusCode, 200, repaired.body);
  t.same(repaired.json().repaired.sort(), ['bot_token', 'oauth_application']);

  t.ok(fake.applications.has(first.oauthApplication.id), "the first deployment's application still exists");
  t.same(fake.liveTokensOf(first.bot.userId).map((token) => token.id), firstTokens, "the first deployment's bot tokens are untouched and live");
  t.equal(fake.applications.size, 2, 'one application per deployment');
  t.equal(fake.liveTokensOf(stagingBot.userId).length, 2, 'the second deployment has its two tokens again');
});

t.test('two instance records of one deployment on one GitLab: re-creating one’s application never deletes the other’s, even one with the old shared callback', async (t) => {
  // One GitLab on two loopback addresses whose issuer is neither: two instance records.
  const fake = await startTestGitlab(t, { host: '0.0.0.0' });
  const port = new URL(fake.url).port;
  fake.externalUrl = `http://127.0.0.9:${port}`;
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const one = await postBootstrap(app, { url: `http://127.0.0.2:${port}`, adminToken: admin.token });
  t.equal(one.statusCode, 201, one.body);
  // The same deployment (database, PUBLIC_URL), another bot name: the first bot is the first instance's.
  const { app: sameDeployment } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, BOT_USERNAME: 'second-review-bot' });
  const two = await postBootstrap(sameDeployment, { url: `http://127.0.0.3:${port}`, adminToken: admin.token });
  t.equal(two.statusCode, 201, two.body);

  // The first instance's application as set up before per-instance callbacks: the deployment's shared one.
  const firstApplication = fake.applications.get(one.json().oauthApplication.id)!;
  firstApplication.redirectUri = `${DEFAULT_PUBLIC_URL}/auth/gitlab/callback`;
  fake.deleteApplication(two.json().oauthApplication.id);
  const before = fake.counters.applicationsDeleted;
  const repaired = await postBootstrap(sameDeployment, { url: `http://127.0.0.3:${port}`, adminToken: admin.token });
  t.equal(repaired.statusCode, 200, repaired.body);
  t.same(repaired.json().repaired, ['oauth_application']);
  t.ok(fake.applications.has(firstApplication.id), "the other instance's application is not deleted");
  t.equal(fake.counters.applicationsDeleted, before, 'nothing deleted');
  t.equal(fake.applications.size, 2, 'one application per instance');
});

t.test('on the bot, a live token without this instance’s marker is never revoked; an orphan bearing it is', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instanceId, bot } = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  const marker = markerOf(DEFAULT_PUBLIC_URL, instanceId);
  const byHand = fake.createPersonalAccessToken(bot.userId, { scopes: ['api'], name: 'gitlab-connect' });
  const otherInstance = fake.createPersonalAccessToken(bot.userId, { scopes: ['api'], name: `gitlab-connect ${markerOf(DEFAULT_PUBLIC_URL, '00000000-0000-4000-8000-000000000000')}` });
  const orphan = fake.createPersonalAccessToken(bot.userId, { scopes: ['api'], name: `gitlab-connect ${marker}` });
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  const live = fake.liveTokensOf(bot.userId).map((token) => token.id);
  t.ok(live.includes(byHand.id), 'a token named "gitlab-connect" without the marker (made by hand, or by an older version and not stored) is left alone');
  t.ok(live.includes(otherInstance.id), "another instance's token is left alone");
  t.notOk(live.includes(orphan.id), 'an orphan bearing this instance’s marker is revoked');
  t.equal(fake.liveTokensOf(bot.userId).filter((token) => token.name.includes(marker)).length, 2, 'exactly the two tokens the instance tracks bear its marker');
});

t.test('an instance set up before markers keeps its unmarked token and application (known by their stored ids): the re-check creates, revokes and deletes nothing', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { bot, oauthApplication } = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  for (const token of fake.liveTokensOf(bot.userId)) fake.personalAccessTokens.get(token.id)!.name = 'gitlab-connect';
  fake.applications.get(oauthApplication.id)!.name = 'gitlab-connect (connect.test)';
  const before = { ...fake.counters };
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().repaired, []);
  t.same(fake.counters, before, 'nothing created, revoked or deleted');
});
