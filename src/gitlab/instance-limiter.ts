// The per-instance cap on GitLab calls: at most `maxConcurrent` calls to one GitLab origin at a time
// in this process; further callers wait their turn for at most `maxWaitMs` in a bounded queue, else
// get 503 gitlab_rate_limited. So one slow or hostile instance cannot hold all of the process's
// sockets or time while every other instance's calls go on.
import { AppError } from '../errors.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

interface Lane {
  active: number;
  waiters: Waiter[];
}

export interface InstanceLimiter {
  /** Runs `work` within `origin`'s cap; rejects with gitlab_rate_limited (retryAfter, s) when no turn came in time. */
  run<T>(origin: string, work: () => Promise<T>): Promise<T>;
}

/** `maxConcurrent` ≥ 1 calls per origin; `maxWaitMs` the longest wait for a turn; at most `maxConcurrent` × 4 callers wait per origin. */
export function createInstanceLimiter(options: { maxConcurrent: number; maxWaitMs: number }): InstanceLimiter {
  const lanes = new Map<string, Lane>();
  const maxWaiting = options.maxConcurrent * 4;
  const retryAfter = Math.max(1, Math.ceil(options.maxWaitMs / 1000));
  const busy = (origin: string) =>
    new AppError('gitlab_rate_limited', `Too many calls to ${origin} are in progress from this service; retry in ${String(retryAfter)} s`, { retryAfter });

  function acquire(origin: string): Promise<void> | undefined {
    const lane = lanes.get(origin) ?? { active: 0, waiters: [] };
    lanes.set(origin, lane);
    if (lane.active < options.maxConcurrent) {
      lane.active++;
      return undefined;
    }
    if (lane.waiters.length >= maxWaiting) throw busy(origin);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          lane.waiters.splice(lane.waiters.indexOf(waiter), 1);
          reject(busy(origin));
        }, options.maxWaitMs),
      };
      lane.waiters.push(waiter);
    });
  }

  function release(origin: string): void {
    const lane = lanes.get(origin);
    if (!lane) throw new Error(`instance limiter: release for ${origin} without a slot taken`);
    const next = lane.waiters.shift();
    // The slot passes straight to the next waiter; the lane is forgotten once idle.
    if (next) next.grant();
    else if (--lane.active === 0) lanes.delete(origin);
  }

  return {
    async run(origin, work) {
      await acquire(origin);
      try {
        return await work();
      } finally {
        release(origin);
      }
    },
  };
}
