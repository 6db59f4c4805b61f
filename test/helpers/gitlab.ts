// Shared set-up for tests that talk to the fake GitLab over real HTTP on 127.0.0.1.
import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import { startFakeGitlab, type FakeGitlab, type FakeGitlabOptions } from '../fake-gitlab/index.js';

/** The fake listens on loopback over http, which production configuration refuses. */
export const FAKE_GITLAB_ENV = { ALLOW_PRIVATE_NETWORKS: 'true', ALLOW_HTTP: 'true', BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '10000' };

export async function startTestGitlab(t: Test, options: FakeGitlabOptions = {}): Promise<FakeGitlab> {
  const fake = await startFakeGitlab(options);
  t.teardown(() => fake.close());
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
    liveBotTokens: bots.length === 1 ? fake.liveTokensOf(bots[0]!.id).length : -1,
    applications: fake.applications.size,
  };
}
