// A hostile GitLab echoing the admin token in other spellings (lower-cased, upper-cased, base64,
// base64url, hex) in its error bodies (issue 10 item 9): no spelling reaches a table, the log or the answer.
import { sql } from 'kysely';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { readRows } from '../helpers/rows.js';
import { secretEchoFault, secretSpellings } from '../fake-gitlab/index.js';

const cases = [
  { name: 'GET /user answers 404', method: 'GET', path: '/api/v4/user', step: 'verify_token' },
  { name: 'POST /users answers 404', method: 'POST', path: '/api/v4/users', step: 'bot_user' },
];

for (const c of cases) {
  t.test(`${c.name} echoing the admin token in five spellings: none is stored, logged or answered`, async (t) => {
    const fake = await startTestGitlab(t);
    const admin = fake.seedAdmin();
    const fault = fake.injectFault(secretEchoFault(c.path, admin.token, { method: c.method }));
    const { app, logs } = await buildTestApp(t, FAKE_GITLAB_ENV);

    const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token });
    expectProblem(t, response, { status: 502, code: 'gitlab_error', step: c.step });
    t.ok(fault.applied >= 1, 'the echoing answer was given');

    t.ok((await readRows(app.deps.db, 'instanceEvents', { outcome: 'failed' })).length > 0, 'the failure is recorded as an event');
    // Raw SQL: every table of the schema is searched, those no domain type names too.
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables where table_schema = 'public'`.execute(app.deps.db);
    const dump: Record<string, unknown[]> = {};
    for (const { table_name: name } of tables.rows) dump[name] = (await sql`select * from ${sql.table(name)}`.execute(app.deps.db)).rows;
    const stored = JSON.stringify(dump);
    for (const spelling of [admin.token, ...secretSpellings(admin.token)]) {
      t.notOk(stored.includes(spelling), `${spelling.slice(0, 6)}… is in no table`);
      t.notOk(logs.text.includes(spelling), `${spelling.slice(0, 6)}… is in no log line`);
      t.notOk(response.body.includes(spelling), `${spelling.slice(0, 6)}… is not in the answer`);
    }
  });
}
