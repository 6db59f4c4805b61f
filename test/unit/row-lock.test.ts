// Waiting for a row lock off the pool: retries on lock_not_available (55P03) only, with a bounded budget.
import t from 'tap';
import { isLockNotAvailable, retryWhileRowLocked, RowLockWaitExceeded } from '../../src/db/row-lock.js';
import { AppError } from '../../src/errors.js';

const lockNotAvailable = () => Object.assign(new Error('could not obtain lock on row in relation "users"'), { code: '55P03' });

t.test('lock_not_available is recognised by its SQLSTATE, as pg and PGlite both report it', async (t) => {
  t.ok(isLockNotAvailable(lockNotAvailable()));
  t.notOk(isLockNotAvailable(Object.assign(new Error('deadlock'), { code: '40P01' })));
  t.notOk(isLockNotAvailable(new Error('no code')));
  t.notOk(isLockNotAvailable(undefined));
});

t.test('an attempt that finds the row locked runs again after a short, growing wait, then returns its result', async (t) => {
  let attempts = 0;
  const started = performance.now();
  const result = await retryWhileRowLocked(async () => {
    attempts++;
    if (attempts < 4) throw lockNotAvailable();
    return 'fresh token';
  }, { gitlabTimeoutMs: 10_000 });
  const elapsed = performance.now() - started;
  t.equal(result, 'fresh token');
  t.equal(attempts, 4);
  t.ok(elapsed >= 25 + 50 + 100 - 5 && elapsed < 1000, `waited 25 + 50 + 100 ms (${Math.round(elapsed)} ms)`);
});

t.test('any other failure is not retried', async (t) => {
  let attempts = 0;
  const failure = new AppError('gitlab_error', 'GitLab answered 500');
  await t.rejects(retryWhileRowLocked(async () => {
    attempts++;
    throw failure;
  }, { gitlabTimeoutMs: 10_000 }), failure);
  t.equal(attempts, 1);
});

t.test('a lock held beyond the GitLab timeout plus slack ends in RowLockWaitExceeded (the service answers gitlab_timeout)', async (t) => {
  let attempts = 0;
  const started = performance.now();
  const error = await retryWhileRowLocked(async () => {
    attempts++;
    throw lockNotAvailable();
  }, { gitlabTimeoutMs: 300, slackMs: 100 }).catch((caught: unknown) => caught);
  const elapsed = performance.now() - started;
  t.type(error, RowLockWaitExceeded);
  t.ok(elapsed >= 200 && elapsed <= 500, `gave up within the 400 ms budget (${Math.round(elapsed)} ms)`);
  t.ok(attempts >= 3 && attempts <= 6, `waits capped at 200 ms (${attempts} attempts)`);
});
