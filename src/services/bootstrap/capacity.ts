// The per-process cap on concurrent bootstraps (issue 10 item 5): each one holds sockets, a lease
// heartbeat and GitLab answers (an OAuth application list of up to MAX_LIST_BYTES) for its whole run,
// so strangers cannot add bootstraps until the process runs out of memory. Beyond the cap a bootstrap
// is refused at once, before it sends anything to GitLab or claims its instance.
import { AppError } from '../../errors.js';

/** How long a refused caller is told to wait: about one bootstrap against a responsive GitLab. */
const BOOTSTRAP_RETRY_AFTER_SECONDS = 5;

export interface BootstrapCapacity {
  /**
   * Runs `work` while fewer than the cap's bootstraps run in this process; else throws
   * 503 service_busy with `retryAfter` (seconds) without starting it.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** `maxConcurrent` (BOOTSTRAP_MAX_CONCURRENT, ≥ 1) bootstraps at a time; no queue: a refusal is immediate. */
export function createBootstrapCapacity(maxConcurrent: number): BootstrapCapacity {
  let running = 0;
  return {
    async run(work) {
      if (running >= maxConcurrent) {
        throw new AppError(
          'service_busy',
          `${String(maxConcurrent)} bootstraps are already running in this service process (BOOTSTRAP_MAX_CONCURRENT); retry in ${String(BOOTSTRAP_RETRY_AFTER_SECONDS)} s`,
          { retryAfter: BOOTSTRAP_RETRY_AFTER_SECONDS },
        );
      }
      running++;
      try {
        return await work();
      } finally {
        running--;
      }
    },
  };
}
