// Waiting for a row lock off the pool: retries on lock_not_available (55P03) only, with a bounded
// budget. Time is virtual: the module's sleep and performance.now are replaced by a clock the test owns.
import t, { type Test } from 'tap';
import { AppError } from '../../src/errors.js';

const lockNotAvailable = () => Object.assign(new Error('could not obtain lock on row in relation "users"'), { code: '55P03' });

/** row-lock.ts with a virtual clock: every sleep is recorded and moves the clock by its length. */
async function withVirtualTime(t: Test) {
  const clock = { now: 0, waits: [] as number[] };
  t.intercept(performance, 'now', { value: () => clock.now });
  const rowLock = await t.mockImport<typeof import('../../src/db/row-lock.js')>('../../src/db/row-lock.js', {
    'node:timers/promises': {
      setTimeout: async (ms: number) => {
        clock.waits.push(ms);
        clock.now += ms;
      },
    },
  });
  return { ...rowLock, clock };
}

t.test('lock_not_available is recognised by its SQLSTATE, as pg and PGlite both report it', async (t) => {
  const { isLockNotAvailable } = await withVirtualTime(t);
  t.ok(isLockNotAvailable(lockNotAvailable()));
  t.notOk(isLockNotAvailable(Object.assign(new Error('deadlock'), { code: '40P01' })));
  t.notOk(isLockNotAvailable(new Error('no code')));
  t.notOk(isLockNotAvailable(undefined));
});

t.test('an attempt that finds the row locked runs again after a short, growing wait, then returns its result', async (t) => {
  const { retryWhileRowLocked, clock } = await withVirtualTime(t);
  let attempts = 0;
  const result = await retryWhileRowLocked(async () => {
    attempts++;
    if (attempts < 4) throw lockNotAvailable();
    return 'fresh token';
  }, { gitlabTimeoutMs: 10_000 });
  t.equal(result, 'fresh token');
  t.equal(attempts, 4);
  t.same(clock.waits, [25, 50, 100], 'waited 25 ms, then twice as long each time');
});

t.test('any other failure is not retried', async (t) => {
  const { retryWhileRowLocked, clock } = await withVirtualTime(t);
  let attempts = 0;
  const failure = new AppError('gitlab_error', 'GitLab answered 500');
  await t.rejects(retryWhileRowLocked(async () => {
    attempts++;
    throw failure;
  }, { gitlabTimeoutMs: 10_000 }), failure);
  t.equal(attempts, 1);
  t.same(clock.waits, [], 'no wait');
});

t.test('a lock held beyond the GitLab timeout plus slack ends in RowLockWaitExceeded (the service answers gitlab_timeout); waits are capped at 200 ms', async (t) => {
  const { retryWhileRowLocked, RowLockWaitExceeded, clock } = await withVirtualTime(t);
  let attempts = 0;
  const error = await retryWhileRowLocked(async () => {
    attempts++;
    throw lockNotAvailable();
  }, { gitlabTimeoutMs: 300, slackMs: 100 }).catch((caught: unknown) => caught);
  t.type(error, RowLockWaitExceeded);
  t.same(clock.waits, [25, 50, 100, 200], 'no wait that would end past the 400 ms budget');
  t.equal(attempts, 5, 'one attempt before each wait and one after the last');
});

t.test('without slack the budget is the GitLab timeout plus 5 s', async (t) => {
  const { retryWhileRowLocked, RowLockWaitExceeded, clock } = await withVirtualTime(t);
  const error = await retryWhileRowLocked(async () => {
    throw lockNotAvailable();
  }, { gitlabTimeoutMs: 1000 }).catch((caught: unknown) => caught);
  t.type(error, RowLockWaitExceeded);
  t.ok(clock.now <= 6000 && clock.now + 200 > 6000, `gave up at the last wait that fits 6000 ms (${clock.now})`);
});
