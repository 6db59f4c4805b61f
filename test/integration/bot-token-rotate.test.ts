// POST /internal/instances/:id/bot-token/rotate: an operator's rotation (suspected leak) rotates both bot
// tokens, the standby first and then the served one, so a working token is stored throughout; it answers
// the new token, coalesces concurrent calls, never returns an old token, and a lost answer is completed
// by a retry with exactly two live tokens left.
import t from 'tap';
import type { FakeGitlab } from '../fake-gitlab/index.js';
import { buildAppBehindProxy } from '../helpers/app.js';
import { acceptedByGitlab as accepted, bootstrappedInstance as bootstrapped, botTokenCall, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { updateRows } from '../helpers/rows.js';

const ROTATE = /\/personal_access_tokens\/\d+\/rotate$/;

const rotatedIds = (fake: FakeGitlab) => fake.requests.filter((request) => ROTATE.test(request.path)).map((request) => Number(/(\d+)\/rotate$/.exec(request.path)![1]));

t.test('the rotate route rotates the standby, then the served token with the new one; answers the new token; both old tokens die; two live tokens', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const [served, standby] = fake.liveTokensOf(instance.bot.userId);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/bot-token/rotate`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  t.same(rotatedIds(fake), [standby.id, served.id], 'the standby first, then the served token');
  const rotations = fake.requests.filter((request) => ROTATE.test(request.path));
  t.equal(rotations[0].token, served.token, 'the standby rotated by the served token');
  t.equal(rotations[1].token, response.json().token, 'the old served token rotated by the new one');
  t.ok(fake.personalAccessTokens.get(served.id)!.revoked && fake.personalAccessTokens.get(standby.id)!.revoked, 'both old tokens are revoked');
  const live = fake.liveTokensOf(instance.bot.userId);
  t.equal(live.length, 2, 'exactly two live tokens');
  const answered = live.find((token) => token.token === response.json().token);
  t.same(response.json(), { token: answered!.token, expiresAt: `${String(answered!.expiresAt)}T00:00:00.000Z` });
  t.ok(await accepted(fake, response.json().token), 'GitLab accepts the new token');
  const next = await botTokenCall(app, instance.instanceId);
  t.equal(next.json().token, response.json().token, 'the new token is served from now on');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.match(events.slice(-2), [{ step: 'bot_token_rotate', outcome: 'succeeded', detail: /^operator rotation/ }, { step: 'bot_token_rotate', outcome: 'succeeded', detail: /^operator rotation/ }]);
});

t.test('five concurrent rotate calls cause one rotation of both tokens and all get the same new token', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const responses = await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/bot-token/rotate`, headers: auth })));
  t.equal(fake.counters.personalAccessTokensRotated, 2, 'two rotations on GitLab: the standby and the served token');
  t.same(new Set(responses.map((response) => response.json().token)).size, 1, 'one token for all');
  t.equal(responses[0].statusCode, 200);
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2);
});

t.test(
  'concurrent rotate calls whose first read waits for a new database connection (a loaded machine) still cause one rotation',
  { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server behind a proxy)' },
  async (t) => {
    const fake = await startTestGitlab(t);
    const { app, proxy } = await buildAppBehindProxy(t, { env: FAKE_GITLAB_ENV });
    const bootstrap = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
    t.equal(bootstrap.statusCode, 201, bootstrap.body);
    const { instanceId } = bootstrap.json();
    // Without the join, the calls beyond the pool's open connections waited for new ones longer than the
    // first call's whole rotation, read the rotated tokens as theirs and rotated again (seen failing).
    proxy.delayNewConnections(1500);
    const responses = await Promise.all(Array.from({ length: 5 }, () => app.inject({ method: 'POST', url: `/internal/instances/${String(instanceId)}/bot-token/rotate`, headers: auth })));
    t.same(responses.map((response) => response.statusCode), [200, 200, 200, 200, 200]);
    t.equal(fake.counters.personalAccessTokensRotated, 2, 'one rotation of both tokens');
    t.equal(new Set(responses.map((response) => response.json().token)).size, 1, 'one token for all');
  },
);

t.test('the answer to the second rotation lost after GitLab acted: an error, never the old token; the new token is served; a retry completes with two live tokens', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const [served, standby] = fake.liveTokensOf(instance.bot.userId);
  fake.injectFault({ method: 'POST', path: ROTATE, nth: 2, afterActing: true, drop: true });
  const rotate = () => app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/bot-token/rotate`, headers: auth });
  const failed = await rotate();
  t.same([failed.statusCode, failed.json().code], [502, 'gitlab_unreachable'], failed.body);
  t.notMatch(failed.body, served.token, 'not the leaked token');
  t.ok(fake.personalAccessTokens.get(served.id)!.revoked, 'the leaked token died anyway (GitLab acted)');
  const botToken = await botTokenCall(app, instance.instanceId);
  t.equal(botToken.statusCode, 200);
  t.ok(await accepted(fake, botToken.json().token), 'the promoted token is served and works');

  const retried = await rotate();
  t.equal(retried.statusCode, 200, retried.body);
  t.ok(await accepted(fake, retried.json().token));
  const live = fake.liveTokensOf(instance.bot.userId);
  t.equal(live.length, 2, 'exactly two live tokens: the lost one was adopted');
  t.notOk(live.some((token) => [served.id, standby.id].includes(token.id)), 'no old token is live');
  t.notOk(rotatedIds(fake).some((id, index, all) => all.indexOf(id) !== index), 'no token rotated twice (a revoked one would revoke its family)');
});

t.test('a one-token instance is rotated in place; an unknown instance is 404', async (t) => {
  const { app, instance, fake } = await bootstrapped(t);
  const [served, standby] = fake.liveTokensOf(instance.bot.userId);
  fake.revokePersonalAccessToken(standby.id);
  await updateRows(app.deps.db, 'instances', { id: instance.instanceId }, { botStandbyTokenId: null, botStandbyTokenSealed: null });
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${String(instance.instanceId)}/bot-token/rotate`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  t.same(rotatedIds(fake), [served.id]);
  t.ok(await accepted(fake, response.json().token));
  t.notOk(await accepted(fake, served.token), 'the old token is dead');
  const missing = await app.inject({ method: 'POST', url: '/internal/instances/00000000-0000-4000-8000-000000000000/bot-token/rotate', headers: auth });
  t.same([missing.statusCode, missing.json().code], [404, 'instance_not_found']);
});
