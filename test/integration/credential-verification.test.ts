// Dead credentials are not handed out: the internal routes verify the credential they hand out live, at
// most once per instance and credential every VERIFY_INTERVAL_MS (60 s, across processes; the bootstrap
// and the check count as verifications). A bot token revoked behind the service's back is replaced by the
// standby or refused (409 bot_token_unusable, degraded); a user's unexpired access token of an OAuth
// application deleted on GitLab is refused (409 reauthorization_required, degraded) and /me says log in
// again; an application the bootstrap replaced marks its users at once, without a GitLab call.
import t from 'tap';
import type { FakeGitlab } from '../fake-gitlab/index.js';
import { bootstrappedInstance as bootstrapped, botTokenCall, clientChecks, gitlabToken, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import { readRow } from '../helpers/rows.js';

type Bootstrapped = Awaited<ReturnType<typeof bootstrapped>>;

const INTERVAL_MS = 60_000;
const later = (setup: Bootstrapped, ms = INTERVAL_MS + 1000) => { setup.clock.now = new Date(setup.clock.now.getTime() + ms); };
const details = async ({ app, instance }: Bootstrapped) => (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
const tokenSelfCalls = (fake: FakeGitlab) => fake.requests.filter((request) => request.method === 'GET' && request.path === '/api/v4/personal_access_tokens/self').length;

/** The bot's live tokens, served (the later expiry) first. */
const pair = (fake: FakeGitlab, botUserId: number) => fake.liveTokensOf(botUserId).sort((a, b) => (b.expiresAt ?? '').localeCompare(a.expiresAt ?? '') || b.id - a.id);

async function withUser(setup: Bootstrapped) {
  const { app, fake, instance } = setup;
  const gitlabUser = fake.createUser({ username: 'alice' });
  const { sessionToken } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: gitlabUser.id });
  const user = await readRow(app.deps.db, 'users', { instanceId: instance.instanceId });
  return {
    userToken: () => gitlabToken(app, user.id),
    me: () => app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } }),
  };
}

t.test('bot token revoked behind the service’s back: within the interval no GitLab call; then one verification finds it and the standby is served', async (t) => {
  const setup = await bootstrapped(t);
  const { fake, instance } = setup;
  const [served, standby] = pair(fake, instance.bot.userId);
  fake.revokePersonalAccessToken(served.id);
  const before = tokenSelfCalls(fake);
  t.equal((await botTokenCall(setup.app, setup.instance.instanceId)).json().token, served.token, 'verified by the bootstrap less than an interval ago: served without a call (the bound)');
  t.equal(tokenSelfCalls(fake), before);

  later(setup);
  const next = await botTokenCall(setup.app, setup.instance.instanceId);
  t.equal(next.statusCode, 200, next.body);
  t.equal(next.json().token, standby.token, 'the standby, which GitLab accepts');
  t.equal((await details(setup)).status, 'ready');
  const again = await botTokenCall(setup.app, setup.instance.instanceId);
  t.equal(again.json().token, standby.token);
});

t.test('both bot tokens revoked: 409 bot_token_unusable and the instance degraded, never the dead token', async (t) => {
  const setup = await bootstrapped(t);
  const { fake, instance } = setup;
  for (const token of fake.liveTokensOf(instance.bot.userId)) fake.revokePersonalAccessToken(token.id);
  later(setup);
  const refused = await botTokenCall(setup.app, setup.instance.instanceId);
  t.same([refused.statusCode, refused.json().code], [409, 'bot_token_unusable'], refused.body);
  t.match(await details(setup), { status: 'degraded', problem: { code: 'bot_token_unusable' } });
  const requests = fake.requests.length;
  t.equal((await botTokenCall(setup.app, setup.instance.instanceId)).statusCode, 409, 'still 409');
  t.equal(fake.requests.length, requests, 'without asking GitLab again');
});

t.test('the bot token verification is bounded: ten concurrent calls after the interval make one GitLab call', async (t) => {
  const setup = await bootstrapped(t);
  later(setup);
  const before = tokenSelfCalls(setup.fake);
  const answers = await Promise.all(Array.from({ length: 10 }, () => botTokenCall(setup.app, setup.instance.instanceId)));
  t.ok(answers.every((answer) => answer.statusCode === 200));
  t.equal(tokenSelfCalls(setup.fake) - before, 1, 'one verification');
  for (let i = 0; i < 5; i++) await botTokenCall(setup.app, setup.instance.instanceId);
  t.equal(tokenSelfCalls(setup.fake) - before, 1, 'none more within the interval');
});

t.test('OAuth application deleted on GitLab, the user’s access token unexpired: 409 reauthorization_required within one interval, degraded; /me 401 log in again', async (t) => {
  const setup = await bootstrapped(t);
  const { userToken, me } = await withUser(setup);
  t.equal((await userToken()).statusCode, 200);
  setup.fake.deleteApplication(setup.instance.oauthApplication.id);
  later(setup);
  const before = clientChecks(setup.fake);
  const refused = await userToken();
  t.same([refused.statusCode, refused.json().code], [409, 'reauthorization_required'], refused.body);
  t.equal(clientChecks(setup.fake) - before, 1, 'one client check at the token endpoint');
  t.match(await details(setup), { status: 'degraded', problem: { code: 'oauth_application_unusable' } });
  const unauthenticated = await me();
  t.same([unauthenticated.statusCode, unauthenticated.json().code], [401, 'unauthenticated']);
  t.match(unauthenticated.json().detail, /log in again/);
});

t.test('/me notices a deleted application by itself (one bounded client check), 401 with log in again', async (t) => {
  const setup = await bootstrapped(t);
  const { me } = await withUser(setup);
  t.equal((await me()).statusCode, 200);
  setup.fake.deleteApplication(setup.instance.oauthApplication.id);
  later(setup);
  const unauthenticated = await me();
  t.same([unauthenticated.statusCode, unauthenticated.json().code], [401, 'unauthenticated']);
  t.match(unauthenticated.json(), { reason: 'application_gone', detail: /an administrator repairs the instance by running the bootstrap again .*; then log in again/ });
});

t.test('the client verification is bounded: ten concurrent user-token calls after the interval make one client check', async (t) => {
  const setup = await bootstrapped(t);
  const { userToken } = await withUser(setup);
  later(setup);
  const before = clientChecks(setup.fake);
  const answers = await Promise.all(Array.from({ length: 10 }, () => userToken()));
  t.ok(answers.every((answer) => answer.statusCode === 200));
  t.equal(clientChecks(setup.fake) - before, 1);
});

t.test('an application the bootstrap replaced (scopes narrowed on GitLab): the user’s unexpired token is refused at once, without a GitLab call', async (t) => {
  const setup = await bootstrapped(t);
  const { userToken } = await withUser(setup);
  setup.fake.setApplicationScopes(setup.instance.oauthApplication.id, ['api', 'read_user', 'email']);
  const repaired = await postBootstrap(setup.app, { url: setup.fake.url, adminToken: setup.admin.token });
  t.same(repaired.json().repaired, ['oauth_application'], repaired.body);
  const requests = setup.fake.requests.length;
  const refused = await userToken();
  t.same([refused.statusCode, refused.json().code], [409, 'reauthorization_required'], refused.body);
  t.equal(setup.fake.requests.length, requests, 'no GitLab call');
});
