// What every upkeep task gets, and the shape of the two kinds of task (the lists are in tasks.ts).
import type { Instance } from '../../domain/types.js';
import type { RequestLog, ServiceDeps } from '../deps.js';

/** What every task gets. */
export interface UpkeepContext {
  deps: ServiceDeps;
  log: RequestLog;
  /** The run's start (deps.clock()). */
  now: Date;
}

/** A task of the sweep: returns its count (e.g. rows deleted). */
export interface SweepTask {
  name: string;
  run(context: UpkeepContext): Promise<number>;
}

/** A task run for each ready instance (degraded included): returns a count or a short word for the run's counts. */
export interface InstanceTask {
  name: string;
  run(context: UpkeepContext, instance: Instance): Promise<number | string>;
}
