// SQL read by the Prometheus scrape: aggregate counts only, never a row.
import type { Executor, InstanceStatus } from './types.js';

/** Instances per status (statuses without instances are absent). `count(*)` arrives as a string from pg. */
export async function countInstancesByStatus(db: Executor): Promise<{ status: InstanceStatus; count: number }[]> {
  const rows = await db.selectFrom('instances').select(['status', (eb) => eb.fn.countAll<string>().as('count')]).groupBy('status').execute();
  return rows.map((row) => ({ status: row.status, count: Number(row.count) }));
}
