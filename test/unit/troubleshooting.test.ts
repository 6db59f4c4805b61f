// The README's Troubleshooting section is the diagnoses table as generated, and every diagnosed code and
// reason gives a detail with its advice.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { README_FILE, troubleshootingMarkdown } from '../../scripts/troubleshooting.js';
import { adviseDetail, diagnoses, tlsReasons, unreachableReasons } from '../../src/diagnoses.js';

t.test('the README lists every diagnosed code and reason as generated from src/diagnoses.ts (npm run troubleshooting)', async (t) => {
  const readme = readFileSync(README_FILE, 'utf8');
  t.ok(readme.includes(troubleshootingMarkdown()), 'README.md is stale: run npm run troubleshooting');
  for (const code of Object.keys(diagnoses)) t.match(readme, `| \`${code}\` |`);
  for (const reason of [...tlsReasons, ...unreachableReasons]) t.match(readme, `(\`${reason}\`)`);
});

t.test('a detail is the occurrence followed by the advice of its code, or of its reason', async (t) => {
  t.equal(adviseDetail('gitlab_redirected', 'x answers with a redirect.'), `x answers with a redirect. ${diagnoses.gitlab_redirected.advice}`);
  t.match(adviseDetail('gitlab_tls_error', 'bad certificate', 'incomplete_chain'), /the intermediate is enough/);
  t.match(adviseDetail('gitlab_tls_error', 'bad certificate', 'unheard_of'), diagnoses.gitlab_tls_error.advice);
  t.equal(adviseDetail('internal_error', 'Something went wrong'), 'Something went wrong', 'codes without advice keep their detail');
});
