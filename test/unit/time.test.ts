// Day arithmetic: GitLab dates ('YYYY-MM-DD') to instants at 00:00 UTC and back.
import t from 'tap';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../../src/time.js';

t.test('dateOnly is the UTC date, whatever the time of day', async (t) => {
  t.equal(dateOnly(new Date('2026-03-01T00:00:00Z')), '2026-03-01');
  t.equal(dateOnly(new Date('2026-03-01T23:59:59.999Z')), '2026-03-01');
  t.equal(dateOnly(new Date('2026-03-01T01:00:00+02:00')), '2026-02-28', 'UTC, not the offset written');
});

t.test('gitlabDateToInstant is 00:00 UTC of that day and round-trips', async (t) => {
  t.equal(gitlabDateToInstant('2026-12-31').toISOString(), '2026-12-31T00:00:00.000Z');
  t.equal(gitlabDateToInstant('2028-02-29').getTime() + DAY_MS, gitlabDateToInstant('2028-03-01').getTime());
  t.equal(dateOnly(gitlabDateToInstant('2026-07-04')), '2026-07-04');
});

t.test('gitlabDateToInstant refuses what is not a date', async (t) => {
  for (const bad of ['', '2026-1-01', '2026-02-30', '2026-13-01', '2026-01-01T00:00:00Z', 'never']) {
    t.throws(() => gitlabDateToInstant(bad), RangeError, bad);
  }
});
