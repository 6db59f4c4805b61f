// Shared set-up for tests that talk to the fake GitLab over real HTTP on 127.0.0.1.
import type { Test } from 'tap';
import { buildTestApp, TEST_INTERNAL_TOKEN, type TestAppDeps } from './app.js';
import type { App } from '../../src/app.js';
import { startFakeGitlab, type FakeGitlab, type FakeGitlabOptions } from '../fake-gitlab/index.js';

/** The fake listens on loopback over http, which production configuration refuses. */
export const FAKE_GITLAB_ENV = { ALLOW_PRIVATE_NETWORKS: 'true', ALLOW_HTTP: 'true' };

/** URLs fakes of this test process (one suite or file, one database) have had: a URL is an instance's identity. */
const usedUrls = new Set<string>();

/**
 * A fake GitLab closed when the test ends. Its URL is new in this test process: the OS may hand a closed
 * fake's port to a new one, and the process's database would then know the new fake as an earlier test's
 * instance (a 200 re-check where a 201 first set-up was meant).
 */
export async function startTestGitlab(t: Test, options: FakeGitlabOptions = {}): Promise<FakeGitlab> {
  let fake = await startFakeGitlab(options);
  for (let tries = 0; usedUrls.has(fake.url) && options.port === undefined && tries < 20; tries++) {
    const reused = fake;
    fake = await startFakeGitlab(options);
    await reused.close();
  }
  usedUrls.add(fake.url);
  const started = fake;
  t.teardown(() => started.close());
  return fake;
}

export function postBootstrap(app: App, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/instances/bootstrap', payload: body });
}

/** What the tests count on the fake: the side effects of a bootstrap. */
export function botSideEffects(fake: FakeGitlab, botUsername = 'review-bot') {
  const bots = fake.usersNamed(botUsername);
  return {
    bots: bots.length,
    liveBotTokens: bots.length === 1 ? fake.liveTokensOf(bots[0].id).length : -1,
    applications: fake.applications.size,
  };
}

/** The Authorization header of the internal routes in tests. */
export const INTERNAL_AUTH = { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` };

/** POST /internal/instances/:id/bot-token with the internal token: the bot token a caller is served. */
export function botTokenCall(app: App, instanceId: string) {
  return app.inject({ method: 'POST', url: `/internal/instances/${instanceId}/bot-token`, headers: INTERNAL_AUTH });
}

/** POST /internal/users/:id/gitlab-token with the internal token, or `token` instead (null: no Authorization header). */
export function gitlabToken(app: App, userId: string, token: string | null = TEST_INTERNAL_TOKEN) {
  return app.inject({ method: 'POST', url: `/internal/users/${userId}/gitlab-token`, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
}

/**
 * GET /api/v4/user on the fake GitLab with `token`: a personal access token (the bot's) goes as
 * PRIVATE-TOKEN, `{ oauth }` (a user's OAuth access token) as a Bearer token. For a test that reads the
 * refusal's status (403: the account is blocked, not the token unknown) or whose user the token is.
 */
export function gitlabUserWith(fake: FakeGitlab, token: string | { oauth: string }): Promise<Response> {
  const headers: Record<string, string> = typeof token === 'string' ? { 'private-token': token } : { authorization: `Bearer ${token.oauth}` };
  return fetch(`${fake.url}/api/v4/user`, { headers });
}

/** Does the fake GitLab accept `token` at GET /api/v4/user (200)? See `gitlabUserWith` for how it is sent. */
export async function acceptedByGitlab(fake: FakeGitlab, token: string | { oauth: string }): Promise<boolean> {
  return (await gitlabUserWith(fake, token)).status === 200;
}

/** POST requests to the fake's token endpoint: the service's client checks (and any token grant). */
export function clientChecks(fake: FakeGitlab): number {
  return fake.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/oauth/token')).length;
}

/** A bootstrapped instance; the app and the fake share one clock the test can move. `env` adds to the app's configuration. */
export async function bootstrappedInstance(t: Test, options: FakeGitlabOptions = {}, env: Record<string, string> = {}, deps: Pick<TestAppDeps, 'ownDatabase'> = {}) {
  const clock = { now: new Date() };
  const fake = await startTestGitlab(t, { ...options, now: () => clock.now });
  const admin = fake.seedAdmin();
  const { app, logs, testDatabase } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, ...env }, { ...deps, clock: () => clock.now });
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  if (response.statusCode !== 201) throw new Error(response.body);
  const instance = response.json();
  const botToken = () => fake.liveTokensOf(instance.bot.userId);
  return { clock, fake, admin, app, logs, testDatabase, instance, botToken };
}
