// Day arithmetic in one place. GitLab gives token expiries as a date ('YYYY-MM-DD', UTC): the token
// stops working at 00:00 UTC that day, so that instant is its expiry.

export const DAY_MS = 86_400_000;

const GITLAB_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The UTC calendar date of an instant, as GitLab writes it: 'YYYY-MM-DD'. */
export function dateOnly(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The instant a GitLab date begins (00:00 UTC); throws on anything but a valid 'YYYY-MM-DD'. */
export function gitlabDateToInstant(date: string): Date {
  const instant = new Date(`${date}T00:00:00Z`);
  if (!GITLAB_DATE.test(date) || Number.isNaN(instant.getTime()) || dateOnly(instant) !== date) throw new RangeError(`Not a GitLab date: ${JSON.stringify(date)}`);
  return instant;
}
