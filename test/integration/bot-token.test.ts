// POST /internal/instances/:id/bot-token: the token as it is, rotated once near expiry (across
// processes), within a shorter maximum lifetime, never when GitLab says it is dead.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { DAY_MS, gitlabDateToInstant } from '../../src/time.js';
import { LogCapture, testConfig, testFileDatabase } from '../helpers/app.js';
import { bootstrappedInstance as bootstrapped, FAKE_GITLAB_ENV, INTERNAL_AUTH as auth, postBootstrap } from '../helpers/gitlab.js';

t.test('the bot token far from expiry is returned as is, with no call to rotate', async (t) => {
  const { app, instance, fake, botToken } = await bootstrapped(t);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200);
  t.same(response.json(), { token: botToken()[0]!.token, expiresAt: `${botToken()[0]!.expiresAt}T00:00:00.000Z` });
  t.equal(fake.counters.personalAccessTokensRotated, 0);
});

t.test('near expiry 10 concurrent callers on two processes cause one rotation and all get the new token', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  const oldToken = botToken()[0]!;
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const second = await buildApp(testConfig(FAKE_GITLAB_ENV), { database: (await testFileDatabase()).database, logger: createLogger('info', new LogCapture()), clock: () => clock.now });
  t.teardown(() => second.close());

  const responses = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 ? second : app).inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth })),
  );
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'one rotation on GitLab');
  const [newToken] = botToken();
  t.not(newToken!.token, oldToken.token);
  t.ok(fake.personalAccessTokens.get(oldToken.id)!.revoked, 'the old token is revoked');
  for (const response of responses) t.same(response.json(), { token: newToken!.token, expiresAt: `${newToken!.expiresAt}T00:00:00.000Z` });
  t.ok(gitlabDateToInstant(newToken!.expiresAt!).getTime() - clock.now.getTime() > 300 * DAY_MS, 'an explicit expiry far away');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.equal(events.filter((event: { step: string }) => event.step === 'bot_token_rotate').length, 1);
});

t.test('a bot token GitLab no longer accepts is not rotated blindly: 409 bot_token_unusable, then at once without asking GitLab', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  fake.revokePersonalAccessToken(botToken()[0]!.id);
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const botTokenCall = () => app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  const response = await botTokenCall();
  t.equal(response.statusCode, 409);
  t.equal(response.json().code, 'bot_token_unusable');
  t.equal(fake.requests.filter((request) => request.path.endsWith('/rotate')).length, 0, 'a dead token is never sent to rotate');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'bot_token_unusable' });

  const requests = fake.requests.length;
  const again = await botTokenCall();
  t.same([again.statusCode, again.json().code], [409, 'bot_token_unusable'], 'still 409');
  t.equal(fake.requests.length, requests, 'no request to GitLab at all');
  const details = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}`, headers: auth })).json();
  t.match(details, { status: 'ready', lastError: { step: 'bot_token', code: 'bot_token_unusable' } }, 'still ready for logins, the failure on record');
  const row = await app.deps.db.selectFrom('instances').select(['bot_token_sealed']).where('id', '=', instance.instanceId).executeTakeFirstOrThrow();
  t.equal(row.bot_token_sealed, null, 'the dead token is dropped');

  const repaired = await postBootstrap(app, { url: fake.url, adminToken: fake.seedAdmin().token });
  t.same(repaired.json().repaired, ['bot_token'], 'a new bootstrap repairs it');
  const afterRepair = await botTokenCall();
  t.equal(afterRepair.statusCode, 200);
  t.equal(afterRepair.json().token, botToken()[0]!.token, 'the repaired token is served');
});

t.test('a rotation GitLab fails (500) near expiry serves the current token and records the failure', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  const current = botToken()[0]!;
  fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, status: 500 });
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  t.same(response.json(), { token: current.token, expiresAt: `${current.expiresAt}T00:00:00.000Z` }, 'the current token, which still works');
  t.equal(fake.counters.personalAccessTokensRotated, 0);
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error', detail: /still served/ });

  const next = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(next.statusCode, 200);
  t.not(next.json().token, current.token, 'the next call rotates once GitLab works again');
  t.equal(fake.counters.personalAccessTokensRotated, 1);
});

t.test('an instance with a shorter maximum token lifetime gets a rotation within it', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t, { maxTokenLifetimeDays: 90 });
  const first = botToken()[0]!;
  t.equal(first.expiresAt, fake.dateInDays(90), 'the bootstrap got the longest token the instance allows');
  clock.now = new Date(clock.now.getTime() + 70 * DAY_MS);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 200, response.body);
  const [rotated] = botToken();
  t.equal(response.json().token, rotated!.token);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.equal(rotated!.expiresAt, fake.dateInDays(89), 'the day before the limit GitLab named');
  t.equal(fake.requests.filter((request) => request.path.endsWith('/rotate') && request.status === 400).length, 1, 'one refusal, then one rotation');
});

t.test('a rotation that fails after the token expired is an error, recorded', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  fake.injectFault({ method: 'GET', path: '/api/v4/personal_access_tokens/self', status: 500 });
  const expired = botToken()[0]!;
  clock.now = gitlabDateToInstant(expired.expiresAt!);
  const response = await app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  t.equal(response.statusCode, 502, response.body);
  t.equal(response.json().code, 'gitlab_error');
  t.notMatch(response.body, expired.token, 'not the expired token');
  const events = (await app.inject({ method: 'GET', url: `/internal/instances/${instance.instanceId}/events`, headers: auth })).json().events;
  t.match(events.at(-1), { step: 'bot_token_rotate', outcome: 'failed', errorCode: 'gitlab_error' });
});


t.test('a token capped below the rotation window is due at half its lifetime, not before, and not again at once', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t, { maxTokenLifetimeDays: 20 });
  const issued = botToken()[0]!;
  const call = () => app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  // The clock moves between the bootstrap and the first call: 9 of ~20 days gone, 11 left, less than
  // the 30-day window but more than half the lifetime.
  clock.now = new Date(clock.now.getTime() + 9 * DAY_MS);
  t.equal((await call()).json().token, issued.token);
  t.equal(fake.counters.personalAccessTokensRotated, 0, 'not due while more than half its lifetime is left');
  clock.now = new Date(clock.now.getTime() + 2 * DAY_MS);
  const rotated = await call();
  t.not(rotated.json().token, issued.token);
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'due once less than half its lifetime is left');
  for (let i = 0; i < 3; i++) t.equal((await call()).json().token, rotated.json().token);
  t.equal(fake.counters.personalAccessTokensRotated, 1, 'the rotated token is not due at once');
});

t.test('after a rotation whose answer was lost, the revoked token is not sent to rotate again', async (t) => {
  const { app, instance, fake, clock, botToken } = await bootstrapped(t);
  const current = botToken()[0]!;
  fake.injectFault({ method: 'POST', path: /\/personal_access_tokens\/\d+\/rotate$/, drop: true });
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const call = () => app.inject({ method: 'POST', url: `/internal/instances/${instance.instanceId}/bot-token`, headers: auth });
  const first = await call();
  // GitLab may have rotated before the answer was lost, revoking the current token: it is not served.
  t.same([first.statusCode, first.json().code, first.json().token], [502, 'gitlab_unreachable', undefined], 'the answer was lost: no token that may be revoked is served');
  // What GitLab would hold had it rotated before the connection dropped: the old token revoked.
  fake.revokePersonalAccessToken(current.id);
  const rotations = fake.requests.filter((request) => request.path.endsWith('/rotate')).length;
  const second = await call();
  t.same([second.statusCode, second.json().code], [409, 'bot_token_unusable']);
  t.equal(fake.requests.filter((request) => request.path.endsWith('/rotate')).length, rotations, 'no rotation of a revoked token (it would revoke the family)');
});
