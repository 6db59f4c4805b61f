// The bot account as real GitLabs leave it: deactivated by the dormant-user job, banned, blocked,
// pending approval under a user cap, LDAP-blocked, behind enforced terms of service; and the name
// BOT_USERNAME held by a group, a person, an administrator or another deployment's bot. Every answer is
// checked against what exists on the fake afterwards.
import t from 'tap';
import { findInstanceById, listInstanceEvents } from '../../src/db/instances.repo.js';
import { botOwnershipMarker } from '../../src/services/bootstrap/bot-account.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { acceptedByGitlab, bootstrappedInstance, botSideEffects, botTokenCall, gitlabUserWith, postBootstrap } from '../helpers/gitlab.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, startTestGitlab } from '../helpers/gitlab.js';
import type { FakeGitlab, FakeUserState } from '../fake-gitlab/index.js';
import type { App } from '../../src/app.js';

async function servedBotToken(app: App, instanceId: string): Promise<string> {
  const response = await botTokenCall(app, instanceId);
  if (response.statusCode !== 200) throw new Error(response.body);
  return response.json().token as string;
}

const repairs: { state: FakeUserState; call: string }[] = [
  { state: 'deactivated', call: 'activate' },
  { state: 'banned', call: 'unban' },
  { state: 'blocked', call: 'unblock' },
  { state: 'blocked_pending_approval', call: 'approve' },
];

for (const { state, call } of repairs) {
  t.test(`a ${state} bot is repaired by ${call} on re-check, and the token handed out then works on GitLab`, async (t) => {
    const { fake, admin, app, instance } = await bootstrappedInstance(t);
    fake.setUserState(instance.bot.userId, state);
    t.equal((await gitlabUserWith(fake, await servedBotToken(app, instance.instanceId))).status, 403, `GitLab refuses a ${state} bot's token`);

    const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    t.equal(again.statusCode, 200, again.body);
    t.same(again.json().repaired, ['bot_user']);
    t.equal(fake.users.get(instance.bot.userId)!.state, 'active', 'the bot is active again');
    t.equal(fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/users/${String(instance.bot.userId)}/${call}`) && r.status === 201).length, 1, `one ${call} call`);
    t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 }, 'nothing created twice');
    t.ok(await acceptedByGitlab(fake, await servedBotToken(app, instance.instanceId)), 'the served token works');
    const event = (await listInstanceEvents(app.deps.db, instance.instanceId)).filter((e) => e.step === 'bot_user').at(-1)!;
    t.equal(event.outcome, 'repaired', 'the repair is an event');
  });
}

t.test('an LDAP-blocked bot cannot be repaired by API: 422 bot_account_unusable, reason ldap_blocked, nothing changed', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  fake.setUserState(instance.bot.userId, 'ldap_blocked');
  const before = { ...fake.counters };
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 422, code: 'bot_account_unusable', step: 'bot_user' });
  t.equal(body.reason, 'ldap_blocked');
  t.match(body.detail, /LDAP directory/, 'the detail names the fix');
  t.equal(fake.users.get(instance.bot.userId)!.state, 'ldap_blocked');
  t.same(fake.counters, before, 'nothing created, unblocked or revoked');
});

t.test('with the user cap reached, the new bot (created pending approval) is approved and the set-up is ready', async (t) => {
  const fake = await startTestGitlab(t, { userCap: 1 });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);
  const [bot] = fake.usersNamed('review-bot');
  t.equal(bot.state, 'active', 'approved');
  t.equal(fake.counters.usersReactivated, 1, 'one approval');
  t.ok(await acceptedByGitlab(fake, await servedBotToken(app, response.json().instanceId)), 'the bot token works');
});

t.test('enforced terms of service the bot has not accepted: 422 bot_account_unusable, reason terms_not_accepted; accepted, the re-run is ready', async (t) => {
  const fake = await startTestGitlab(t, { termsEnforced: true });
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 422, code: 'bot_account_unusable', step: 'bot_user' });
  t.equal(body.reason, 'terms_not_accepted');
  t.match(body.detail, /accept the terms/);
  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: fake.url } });
  t.equal(lookup.json().status, 'failed', 'not ready');

  const [bot] = fake.usersNamed('review-bot');
  bot.termsAccepted = true;
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 201, again.body);
  t.same(botSideEffects(fake), { bots: 1, liveBotTokens: 2, applications: 1 }, 'the re-run resumed: nothing twice');
});

t.test('terms enforced after set-up: the re-check refuses with terms_not_accepted instead of answering ready', async (t) => {
  const { fake, admin, app } = await bootstrappedInstance(t);
  fake.termsEnforced = true;
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(expectProblem(t, response, { status: 422, code: 'bot_account_unusable', step: 'bot_user' }).reason, 'terms_not_accepted');
});

t.test('a group holding BOT_USERNAME: 422 bot_username_taken, no user and no token created', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  fake.groupPaths.add('review-bot');
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  const body = expectProblem(t, response, { status: 422, code: 'bot_username_taken', step: 'bot_user' });
  t.match(body.detail, /BOT_USERNAME/);
  t.equal(fake.counters.usersCreated, 0);
  t.equal(fake.counters.personalAccessTokensCreated, 0);
});

const holders: { who: string; seed: (fake: FakeGitlab) => void }[] = [
  { who: "a person's account", seed: (fake) => void fake.createUser({ username: 'review-bot', name: 'Rev Iew' }) },
  { who: 'an administrator', seed: (fake) => void fake.createUser({ username: 'review-bot', admin: true }) },
  {
    who: "another deployment's bot",
    seed: (fake) => void fake.createUser({ username: 'review-bot', note: `Created by gitlab-connect; keep this line: ${botOwnershipMarker('https://staging.example', 'b3f1c2d4-0000-4000-8000-000000000000')}` }),
  },
];

for (const { who, seed } of holders) {
  t.test(`${who} named BOT_USERNAME is never adopted: 422 bot_username_taken, no token minted on it`, async (t) => {
    const fake = await startTestGitlab(t);
    const admin = fake.seedAdmin();
    seed(fake);
    const [holder] = fake.usersNamed('review-bot');
    const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
    const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    expectProblem(t, response, { status: 422, code: 'bot_username_taken', step: 'bot_user' });
    t.equal(fake.liveTokensOf(holder.id).length, 0, 'no token on that account');
    t.equal(fake.counters.personalAccessTokensCreated, 0);
    t.equal(holder.state, 'active', 'left as it was');
  });
}

t.test('a renamed bot is still the bot: found by its stored id, its new name recorded, nothing created', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  fake.users.get(instance.bot.userId)!.username = 'renamed-bot';
  const before = { ...fake.counters };
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.same(again.json().bot, { userId: instance.bot.userId, username: 'renamed-bot' });
  t.same(fake.counters, before, 'no user, token or application created');
  const row = (await findInstanceById(app.deps.db, instance.instanceId))!;
  t.equal(row.botUsername, 'renamed-bot');
});

t.test('a bot deleted on GitLab is re-created with a new token (repaired), and the old name holder is ours', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  fake.users.delete(instance.bot.userId);
  const again = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(again.statusCode, 200, again.body);
  t.match(again.json().repaired, ['bot_user']);
  const [bot] = fake.usersNamed('review-bot');
  t.not(bot.id, instance.bot.userId, 'a new bot');
  t.match(bot.note, botOwnershipMarker('http://connect.test', instance.instanceId), 'marked as this instance’s bot');
  t.ok(await acceptedByGitlab(fake, await servedBotToken(app, instance.instanceId)), 'its token works');
});

t.test('a bot made administrator is refused: 422 bot_account_unusable, reason bot_is_admin', async (t) => {
  const { fake, admin, app, instance } = await bootstrappedInstance(t);
  fake.users.get(instance.bot.userId)!.admin = true;
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(expectProblem(t, response, { status: 422, code: 'bot_account_unusable', step: 'bot_user' }).reason, 'bot_is_admin');
});
