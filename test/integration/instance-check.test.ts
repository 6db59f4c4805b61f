// degraded: POST /internal/instances/:id/check verifies the bot token (GET /user as the bot) and the OAuth
// client (token endpoint) in one round trip, repairs a refused served token from the standby, and stores
// degraded with its problem or ready again (one event per check); internal routes never hand out a
// credential known dead (bot token: 409 bot_token_unusable; application gone: 409 reauthorization_required
// on the user-token route, 401 on /me); a bootstrap with an admin token makes the instance ready again.
import t from 'tap';
import { DAY_MS } from '../../src/time.js';
import { acceptedByGitlab as accepted, bootstrappedInstance as bootstrapped, botTokenCall, gitlabToken, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import { readRow } from '../helpers/rows.js';

type Bootstrapped = Awaited<ReturnType<typeof bootstrapped>>;

const check = ({ app, instance }: Bootstrapped) => app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/check`, headers: auth });
const lookup = ({ app, fake }: Bootstrapped) => app.inject({ method: 'GET', url: `/instances/lookup?url=${encodeURIComponent(fake.url)}` });
async function eventsOf({ app, instance }: Bootstrapped): Promise<Array<{ step: string; outcome: string; actor: string; errorCode: string | null; detail: string | null }>> {
  return (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
}
const checkEvents = async (setup: Bootstrapped) => (await eventsOf(setup)).filter((event) => event.step === 'check');

t.test('a healthy instance: the check keeps it ready with two GitLab calls (bot as itself, client at the token endpoint) and writes one event', async (t) => {
  const setup = await bootstrapped(t);
  const before = setup.fake.requests.length;
  const response = await check(setup);
  t.equal(response.statusCode, 200, response.body);
  t.match(response.json(), { status: 'ready', problem: null, health: { checkedAt: setup.clock.now.toISOString(), problems: [] } });
  const calls = setup.fake.requests.slice(before).map((request) => `${request.method} ${request.path}`);
  t.same(calls.sort(), ['GET /api/v4/user', 'POST /oauth/token'], 'exactly the two checks');
  const events = await checkEvents(setup);
  t.equal(events.length, 1, 'one event');
  t.match(events[0], { outcome: 'succeeded', errorCode: null, actor: /internal/ });
  t.match((await lookup(setup)).json(), { status: 'ready', next: 'login' });
});

t.test('served bot token revoked, the standby live: the check serves the standby and stays ready', async (t) => {
  const setup = await bootstrapped(t);
  const [served, standby] = setup.fake.liveTokensOf(setup.instance.bot.userId).sort((a, b) => (b.expiresAt ?? '').localeCompare(a.expiresAt ?? ''));
  setup.fake.revokePersonalAccessToken(served.id);
  const response = await check(setup);
  t.match(response.json(), { status: 'ready', health: { problems: [] } });
  const token = (await botTokenCall(setup.app, setup.instance.instanceId)).json().token;
  t.equal(token, standby.token, 'the standby is served');
  t.ok(await accepted(setup.fake, token), 'GitLab accepts it');
  t.match((await checkEvents(setup))[0], { outcome: 'repaired' });
});

t.test('both bot tokens revoked: the check degrades the instance, lookup shows it, the bot-token route is 409; a bootstrap makes it ready again', async (t) => {
  const setup = await bootstrapped(t);
  for (const token of setup.fake.liveTokensOf(setup.instance.bot.userId)) setup.fake.revokePersonalAccessToken(token.id);
  const response = await check(setup);
  t.equal(response.statusCode, 200, response.body);
  const problem = { code: 'bot_token_unusable', step: 'bot_token' };
  t.match(response.json(), { status: 'degraded', problem, health: { problems: [problem] } });
  t.match((await lookup(setup)).json(), { status: 'degraded', next: 'login', problem }, 'logins still work');
  const refused = await botTokenCall(setup.app, setup.instance.instanceId);
  t.same([refused.statusCode, refused.json().code], [409, 'bot_token_unusable']);
  t.match((await checkEvents(setup))[0], { outcome: 'failed', errorCode: 'bot_token_unusable', detail: /now degraded/ });

  const repaired = await postBootstrap(setup.app, { url: setup.fake.url, adminToken: setup.admin.token });
  t.equal(repaired.statusCode, 200, repaired.body);
  const details = (await setup.app.inject({ method: 'GET', url: `/internal/instances/${String(setup.instance.instanceId)}`, headers: auth })).json();
  t.match(details, { status: 'ready', problem: null, health: { problems: [] } }, 'ready again');
  t.ok((await eventsOf(setup)).some((event) => event.outcome === 'repaired' || /repaired/.test(event.detail ?? '')), 'the repair is an event');
  t.ok(await accepted(setup.fake, (await botTokenCall(setup.app, setup.instance.instanceId)).json().token), 'a working token is served again');
  t.match((await check(setup)).json(), { status: 'ready' }, 'and the next check agrees');
});

t.test('OAuth application deleted on GitLab: the user-token refresh is 409 reauthorization_required and degrades the instance, /me is 401, the check finds it too', async (t) => {
  const setup = await bootstrapped(t);
  const { app, fake, instance } = setup;
  const gitlabUser = fake.createUser({ username: 'alice' });
  const browser = new Browser();
  const { sessionToken } = await login(browser, app, fake, instance.instanceId, { gitlabUserId: gitlabUser.id });
  const user = await readRow(app.deps.db, 'users', { instanceId: instance.instanceId });
  const me = () => app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } });
  t.equal((await me()).statusCode, 200, 'logged in');

  fake.deleteApplication(instance.oauthApplication.id);
  setup.clock.now = new Date(setup.clock.now.getTime() + DAY_MS);
  const userToken = () => gitlabToken(app, user.id);
  const refused = await userToken();
  t.same([refused.statusCode, refused.json().code], [409, 'reauthorization_required'], refused.body);
  const requests = fake.requests.length;
  t.same((await userToken()).json().code, 'reauthorization_required', 'still 409');
  t.equal(fake.requests.length, requests, 'without asking GitLab again');
  const problem = { code: 'oauth_application_unusable', step: 'oauth_application' };
  t.match((await lookup(setup)).json(), { status: 'degraded', next: 'bootstrap', problem });
  t.match((await eventsOf(setup)).at(-1), { step: 'oauth_application', outcome: 'failed', errorCode: 'oauth_application_unusable', actor: /internal/ });

  const unauthenticated = await me();
  t.same([unauthenticated.statusCode, unauthenticated.json().code], [401, 'unauthenticated']);
  t.match(unauthenticated.json().detail, /log in again/);

  const checked = await check(setup);
  t.match(checked.json(), { status: 'degraded', problem, health: { problems: [problem] } });
});

t.test('bot account blocked on GitLab: the check degrades the instance with bot_account_unusable and the reason; unblocked, the next check makes it ready again', async (t) => {
  const setup = await bootstrapped(t);
  setup.fake.blockUser(setup.instance.bot.userId);
  const problem = { code: 'bot_account_unusable', step: 'bot_account', title: /\(blocked\)/ };
  t.match((await check(setup)).json(), { status: 'degraded', problem, health: { problems: [problem] } });
  t.match((await lookup(setup)).json(), { status: 'degraded', next: 'login', problem });
  setup.fake.users.get(setup.instance.bot.userId)!.state = 'active';
  t.match((await check(setup)).json(), { status: 'ready', problem: null });
  t.same((await checkEvents(setup)).map((event) => [event.outcome, /\((now degraded|ready again)\)/.exec(event.detail ?? '')?.[1]]), [['failed', 'now degraded'], ['succeeded', 'ready again']], 'each change an event');
});
