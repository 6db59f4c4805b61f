// Readiness: can this process serve, i.e. is it not shutting down and does its database answer.
import { pingDatabase } from '../db/health.repo.js';
import { AppError } from '../errors.js';
import type { RequestLog, ServiceDeps } from './deps.js';

/** How long readiness waits for the database, in milliseconds: /readyz answers within this whatever happens. */
const READY_TIMEOUT_MS = 2000;

/** Throws not_ready (and logs why) while draining for shutdown or while the database cannot be reached in time. */
export async function assertReady(deps: ServiceDeps, draining: boolean, log: RequestLog): Promise<void> {
  if (draining) throw new AppError('not_ready', 'The service is shutting down');
  try {
    await pingDatabase(deps.db, READY_TIMEOUT_MS);
  } catch (error) {
    log.warn({ err: error }, 'database unreachable');
    throw new AppError('not_ready', 'The database cannot be reached');
  }
}

/** Whether an error means the database is unreachable (for the error plugin's 503 database_unavailable). */
export { isDatabaseUnavailable } from '../db/faults.js';
