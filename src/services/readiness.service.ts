// Readiness: can this process serve, i.e. does its database answer.
import { pingDatabase } from '../db/health.repo.js';
import { AppError } from '../errors.js';
import type { RequestLog, ServiceDeps } from './deps.js';

/** Throws not_ready (and logs why) while the database cannot be reached. */
export async function assertReady(deps: ServiceDeps, log: RequestLog): Promise<void> {
  try {
    await pingDatabase(deps.db);
  } catch (error) {
    log.warn({ err: error }, 'database unreachable');
    throw new AppError('not_ready', 'The database cannot be reached');
  }
}
