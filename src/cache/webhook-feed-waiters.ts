// Long-polling readers of the webhook feed wait here until an event is stored: LISTEN on the channel
// the webhook_events trigger notifies (migration 20261204160000), any process's insert wakes every
// waiter of every process. The number of waiters per process is bounded (WEBHOOK_FEED_MAX_WAITERS).
import type { NotificationListener } from '../db/notifications.js';

export const WEBHOOK_EVENTS_CHANNEL = 'webhook_events';

export interface WebhookFeedWaiters {
  /**
   * Resolves 'woken' when an event may have been stored since `generation` was read (or the listener
   * reconnected: notifications may have been missed), 'timeout' after `ms`, 'full' at once when the
   * maximum of waiters already wait, 'released' at once after `release()` (shutting down). Read
   * `generation` before querying, so a store between the query and the wait is not missed.
   */
  wait(ms: number, generation: number): Promise<'woken' | 'timeout' | 'full' | 'released'>;
  /** Bumped by every wake-up. */
  readonly generation: number;
  /** Wakes every waiter of this process (a store here, before its NOTIFY arrives). */
  wake(): void;
  readonly waiting: number;
  /** Releases every waiter; from then on a wait ends at once ('released'), so shutdown never waits on a long-poll. */
  release(): void;
  close(): Promise<void>;
}

/** Starts listening; `close()` stops it and releases every waiter. */
export function createWebhookFeedWaiters(notifications: NotificationListener, options: { maxWaiters: number }): WebhookFeedWaiters {
  const waiters = new Set<() => void>();
  let generation = 0;
  let released = false;
  const wakeAll = () => {
    generation++;
    for (const wake of [...waiters]) wake();
  };
  const stop = notifications.listen(WEBHOOK_EVENTS_CHANNEL, { changed: wakeAll, listening: wakeAll, deaf: () => undefined });
  return {
    wait(ms, since) {
      if (since !== generation) return Promise.resolve('woken');
      if (released) return Promise.resolve('released');
      if (waiters.size >= options.maxWaiters) return Promise.resolve('full');
      return new Promise((resolve) => {
        const done = (outcome: 'woken' | 'timeout') => {
          clearTimeout(timer);
          waiters.delete(wakeOne);
          resolve(outcome);
        };
        const wakeOne = () => { done('woken'); };
        const timer = setTimeout(() => { done('timeout'); }, ms);
        waiters.add(wakeOne);
      });
    },
    wake: wakeAll,
    get generation() {
      return generation;
    },
    get waiting() {
      return waiters.size;
    },
    release() {
      released = true;
      wakeAll();
    },
    async close() {
      released = true;
      wakeAll();
      await stop();
    },
  };
}
