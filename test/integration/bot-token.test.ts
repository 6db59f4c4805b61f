// POST /internal/instances/:id/bot-token: the bot has two tokens on GitLab (served, standby, staggered
// expiries); a rotation rotates only the standby, with the served token, and promotes it, once across
// processes, within a shorter maximum lifetime, never a token GitLab says is dead. A rotation whose answer
// is lost (dropped, or held past the timeout, after GitLab acted) leaves the served token working and the
// next rotation adopts what GitLab created; a one-token instance (bootstrapped before the pair) still works.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { DAY_MS, gitlabDateToInstant } from '../../src/time.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';
import { LogCapture, testConfig, testFileDatabase } from '../helpers/app.js';
import { acceptedByGitlab as accepted, bootstrappedInstance as bootstrapped, botTokenCall, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';
import { updateRows } from '../helpers/rows.js';

/** The bot's live tokens on the fake, the served one (the later expiry) first. */
function pair(fake: FakeGitlab, botUserId: number) {
  return fake.liveTokensOf(botUserId).sort((a, b) => (b.expiresAt ?? '').localeCompare(a.expiresAt ?? '') || b.id - a.id);
}

const rotationsOf = (fake: FakeGitlab) => fake.requests.filter((request) => request.path.endsWith('/rotate'));

t.test('the bootstrap leaves two live tokens with staggered expiries; the later one is served as is, with no call to rotate', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served, standby] = pair(fake, instance.bot.userId);
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'two live tokens');
  t.equal(served.expiresAt, fake.dateInDays(365), 'the served token has the longest lifetime GitLab allows');
  const halfway = gitlabDateToInstant(standby.expiresAt!).getTime() - clock.now.getTime();
  t.ok(Math.abs(halfway - 182.5 * DAY_MS) <= DAY_MS, 'the standby expires half a lifetime earlier');
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 200);
  t.same(response.json(), { token: served.token, expiresAt: `${String(served.expiresAt)}T00:00:00.000Z` });
  t.equal(fake.counters.personalAccessTokensRotated, 0);
});

t.test('standby near expiry: 10 concurrent callers on two processes cause one rotation of the standby, which is promoted; the old served token stays live and works', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served, standby] = pair(fake, instance.bot.userId);
  clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
  const second = await buildApp(testConfig(FAKE_GITLAB_ENV), { database: (await testFileDatabase()).database, logger: createLogger('info', new LogCapture()), clock: () => clock.now });
  t.teardown(() => second.close());

  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => botTokenCall(i % 2 ? second : app, instance.instanceId)),
  );
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'one rotation on GitLab');
  t.same(rotationsOf(fake).map((request) => [request.path, request.token]), [[`/api/v4/personal_access_tokens/${String(standby.id)}/rotate`, served.token]], 'the standby, rotated with the served token');
  const [promoted, demoted] = pair(fake, instance.bot.userId);
  t.equal(demoted.id, served.id, 'the old served token is live, now the standby');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'exactly two live tokens');
  for (const response of responses) t.ok([promoted.token, served.token].includes(response.json().token), 'the new token, or the served one while the rotation ran');
  for (const token of [promoted.token, served.token]) t.ok(await accepted(fake, token), 'GitLab accepts every token handed out');
  const after = await botTokenCall(app, instance.instanceId);
  t.same(after.json(), { token: promoted.token, expiresAt: `${String(promoted.expiresAt)}T00:00:00.000Z` }, 'the new token is served from then on');
  t.ok(gitlabDateToInstant(promoted.expiresAt!).getTime() - clock.now.getTime() > 300 * DAY_MS, 'an explicit expiry far away');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.equal(events.filter((event: { step: string }) => event.step === 'bot_token_rotate').length, 1);
});

t.test('while the standby rotation waits on GitLab, other callers get the served token at once (the rotation cannot revoke it)', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served] = pair(fake, instance.bot.userId);
  const held = fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, hold: true });
  clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
  const call = () => botTokenCall(app, instance.instanceId);
  const rotating = call();
  await held.reached;
  const meanwhile = await call();
  t.same([meanwhile.statusCode, meanwhile.json().token], [200, served.token], 'served at once, not after the rotation');
  held.release();
  const rotated = await rotating;
  t.equal(rotated.statusCode, 200);
  t.not(rotated.json().token, served.token, 'the holder gets the new token');
  t.equal(fake.counters.personalAccessTokensRotated, 1);
});

for (const lost of [
  { name: 'dropped', fault: { drop: true }, env: {} as Record<string, string> },
  { name: 'held past the timeout', fault: { hold: true }, env: { GITLAB_CREDENTIAL_TIMEOUT_MS: '300' } },
]) {
  t.test(`a rotation answer ${lost.name} after GitLab acted: the served token is still served and works; the next call adopts the lost token; two live tokens`, async (t) => {
    const { app, instance, fake, clock } = await bootstrapped(t, {}, lost.env);
    const [served, standby] = pair(fake, instance.bot.userId);
    const fault = fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, afterActing: true, ...lost.fault });
    t.teardown(() => { fault.release(); });
    clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
    const call = () => botTokenCall(app, instance.instanceId);
    const first = await call();
    t.equal(first.statusCode, 200, first.body);
    t.equal(first.json().token, served.token, 'the served token, untouched by the rotation');
    t.ok(await accepted(fake, first.json().token), 'GitLab accepts it');
    t.ok(fake.personalAccessTokens.get(standby.id)!.revoked, 'GitLab did rotate the standby');
    t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'the served token and the lost one are live');

    const second = await call();
    t.equal(second.statusCode, 200, second.body);
    t.not(second.json().token, served.token, 'rotated this time');
    t.ok(await accepted(fake, second.json().token), 'GitLab accepts the new token');
    t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'exactly two live tokens');
    const rotated = rotationsOf(fake).map((request) => Number(/(\d+)\/rotate$/.exec(request.path)![1]));
    t.equal(rotated.length, 2, 'the lost token was adopted by one rotation');
    t.not(rotated[1], standby.id, 'not the revoked standby (that would revoke the family)');
    t.equal(fake.personalAccessTokens.get(rotated[1])!.previousId, standby.id, 'it rotated the token GitLab created for the lost answer');
  });
}

t.test('a served token GitLab refused: the live standby is served alone (rotated in place, being due); then dead too: 409 bot_token_unusable at once, and a bootstrap restores the pair', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served, standby] = pair(fake, instance.bot.userId);
  fake.revokePersonalAccessToken(served.id);
  clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
  const promoted = await botTokenCall(app, instance.instanceId);
  t.equal(promoted.statusCode, 200, promoted.body);
  t.same(rotationsOf(fake).map((request) => request.path), [`/api/v4/personal_access_tokens/${String(standby.id)}/rotate`], 'the standby, rotated in place; the dead token never sent to rotate');
  t.ok(await accepted(fake, promoted.json().token), 'GitLab accepts the token served');

  fake.revokePersonalAccessToken(pair(fake, instance.bot.userId)[0].id);
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const rotations = rotationsOf(fake).length;
  const response = await botTokenCall(app, instance.instanceId);
  t.same([response.statusCode, response.json().code], [409, 'bot_token_unusable']);
  t.equal(rotationsOf(fake).length, rotations, 'a dead token is never sent to rotate');
  const requests = fake.requests.length;
  const again = await botTokenCall(app, instance.instanceId);
  t.same([again.statusCode, again.json().code], [409, 'bot_token_unusable'], 'still 409');
  t.equal(fake.requests.length, requests, 'no request to GitLab at all');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.match(details, { status: 'degraded', problem: { code: 'bot_token_unusable', step: 'bot_token' }, lastError: { step: 'bot_token', code: 'bot_token_unusable' } }, 'degraded (logins still work), the failure on record');

  const repaired = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
  t.same(repaired.json().repaired, ['bot_token'], 'a new bootstrap repairs it');
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 2, 'two live tokens again');
  const afterRepair = await botTokenCall(app, instance.instanceId);
  t.equal(afterRepair.statusCode, 200);
  t.equal(afterRepair.json().token, pair(fake, instance.bot.userId)[0].token, 'the repaired served token is served');
  const repairedDetails = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}`, headers: auth })).json();
  t.match(repairedDetails, { status: 'ready', problem: null }, 'ready again after the bootstrap');
});

t.test('a rotation GitLab fails (500) serves the untouched served token and records the failure; the next call rotates', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served] = pair(fake, instance.bot.userId);
  fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, status: 500 });
  clock.now = new Date(clock.now.getTime() + 160 * DAY_MS);
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json(), { token: served.token, expiresAt: `${String(served.expiresAt)}T00:00:00.000Z` });
  t.equal(fake.counters.personalAccessTokensRotated, 0);
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error', detail: /still served/ });

  const next = await botTokenCall(app, instance.instanceId);
  t.equal(next.statusCode, 200);
  t.not(next.json().token, served.token, 'the next call rotates once GitLab works again');
  t.equal(fake.counters.personalAccessTokensRotated, 1);
});

t.test('an instance with a shorter maximum token lifetime gets tokens and a rotation within it', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t, { maxTokenLifetimeDays: 90 });
  const [served, standby] = pair(fake, instance.bot.userId);
  t.same([served.expiresAt, standby.expiresAt], [fake.dateInDays(90), fake.dateInDays(45)], 'the longest lifetime allowed, and half of it');
  clock.now = new Date(clock.now.getTime() + 30 * DAY_MS);
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 200, response.body);
  const [rotated] = pair(fake, instance.bot.userId);
  t.equal(response.json().token, rotated.token);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.equal(rotated.expiresAt, fake.dateInDays(90), 'the longest lifetime the instance allows, read at the bootstrap');
  t.equal(rotationsOf(fake).filter((request) => request.status === 400).length, 0, 'asked within the limit: no refusal');
});

t.test('a rotation that fails after the served token expired is an error, recorded', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  fake.injectFault({ method: 'GET', path: '/api/v4/personal_access_tokens/self', status: 500 });
  const [expired] = pair(fake, instance.bot.userId);
  clock.now = gitlabDateToInstant(expired.expiresAt!);
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 502, response.body);
  t.equal(response.json().code, 'gitlab_error');
  t.notMatch(response.body, expired.token, 'not the expired token');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error' });
});

t.test('tokens capped below the rotation window: the standby is due at half its lifetime, not before, and not again at once', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t, { maxTokenLifetimeDays: 20 });
  const [served] = pair(fake, instance.bot.userId);
  const call = () => botTokenCall(app, instance.instanceId);
  // The standby lives 10 days: 4 gone, 6 left, less than the 30-day window but more than half its lifetime.
  clock.now = new Date(clock.now.getTime() + 4 * DAY_MS);
  t.equal((await call()).json().token, served.token);
  t.equal(fake.counters.personalAccessTokensRotated, 0, 'not due while more than half its lifetime is left');
  clock.now = new Date(clock.now.getTime() + 2 * DAY_MS);
  const rotated = await call();
  t.not(rotated.json().token, served.token);
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'due once less than half its lifetime is left');
  for (let i = 0; i < 3; i++) t.equal((await call()).json().token, rotated.json().token);
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'neither token is due at once');
});

t.test('an instance with one token (bootstrapped before the pair) keeps working: its token is served and rotated in place', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served, standby] = pair(fake, instance.bot.userId);
  fake.revokePersonalAccessToken(standby.id);
  await updateRows(app.deps.db, 'instances', { id: instance.instanceId }, { botStandbyTokenId: null, botStandbyTokenSealed: null, botStandbyTokenExpiresAt: null, botStandbyTokenIssuedAt: null });
  const call = () => botTokenCall(app, instance.instanceId);
  t.equal((await call()).json().token, served.token, 'served as is');
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const rotated = await call();
  t.equal(rotated.statusCode, 200, rotated.body);
  t.same(rotationsOf(fake).map((request) => request.path), [`/api/v4/personal_access_tokens/${String(served.id)}/rotate`], 'rotated in place');
  t.ok(await accepted(fake, rotated.json().token));
  t.equal(fake.liveTokensOf(instance.bot.userId).length, 1, 'one token: only a bootstrap (with an admin token) can add the second');
});

t.test('a standby that expired while nobody asked: the served token, due itself, is rotated in place in the same call; the loss is recorded', async (t) => {
  const { app, instance, fake, clock } = await bootstrapped(t);
  const [served] = pair(fake, instance.bot.userId);
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const response = await botTokenCall(app, instance.instanceId);
  t.equal(response.statusCode, 200, response.body);
  t.same(rotationsOf(fake).map((request) => request.path), [`/api/v4/personal_access_tokens/${String(served.id)}/rotate`], 'the served token, rotated in place');
  t.ok(await accepted(fake, response.json().token));
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${String(instance.instanceId)}/events`, headers: auth })).json().events;
  t.match(events.slice(-2), [{ step: 'bot_token_rotate', outcome: 'repaired', detail: /standby token is gone/ }, { step: 'bot_token_rotate', outcome: 'succeeded' }]);
});
