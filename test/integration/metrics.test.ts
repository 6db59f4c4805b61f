// GET /metrics: internal token only, and its series move with what happened: bootstraps and logins by
// outcome and code, GitLab calls by operation and outcome, refreshes, rotations, instances by status.
import t from 'tap';
import { bootstrappedInstance, botTokenCall, gitlabToken, INTERNAL_AUTH, postBootstrap } from '../helpers/gitlab.js';
import { Browser, login } from '../helpers/ready-instance.js';
import { readRows } from '../helpers/rows.js';
import type { App } from '../../src/app.js';

const DAY_MS = 86_400_000;

/** The value of the series `name{labels}` (exactly these labels) in a Prometheus text scrape; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if ((match.at(2) ?? '').split(',').filter(Boolean).sort().join(',') === wanted) return Number(match[3]);
  }
  return 0;
}

async function scrape(app: App): Promise<string> {
  const response = await app.inject({ method: 'GET', url: '/metrics', headers: INTERNAL_AUTH });
  if (response.statusCode !== 200) throw new Error(`/metrics answered ${String(response.statusCode)}: ${response.body}`);
  return response.body;
}

t.test('/metrics needs an internal token', async (t) => {
  const { app } = await bootstrappedInstance(t);
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(response.statusCode, 401);
  t.equal(response.json().code, 'internal_unauthorized');
  const scraped = await app.inject({ method: 'GET', url: '/metrics', headers: INTERNAL_AUTH });
  t.equal(scraped.statusCode, 200);
  t.match(scraped.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(scraped.body, /^gitlab_connect_process_cpu_user_seconds_total \d/m, 'process metrics');
});

t.test('a bootstrap and a failed one move the bootstrap, GitLab call, request and instance series, with no instance in a label', async (t) => {
  // A database of its own: the suite's other tests leave instances of every status.
  const { app, fake, instance } = await bootstrappedInstance(t, {}, {}, { ownDatabase: true });
  const text = await scrape(app);
  t.equal(sample(text, 'gitlab_connect_bootstraps_total', { outcome: 'success', code: 'none' }), 1);
  t.equal(sample(text, 'gitlab_connect_gitlab_calls_total', { operation: 'create_user', outcome: 'success', status_class: '2xx' }), 1, 'the bot user was created once');
  t.equal(sample(text, 'gitlab_connect_gitlab_calls_total', { operation: 'create_application', outcome: 'success', status_class: '2xx' }), 1);
  t.equal(sample(text, 'gitlab_connect_http_requests_total', { method: 'POST', route: '/instances/bootstrap', status: '201' }), 1);
  const ready = (await readRows(app.deps.db, 'instances', { status: 'ready' })).length;
  t.ok(ready >= 1);
  t.equal(sample(text, 'gitlab_connect_instances', { status: 'ready' }), ready, 'instances by status, read from the database');
  t.match(text, /^gitlab_connect_instances\{status="removed"\} 0$/m, 'a status without instances reports 0');

  const refused = await postBootstrap(app, { url: fake.url, adminToken: 'glpat-not-a-known-token-000' });
  t.equal(refused.json().code, 'token_invalid');
  const after = await scrape(app);
  t.equal(sample(after, 'gitlab_connect_bootstraps_total', { outcome: 'failure', code: 'token_invalid' }), 1);
  t.equal(sample(after, 'gitlab_connect_gitlab_calls_total', { operation: 'token_self', outcome: 'refused', status_class: '4xx' }), 1, "GitLab's 401 counted as refused");
  t.notOk(after.includes(instance.instanceId), 'no instance id in any label');
  t.notOk(after.includes(new URL(fake.url).host), 'no GitLab host in any label');
});

t.test('a login, a failed callback, a refresh and a rotation move their series', async (t) => {
  const { app, fake, instance, clock } = await bootstrappedInstance(t);
  const person = fake.createUser({ username: 'alice', name: 'Alice', email: 'alice@example.com' });
  const { sessionToken } = await login(new Browser(), app, fake, instance.instanceId, { gitlabUserId: person.id });
  t.ok(sessionToken, 'logged in');
  await app.inject({ method: 'GET', url: '/auth/gitlab/callback?code=x&state=unknown-state' });
  let text = await scrape(app);
  t.equal(sample(text, 'gitlab_connect_logins_total', { outcome: 'success', code: 'none' }), 1);
  t.equal(sample(text, 'gitlab_connect_logins_total', { outcome: 'failure', code: 'invalid_state' }), 1);
  t.equal(sample(text, 'gitlab_connect_gitlab_calls_total', { operation: 'oauth_code_exchange', outcome: 'success', status_class: '2xx' }), 1);
  t.equal(sample(text, 'gitlab_connect_http_requests_total', { method: 'GET', route: '/auth/gitlab/callback/:key', status: '302' }), 1, "the route pattern (the instance's own redirect URI), not the URL");

  const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${String(sessionToken)}` } });
  clock.now = new Date(clock.now.getTime() + 340 * DAY_MS);
  const token = await gitlabToken(app, String(me.json().user.id));
  t.equal(token.statusCode, 200, token.body);
  const bot = await botTokenCall(app, String(instance.instanceId));
  t.equal(bot.statusCode, 200, bot.body);
  text = await scrape(app);
  t.equal(fake.grantCount('refresh_token'), 1);
  t.equal(sample(text, 'gitlab_connect_user_token_refreshes_total', { outcome: 'success' }), 1);
  t.equal(fake.counters.personalAccessTokensRotated, 1);
  t.equal(sample(text, 'gitlab_connect_bot_token_rotations_total', { outcome: 'success' }), 1);
});
