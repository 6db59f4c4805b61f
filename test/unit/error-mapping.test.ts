// The error plugin alone on a bare Fastify with one stub route: an internal_error whose cause is an
// unreachable database (a GitLab step's catch-all wrapping what failed inside it, toAppError) is answered
// 503 database_unavailable with Retry-After, not 500; any other internal_error stays a 500 that leaks
// nothing; an error of another code keeps its own status and code whatever its cause. Through the whole
// app it needs the database to fail in the middle of a GitLab-wrapped step.
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { AppError } from '../../src/errors.js';
import { transportErrorToAppError } from '../../src/gitlab/errors.js';
import { toAppError } from '../../src/gitlab/http.js';
import errorsPlugin, { DATABASE_RETRY_AFTER_SECONDS } from '../../src/plugins/errors.js';

/** The error plugin and GET /fails, which throws `error()`. */
async function appThrowing(t: Test, error: () => AppError) {
  const app = Fastify({ logger: false });
  await app.register(errorsPlugin);
  app.get('/fails', () => Promise.reject(error()));
  t.teardown(() => app.close());
  return app;
}

t.test('an internal_error caused by a database shut down (57P01) is 503 database_unavailable with Retry-After', async (t) => {
  const wrapped = toAppError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
  t.equal(wrapped.code, 'internal_error', 'the stub route throws what a GitLab step wraps a database failure in');
  const app = await appThrowing(t, () => wrapped);
  const response = await app.inject({ method: 'GET', url: '/fails' });
  t.equal(response.statusCode, 503, response.body);
  t.match(response.headers['content-type'], /^application\/problem\+json/);
  t.equal(response.headers['retry-after'], String(DATABASE_RETRY_AFTER_SECONDS));
  t.match(response.json(), { code: 'database_unavailable', status: 503, retryAfter: DATABASE_RETRY_AFTER_SECONDS });
});

t.test('an internal_error with any other cause stays 500 internal_error and shows nothing of the cause', async (t) => {
  const app = await appThrowing(t, () => toAppError(new Error('duplicate key value violates unique constraint "hunter2"')));
  const response = await app.inject({ method: 'GET', url: '/fails' });
  t.equal(response.statusCode, 500, response.body);
  t.match(response.json(), { code: 'internal_error', status: 500 });
  t.notMatch(response.body, /hunter2|duplicate key/);
  t.equal(response.headers['retry-after'], undefined);
});

t.test('an error of another code whose cause says "connection refused" (GitLab refusing, as the database check would read it) keeps its own status and code: 502, not 503 database_unavailable', async (t) => {
  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }) });
  const unreachable = transportErrorToAppError(refused);
  // As a bootstrap step's failure is answered (run.ts `fail`): the AppError carrying what caused it.
  unreachable.cause = refused;
  const gitlabError = new AppError('gitlab_error', 'GitLab answered 500');
  gitlabError.cause = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
  for (const [error, code] of [[unreachable, 'gitlab_unreachable'], [gitlabError, 'gitlab_error']] as const) {
    t.equal(error.code, code, `the stub route throws ${code}`);
    const app = await appThrowing(t, () => error);
    const response = await app.inject({ method: 'GET', url: '/fails' });
    t.equal(response.statusCode, 502, response.body);
    t.match(response.json(), { code, status: 502 });
    t.equal(response.headers['retry-after'], undefined, `${code}: no Retry-After`);
  }
});
