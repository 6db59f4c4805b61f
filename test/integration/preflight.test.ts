// POST /instances/preflight: on every fake GitLab variant, `ready` agrees with what the bootstrap then
// does with the same input; the preflight sends GitLab no POST, PUT or DELETE and writes no row here.
import t from 'tap';
import type { App } from '../../src/app.js';
import { diagnosisOf } from '../../src/diagnoses.js';
import type { ErrorCode } from '../../src/errors.js';
import { buildTestApp } from '../helpers/app.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { readRows } from '../helpers/rows.js';
import { createTlsVariants, type FakeGitlab, type FakeGitlabOptions } from '../fake-gitlab/index.js';

const tls = createTlsVariants();

interface Variant {
  name: string;
  fake?: FakeGitlabOptions;
  /** The admin token to send, made on the fake. */
  token: (fake: FakeGitlab) => string;
  /** The check that fails, and its code (none when ready). */
  failing?: { name: string; code: string };
  /** What the instance_settings check says when it is not the failing one. */
  settings?: { status: 'pass' | 'warn'; detail: RegExp };
}

const admin = (fake: FakeGitlab) => fake.seedAdmin().token;
const variants: Variant[] = [
  { name: 'a healthy GitLab and an admin token', token: admin, settings: { status: 'pass', detail: /365 days/ } },
  { name: 'terms of service enforced', fake: { termsEnforced: true }, token: admin, failing: { name: 'instance_settings', code: 'bot_account_unusable' } },
  { name: 'the user cap reached', fake: { userCap: 1 }, token: admin, settings: { status: 'warn', detail: /user cap is 1 and it is reached \(1 active users\).*approves it, taking a seat over the cap/ } },
  { name: 'a user cap with a seat left', fake: { userCap: 5 }, token: admin, settings: { status: 'pass', detail: /leaves 4 seat/ } },
  { name: 'a maximum token lifetime of 30 days', fake: { maxTokenLifetimeDays: 30 }, token: admin, settings: { status: 'warn', detail: /bot's token gets 30 days/ } },
  { name: 'admin approval of sign-ups', fake: { requireAdminApproval: true }, token: admin, settings: { status: 'pass', detail: /admin approval, which does not hold a user the bootstrap creates/ } },
  { name: 'a user, not an administrator', token: (fake) => fake.createPersonalAccessToken(fake.createUser({ username: 'dev' }).id, { scopes: ['api'] }).token, failing: { name: 'admin_token', code: 'token_not_admin' } },
  { name: 'a token with read_api only', token: (fake) => fake.seedAdmin({ scopes: ['read_api'] }).token, failing: { name: 'admin_token', code: 'token_missing_scope' } },
  { name: 'Admin Mode on, token without admin_mode', fake: { adminMode: true }, token: admin, failing: { name: 'admin_token', code: 'admin_mode_scope_required' } },
  { name: 'Admin Mode on, token with admin_mode', fake: { adminMode: true }, token: (fake) => fake.seedAdmin({ scopes: ['api', 'admin_mode'] }).token },
  { name: 'GitLab 15.11', fake: { version: '15.11.0-ee' }, token: admin, failing: { name: 'version', code: 'gitlab_version_unsupported' } },
  { name: 'BOT_USERNAME held by an administrator', token: (fake) => (fake.createUser({ username: 'review-bot', admin: true }), admin(fake)), failing: { name: 'bot_username', code: 'bot_username_taken' } },
  { name: 'BOT_USERNAME held by a user this service did not create', token: (fake) => (fake.createUser({ username: 'review-bot' }), admin(fake)), failing: { name: 'bot_username', code: 'bot_username_taken' } },
  { name: 'a bot challenge in front', fake: { front: { kind: 'challenge' } }, token: admin, failing: { name: 'reachable', code: 'gitlab_blocked' } },
  { name: 'a redirect to another domain', fake: { front: { kind: 'redirect', to: 'https://gitlab.example.org' } }, token: admin, failing: { name: 'gitlab', code: 'gitlab_redirected' } },
  { name: 'a leaf-only TLS chain', fake: { tls: { key: tls.key, cert: tls.leafOnly } }, token: admin, failing: { name: 'reachable', code: 'gitlab_tls_error' } },
];

const counted = ['instances', 'instanceEvents', 'users'] as const;
async function rowCounts(app: App): Promise<number[]> {
  return Promise.all(counted.map(async (table) => (await readRows(app.deps.db, table)).length));
}

const writes = (fake: FakeGitlab) => fake.requests.filter((request) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(request.method)).length;

for (const variant of variants) {
  t.test(`${variant.name}: preflight says ${variant.failing ? `not ready (${variant.failing.name}: ${variant.failing.code})` : 'ready'}, writes nothing, and the bootstrap agrees`, async (t) => {
    const fake = await startTestGitlab(t, variant.fake);
    const adminToken = variant.token(fake);
    const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
    const before = await rowCounts(app);
    const preflight = await app.inject({ method: 'POST', url: '/instances/preflight', payload: { url: fake.url, adminToken } });
    t.equal(preflight.statusCode, 200, preflight.body);
    const result = preflight.json();
    t.equal(writes(fake), 0, 'GitLab got no POST, PUT, PATCH or DELETE');
    t.same(await rowCounts(app), before, 'no row was written here');
    t.equal(result.ready, !variant.failing);
    if (variant.failing) {
      const failing = result.checks.find((check: { status: string }) => check.status === 'fail');
      t.match(failing, variant.failing);
      t.equal(typeof failing.fix === 'string', diagnosisOf(variant.failing.code as ErrorCode) !== undefined, 'a fix from the Troubleshooting table where it has advice (else the detail names it)');
    }
    if (variant.settings) t.match(result.checks.find((check: { name: string }) => check.name === 'instance_settings'), variant.settings);
    const bootstrap = await postBootstrap(app, { url: fake.url, adminToken });
    t.equal(bootstrap.statusCode < 300, result.ready, `the bootstrap answered ${String(bootstrap.statusCode)}`);
    if (variant.failing) t.equal(bootstrap.json().code, variant.failing.code, 'with the code the preflight named');
  });
}

t.test('without an admin token the preflight checks the URL and GitLab only, and is not ready', async (t) => {
  const fake = await startTestGitlab(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const result = (await app.inject({ method: 'POST', url: '/instances/preflight', payload: { url: fake.url } })).json();
  t.equal(result.ready, false);
  t.same(result.checks.map((check: { name: string; status: string }) => `${check.name}:${check.status}`), ['url:pass', 'reachable:pass', 'gitlab:pass', 'admin_token:skipped']);
  t.same(fake.requests.map((request) => request.method), ['GET', 'GET'], 'two anonymous reads');
});

t.test('terms of service enforced while BOT_USERNAME is this instance\'s bot (which accepted them): a warning, ready, and the bootstrap succeeds', async (t) => {
  const fake = await startTestGitlab(t);
  const adminToken = admin(fake);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  t.equal((await postBootstrap(app, { url: fake.url, adminToken })).statusCode, 201);
  fake.termsEnforced = true;
  const [bot] = fake.usersNamed(app.deps.config.botUsername);
  bot.termsAccepted = true;
  const writesBefore = writes(fake);
  const result = (await app.inject({ method: 'POST', url: '/instances/preflight', payload: { url: fake.url, adminToken } })).json();
  t.equal(writes(fake), writesBefore, 'the preflight wrote nothing on GitLab');
  t.equal(result.ready, true);
  t.match(result.checks.find((check: { name: string }) => check.name === 'instance_settings'), { status: 'warn', detail: /enforces its terms of service: .* works only if it has accepted them/ });
  t.ok((await postBootstrap(app, { url: fake.url, adminToken })).statusCode < 300, 'the bootstrap keeps its bot');
});
