// What the metrics scrape reads from the database, shaped for a gauge.
import { countInstancesByStatus } from '../db/metrics.repo.js';
import type { InstanceStatus } from '../domain/types.js';
import type { ServiceDeps } from './deps.js';

/** Every instance status, so a status with no instances still reports 0. */
export const INSTANCE_STATUSES: readonly InstanceStatus[] = ['bootstrapping', 'failed', 'ready', 'removed'];

/** The number of instances in each status, 0 for statuses with none. */
export async function instancesByStatus(deps: Pick<ServiceDeps, 'db'>): Promise<Record<InstanceStatus, number>> {
  const counts = Object.fromEntries(INSTANCE_STATUSES.map((status) => [status, 0])) as Record<InstanceStatus, number>;
  for (const row of await countInstancesByStatus(deps.db)) counts[row.status] = row.count;
  return counts;
}
