// A bootstrapped instance with a logged-in user (alice) and the app listening on a port of 127.0.0.1, so
// that the fake GitLab can deliver webhooks to it: `rewrite` maps a hook URL under PUBLIC_URL to that port.
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import type { TestAppDeps } from './app.js';
import { bootstrappedInstance } from './gitlab.js';
import { Browser, login } from './ready-instance.js';

/**
 * `bootstrappedInstance` plus alice logged in (`as` calls a session route as her) and the app
 * listening; alice is made a project's Maintainer by the test (`createProject` on the fake).
 */
export async function loggedInMaintainer(t: Test, env: Record<string, string> = {}, deps: Pick<TestAppDeps, 'ownDatabase'> = {}) {
  const ready = await bootstrappedInstance(t, {}, env, deps);
  const { app, fake, instance } = ready;
  const alice = fake.createUser({ username: 'alice' });
  const browser = new Browser();
  await login(browser, app, fake, instance.instanceId, { gitlabUserId: alice.id });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const rewrite = (url: string) => url.replace('http://connect.test', `http://127.0.0.1:${String(port)}`);
  const as = (method: 'GET' | 'PUT' | 'DELETE', url: string) => app.inject({ method, url, cookies: browser.cookieObject });
  return { ...ready, alice, browser, port, rewrite, as, botId: Number(instance.bot.userId) };
}
