// One GitLab, one instance: the same GitLab under a second URL, a second deployment of this service
// on the same GitLab, and a GitLab whose issuer changed. Side effects counted on the fake.
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import { createLogger } from '../../src/logger.js';
import { expectProblem, instanceRow } from '../helpers/bootstrap.js';
import { buildTestApp, LogCapture, testConfig } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { botSideEffects, FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';

/** A fake listening on every loopback address, whose external_url (the issuer) is http://127.0.0.1:<port>. */
async function gitlabOnTwoAddresses(t: Test): Promise<{ fake: FakeGitlab; canonical: string; alias: string }> {
  const fake = await startTestGitlab(t, { host: '0.0.0.0' });
  const port = new URL(fake.url).port;
  fake.externalUrl = `http://127.0.0.1:${port}`;
  return { fake, canonical: `http://127.0.0.1:${port}`, alias: `http://127.0.0.2:${port}` };
}

t.test('the same GitLab under a second URL: 409 instance_already_registered, nothing created or deleted, lookup answers for the registered instance', async (t) => {
  const { fake, canonical, alias } = await gitlabOnTwoAddresses(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = await postBootstrap(app, { url: canonical, adminToken: admin.token });
  t.equal(first.statusCode, 201, first.body);
  const { instanceId } = first.json();
  const before = { ...fake.counters };

  const second = await postBootstrap(app, { url: alias, adminToken: admin.token });
  const body = expectProblem(t, second, { status: 409, code: 'instance_already_registered' });
  t.same([body.instanceId, body.canonicalUrl], [instanceId, canonical]);
  t.same(fake.counters, before, 'nothing created, revoked or deleted on GitLab');
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 });
  t.equal(await instanceRow(app, alias), undefined, 'no instance record for the alias');

  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: alias } });
  t.match(lookup.json(), { status: 'ready', next: 'login', instanceId });

  const requestsBefore = fake.requests.length;
  const again = await postBootstrap(app, { url: alias, adminToken: admin.token });
  expectProblem(t, again, { status: 409, code: 'instance_already_registered' });
  t.equal(fake.requests.length, requestsBefore, 'a known alias is answered without a call to GitLab');
});

t.test('an instance not reached at its own issuer URL is no canonical: another URL claiming that issuer is set up on its own', async (t) => {
  const { fake, alias } = await gitlabOnTwoAddresses(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  t.equal((await postBootstrap(app, { url: alias, adminToken: admin.token })).statusCode, 201);
  const third = alias.replace('127.0.0.2', '127.0.0.3');
  const response = await postBootstrap(app, { url: third, adminToken: admin.token });
  t.not(response.statusCode, 409, 'anyone can claim an issuer; only an answer at the issuer’s own address makes a canonical');
});

t.test('a second deployment on the same GitLab never disturbs the first: its bot name is refused, and with its own name the first one’s resources stay live', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(first.statusCode, 201, first.body);
  const firstBot = first.json().bot.userId as number;
  const firstApplication = first.json().oauthApplication.id as number;

  const staging = await createTestDatabase();
  t.teardown(() => staging.close());
  const build = async (env: Record<string, string>) => {
    const other = await buildApp(testConfig({ ...FAKE_GITLAB_ENV, PUBLIC_URL: 'https://staging.example', ...env }), { database: staging.database, logger: createLogger('silent', new LogCapture()) });
    t.teardown(() => other.close());
    return other;
  };
  const sameName = await build({});
  expectProblem(t, await postBootstrap(sameName, { url: fake.url, adminToken: admin.token }), { status: 422, code: 'bot_username_taken', step: 'bot_user' });
  await sameName.close();

  const ownName = await build({ BOT_USERNAME: 'staging-review-bot' });
  const second = await postBootstrap(ownName, { url: fake.url, adminToken: admin.token });
  t.equal(second.statusCode, 201, second.body);
  t.equal(fake.liveTokensOf(firstBot).length, 2, "the first deployment's bot tokens are still live");
  t.ok(fake.applications.has(firstApplication), "the first deployment's application still exists");
  t.equal(fake.users.get(firstBot)!.state, 'active');
  t.equal(fake.applications.size, 2, 'one application per deployment');
});

t.test("a ready instance whose GitLab's issuer changed but still holds its bot and application: ready, the change recorded", async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { instanceId } = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  fake.externalUrl = 'https://git.renamed.example';
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  const row = await instanceRow(app, fake.url);
  t.equal(row!.openidIssuer, 'https://git.renamed.example', 'the new issuer is recorded');
  const probe = (await listInstanceEvents(app.deps.db, instanceId)).filter((e) => e.step === 'probe').at(-1)!;
  t.match(probe.detail, /issuer changed/);
});

t.test('a ready instance whose address now reaches another GitLab (new issuer, none of its resources): 422 instance_identity_changed, nothing created', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const first = (await postBootstrap(app, { url: fake.url, adminToken: admin.token })).json();
  fake.externalUrl = 'https://someone-else.example';
  fake.users.delete(first.bot.userId);
  fake.deleteApplication(first.oauthApplication.id);
  const before = { ...fake.counters };
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 422, code: 'instance_identity_changed', step: 'probe' });
  t.match(body.detail, /take the old instance out of service/);
  t.same(fake.counters, before, 'nothing created on the other GitLab');
  t.equal((await instanceRow(app, fake.url))!.status, 'ready', 'the instance record is left as it was');
});
