// Recognises a database that cannot be reached or answer in time, whatever layer reported it (a socket,
// pg's pool or client, or PostgreSQL itself), so callers get 503 database_unavailable instead of a 500.

/** Socket errors of a connection that cannot be made or was cut. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * SQLSTATEs that mean "not now" rather than "wrong query" (PostgreSQL appendix A): class 08 connection
 * exception; 53300 too_many_connections; 57014 query_canceled (statement_timeout); 57P01–57P03
 * admin/crash shutdown, cannot_connect_now.
 */
const UNAVAILABLE_SQLSTATES = new Set(['53300', '57014', '57P01', '57P02', '57P03']);

/** pg's own messages for a lost, closed or timed-out connection (pg 8.x client.js and pg-pool). */
const PG_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Query read timeout/, /is not queryable/, /^Database did not answer within/];

function isUnavailableItself(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (error instanceof AggregateError && error.errors.some(isUnavailableItself)) return true;
  return PG_MESSAGES.some((pattern) => pattern.test(error.message));
}

/** True when `error`, or an error in its `cause` chain, says the database is unreachable or too slow. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current !== undefined && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (isUnavailableItself(current)) return true;
    if (!(current instanceof Error)) return false;
  }
  return false;
}
