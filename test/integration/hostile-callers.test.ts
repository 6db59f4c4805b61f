// Strangers on the public routes and admins giving odd input: a private key pasted with the CA, the
// onboarding rate limit spread over three routes, undecodable paths, JSON numbers where text belongs,
// a plain OPTIONS, a second URL of a registered GitLab given to register, and a manual instance
// removed with an admin token. Each answers a problem and keeps what it must keep.
import t, { type Test } from 'tap';
import { insertInstanceEvent, listInstanceEvents } from '../../src/db/instances.repo.js';
import { buildTestApp, midMinuteClock } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, INTERNAL_AUTH, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { LOGIN_SCOPES } from '../helpers/ready-instance.js';
import { insertRows, readRows } from '../helpers/rows.js';
import { createTestCertificates } from '../fake-gitlab/index.js';
import type { App } from '../../src/app.js';
import type { FakeGitlab } from '../fake-gitlab/index.js';

const certificates = createTestCertificates();

t.test('caCertificate: a private key or stray text next to the certificate is refused before anything is stored; two certificates pass', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  // The last: 64 KiB of BEGIN lines without an END (refused in one pass, see agents.ts PEM_BLOCK).
  for (const caCertificate of [`${certificates.caCert}\n${certificates.serverKey}`, `${certificates.caCert}\nhello`, certificates.serverKey, '-----BEGIN A-----'.repeat(3800)]) {
    const problem = expectProblem(t, await postBootstrap(app, { url: fake.url, adminToken: 'x', caCertificate }), { status: 400, code: 'validation_failed' });
    t.match(problem.errors, [{ field: 'body.caCertificate' }]);
    t.notMatch(JSON.stringify(problem), /PRIVATE KEY/);
  }
  t.equal(fake.requests.length, 0, 'nothing was sent to GitLab');
  const rows = await readRows(app.deps.db, 'instances', { url: fake.url });
  t.same(rows, [], 'nothing stored');
  const chain = await app.inject({ method: 'POST', url: '/instances/preflight', payload: { url: fake.url, caCertificate: `${certificates.caCert}\n${certificates.untrusted.caCert}` } });
  t.equal(chain.statusCode, 200, chain.body);
});

t.test('bootstrap, preflight and register share one rate limit per client', async (t) => {
  const { app } = await buildTestApp(t, { ...FAKE_GITLAB_ENV, BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '2' }, { clock: midMinuteClock() });
  const body = { url: 'http://gitlab.invalid', adminToken: 'x' };
  // A client address of its own: the other tests' calls share this database's counts.
  const remoteAddress = '203.0.113.7';
  t.not((await app.inject({ method: 'POST', url: '/instances/bootstrap', payload: body, remoteAddress })).statusCode, 429);
  t.not((await app.inject({ method: 'POST', url: '/instances/preflight', payload: body, remoteAddress })).statusCode, 429);
  const third = await app.inject({ method: 'POST', url: '/instances/register', payload: { url: body.url, botToken: 'x', oauthApplication: { clientId: 'a', clientSecret: 'b' } }, remoteAddress });
  const problem = expectProblem(t, third, { status: 429, code: 'rate_limited' });
  t.match(problem.detail, /bootstrap, preflight and register together/);
});

t.test('an undecodable path is a problem+json 400, not Fastify\'s own JSON', async (t) => {
  const { app } = await buildTestApp(t);
  for (const url of ['/instances/%ZZ', '/me%C0']) {
    const problem = expectProblem(t, await app.inject({ method: 'GET', url }), { status: 400, code: 'malformed_request' });
    t.match(problem.detail, /percent-encoding/);
  }
});

t.test('JSON numbers where the body wants text are refused, not coerced: {"url": 5}, a numeric adminToken', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  for (const payload of [{ url: 5, adminToken: 'x' }, { url: fake.url, adminToken: 12345678 }]) {
    const problem = expectProblem(t, await postBootstrap(app, payload), { status: 400, code: 'validation_failed' });
    t.match(problem.detail, /must be string/);
  }
  t.equal(fake.requests.length, 0, 'nothing was sent to GitLab');
  const lookup = await app.inject({ method: 'GET', url: '/instances/lookup?url=gitlab.example.com' });
  t.equal(lookup.statusCode, 200, 'query strings are still read as text');
});

t.test('a plain OPTIONS is told that OPTIONS serves CORS preflights', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'OPTIONS', url: '/meta' });
  const problem = expectProblem(t, response, { status: 405, code: 'method_not_allowed' });
  t.match(problem.detail, /only as a CORS preflight/);
  t.notMatch(problem.detail, /does not answer OPTIONS/);
});

/** A fake on every loopback address whose issuer is its 127.0.0.1 URL, an app, and the admin's own bot and application. */
async function manualOnTwoAddresses(t: Test): Promise<{ fake: FakeGitlab; app: App; canonical: string; alias: string; body: (url: string) => Record<string, unknown> }> {
  const fake = await startTestGitlab(t, { host: '0.0.0.0' });
  const port = new URL(fake.url).port;
  const canonical = `http://127.0.0.1:${port}`;
  fake.externalUrl = canonical;
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const { callbackUrl } = (await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: canonical } })).json<{ callbackUrl: string }>();
  const setup = fake.seedManualSetup({ redirectUri: callbackUrl, scopes: LOGIN_SCOPES.split(' ') });
  const body = (url: string) => ({ url, botToken: setup.token, oauthApplication: { clientId: setup.application.uid, clientSecret: setup.application.secret } });
  return { fake, app, canonical, alias: `http://127.0.0.2:${port}`, body };
}

t.test('register of a second URL of a registered GitLab: 409 instance_already_registered, and lookup of it answers for the registered one', async (t) => {
  const { app, canonical, alias, body } = await manualOnTwoAddresses(t);
  const first = await app.inject({ method: 'POST', url: '/instances/register', payload: body(canonical) });
  t.equal(first.statusCode, 201, first.body);
  const { instanceId } = first.json<{ instanceId: string }>();
  const second = await app.inject({ method: 'POST', url: '/instances/register', payload: body(alias) });
  const problem = expectProblem(t, second, { status: 409, code: 'instance_already_registered' });
  t.same([problem.instanceId, problem.canonicalUrl], [instanceId, canonical]);
  const instances = (await readRows(app.deps.db, 'instances')).filter((row) => [canonical, alias].includes(row.url));
  t.same(instances.map((row) => row.url), [canonical], 'one instance for the GitLab');
  t.match((await app.inject({ method: 'GET', url: '/instances/lookup', query: { url: alias } })).json(), { status: 'ready', instanceId });
});

t.test("removing a manual instance with an admin token never blocks the admin's own bot user", async (t) => {
  const { fake, app, canonical, body } = await manualOnTwoAddresses(t);
  const admin = fake.seedAdmin();
  const registered = await app.inject({ method: 'POST', url: '/instances/register', payload: body(canonical) });
  const { instanceId, bot } = registered.json<{ instanceId: string; bot: { userId: number } }>();
  const removed = await app.inject({ method: 'DELETE', url: `/internal/instances/${instanceId}`, headers: INTERNAL_AUTH, payload: { adminToken: admin.token } });
  t.equal(removed.statusCode, 200, removed.body);
  t.match(removed.json(), { gitlab: { botBlocked: false } });
  t.equal(fake.counters.usersBlocked, 0);
  t.equal(fake.users.get(bot.userId)?.state, 'active');
});

t.test('an event detail is stored cut to 2000 characters', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const [row] = await insertRows(app.deps.db, 'instances', { url: fake.url, status: 'failed' });
  await insertInstanceEvent(app.deps.db, { instanceId: row.id, step: 'probe', outcome: 'failed', actor: 'test', detail: 'x'.repeat(10_000), errorCode: 'gitlab_error' });
  const events = await listInstanceEvents(app.deps.db, row.id);
  t.equal(events.at(0)?.detail?.length, 2000);
});
