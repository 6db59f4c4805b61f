// POST /instances/bootstrap keeps secrets where they belong: the admin token nowhere, the bot token and
// the OAuth client secret only sealed, on success and when GitLab's error answers echo the admin token.
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import type { App } from '../../src/app.js';
import { SEAL_BOT_TOKEN, SEAL_OAUTH_CLIENT_SECRET } from '../../src/crypto/seal-purposes.js';
import { listInstanceEvents } from '../../src/db/instances.repo.js';
import type { FaultSpec } from '../fake-gitlab/index.js';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem, instanceRow } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';

/** Every row of every table in the public schema, as one JSON text (raw SQL: tables no domain type names count too). */
async function dumpDatabase(t: Test, app: App): Promise<string> {
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public'`.execute(app.deps.db);
  const names = tables.rows.map((row) => row.table_name).sort();
  t.ok(names.includes('instances') && names.includes('instance_events'), `the dump covers the tables: ${names.join(', ')}`);
  const dump: Record<string, unknown[]> = {};
  for (const name of names) dump[name] = (await sql`select * from ${sql.table(name)}`.execute(app.deps.db)).rows;
  return JSON.stringify(dump);
}

function expectAbsent(t: Test, where: string, text: string, secrets: Record<string, string>) {
  for (const [name, secret] of Object.entries(secrets)) {
    t.ok(secret.length >= 20, `${name} is a real secret`);
    t.notOk(text.includes(secret), `the ${name} is not in ${where}`);
  }
}

t.test('after a full bootstrap no table, log line or answer holds the admin token, bot token or client secret', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app, logs } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);

  const botId = response.json().bot.userId as number;
  const [botToken, standbyToken] = fake.liveTokensOf(botId).map((token) => token.token);
  const clientSecret = [...fake.applications.values()][0].secret;
  const secrets = { 'admin token': admin.token, 'bot token': botToken, 'standby bot token': standbyToken, 'OAuth client secret': clientSecret };

  const dump = await dumpDatabase(t, app);
  expectAbsent(t, 'the database', dump, secrets);
  t.ok(logs.lines.some((line) => line.includes('gitlab call')), 'the log did capture the GitLab calls');
  expectAbsent(t, 'the log', logs.text, secrets);
  expectAbsent(t, 'the answer', response.body, secrets);
});

t.test('the bot tokens (served and standby) and the client secret are stored sealed and open to the values GitLab issued', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);

  const row = (await instanceRow(app, fake.url))!;
  const [botToken, standbyToken] = fake.liveTokensOf(response.json().bot.userId).map((token) => token.token);
  const clientSecret = [...fake.applications.values()][0].secret;
  t.type(row.botTokenSealed, 'string');
  t.equal(app.deps.sealer.open(row.botStandbyTokenSealed!, SEAL_BOT_TOKEN), standbyToken, 'the standby token is sealed too');
  t.type(row.oauthClientSecretSealed, 'string');
  t.equal(app.deps.sealer.open(row.botTokenSealed!, SEAL_BOT_TOKEN), botToken);
  t.equal(app.deps.sealer.open(row.oauthClientSecretSealed!, SEAL_OAUTH_CLIENT_SECRET), clientSecret);
  t.equal(SEAL_BOT_TOKEN, 'bot_token');
  t.equal(SEAL_OAUTH_CLIENT_SECRET, 'oauth_client_secret');
  t.throws(() => app.deps.sealer.open(row.botTokenSealed!, SEAL_OAUTH_CLIENT_SECRET), 'a sealed value opens only for its own column');
});

/** Faults whose GitLab answer quotes the admin token back, in each of GitLab's error shapes. */
const echoes: { name: string; fault: (token: string) => FaultSpec; failure: { status: number; code: string; step: string } }[] = [
  {
    name: 'POST /users answers 400 {"message":"bad token …"}',
    fault: (token) => ({ method: 'POST', path: '/api/v4/users', status: 400, body: { message: `bad token ${token}` } }),
    failure: { status: 502, code: 'gitlab_error', step: 'bot_user' },
  },
  {
    name: 'POST /users answers 400 with a validation message object',
    fault: (token) => ({ method: 'POST', path: '/api/v4/users', status: 400, body: { message: { email: [`${token} is taken`] } } }),
    failure: { status: 502, code: 'gitlab_error', step: 'bot_user' },
  },
  {
    name: 'GET /user answers 401 {"error":"invalid_token","error_description":"… token …"}',
    fault: (token) => ({ method: 'GET', path: '/api/v4/user', status: 401, body: { error: 'invalid_token', error_description: `The token ${token} is unknown` } }),
    failure: { status: 422, code: 'token_invalid', step: 'verify_token' },
  },
  {
    name: 'POST /applications answers 500 in plain text',
    fault: (token) => ({ method: 'POST', path: '/api/v4/applications', status: 500, body: `Internal error while handling PRIVATE-TOKEN: ${token}` }),
    failure: { status: 502, code: 'gitlab_error', step: 'oauth_application' },
  },
];

for (const echo of echoes) {
  t.test(`an error answer echoing the admin token (${echo.name}) leaks it nowhere`, async (t) => {
    const fake = await startTestGitlab(t);
    const admin = fake.seedAdmin();
    fake.injectFault(echo.fault(admin.token));
    const { app, logs } = await buildTestApp(t, FAKE_GITLAB_ENV);

    const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    const body = expectProblem(t, response, echo.failure);
    t.match(body.detail, /^GitLab answered \d{3} to [A-Z]+ \//, "the detail is in our own words, none of GitLab's text");
    t.equal(fake.faults[0].applied, 1, 'the echoing answer was given');

    const row = (await instanceRow(app, fake.url))!;
    t.match(row, { status: 'failed', lastErrorStep: echo.failure.step, lastErrorCode: echo.failure.code });
    const events = await listInstanceEvents(app.deps.db, row.id);
    t.ok(events.some((e) => e.outcome === 'failed' && e.errorCode === echo.failure.code), 'the failure is recorded');

    expectAbsent(t, 'the problem answer', response.body, { 'admin token': admin.token });
    expectAbsent(t, 'the events', JSON.stringify(events), { 'admin token': admin.token });
    expectAbsent(t, 'the database', await dumpDatabase(t, app), { 'admin token': admin.token });
    expectAbsent(t, 'the log', logs.text, { 'admin token': admin.token });
  });
}
