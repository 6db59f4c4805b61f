// Refreshing a stored credential (a user's OAuth tokens, the bot's personal access token) once across
// processes, and when it is due. The only place that knows the mechanism: a plain read, then, when the
// credential is due, a lease on its row claimed in one short statement. The holder alone calls GitLab,
// holding no database connection meanwhile; a heartbeat renews the lease while it works, so a holder
// that dies (kill -9, a frozen process) frees the row within LEASE_MS. The holder's writes are fenced
// on its lease (a holder that lost it writes nothing), and waiters poll off the pool.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimCredentialLease, releaseCredentialLease, renewCredentialLease, type LeasedTable } from '../db/credential-leases.repo.js';
import { AppError } from '../errors.js';
import type { ServiceDeps } from './deps.js';

const FIRST_WAIT_MS = 25;
const MAX_WAIT_MS = 250;

/** dueAt in epoch milliseconds, unrounded (half an odd lifetime falls between two milliseconds). */
function dueTime(credential: { expiresAt: Date | null; issuedAt: Date | null }, marginMs: number): number | null {
  if (credential.expiresAt === null) return null;
  const expiresAt = credential.expiresAt.getTime();
  const lifetime = credential.issuedAt ? expiresAt - credential.issuedAt.getTime() : Infinity;
  return expiresAt - Math.min(marginMs, lifetime / 2);
}

/**
 * The instant a credential falls due (null: never, it has no expiry): when less than
 * min(margin, lifetime / 2) is left, so one that lives less than twice the margin is refreshed at half
 * its lifetime and one refreshed a moment ago is never due at once. An unknown issue time means an
 * unknown (unbounded) lifetime.
 */
export function dueAt(credential: { expiresAt: Date | null; issuedAt: Date | null }, marginMs: number): Date | null {
  const due = dueTime(credential, marginMs);
  return due === null ? null : new Date(due);
}

/** Whether the credential is due at `now` (dueAt has passed); never without an expiry. */
export function isDue(credential: { expiresAt: Date | null; issuedAt: Date | null }, now: Date, marginMs: number): boolean {
  const due = dueTime(credential, marginMs);
  return due !== null && now.getTime() > due;
}

/** The holder's lease ran out (or was taken from it, e.g. by a removal) before it could write. */
export class LeaseLost extends Error {
  constructor() {
    super('The lease on this credential was lost before its refresh could be stored');
  }
}

/** What a holder gets: its lease's id, to fence its writes on. */
export interface HeldLease {
  holder: string;
}

export interface SingleFlightRefresh<Stored, Result> {
  /** Which row holds the credential and its lease. */
  leased: { table: LeasedTable; id: string };
  /** The plain read (throws when there is nothing usable). */
  read(): Promise<Stored>;
  /** What the caller read a moment ago, with nothing waited on since: the first round uses it instead of reading again. */
  firstRead?: Stored;
  /** The sealed credential: when it changed between two reads, someone else refreshed. */
  sealedOf(stored: Stored): string;
  isDue(stored: Stored, now: Date): boolean;
  /** The stored credential as it is. */
  serve(stored: Stored): Result;
  /**
   * Holding the lease: call GitLab (no transaction open meanwhile), then store what it gave with writes
   * fenced on `lease.holder` (LeaseLost when they find it gone).
   */
  refresh(stored: Stored, now: Date, lease: HeldLease): Promise<Result>;
  /**
   * Whether a caller that finds the lease held may be served the stored credential at once instead of
   * waiting for the holder: only when the refresh in flight cannot revoke it (the bot's served token,
   * while only its standby is rotated). Without it, callers wait.
   */
  serveWhileHeld?(stored: Stored, now: Date): boolean;
  /** GitLab calls a refresh makes at most, each within `callTimeoutMs`: the budget for waiting on its lease. */
  holderGitlabCalls: number;
  callTimeoutMs: number;
}

/** Renews the lease every LEASE_HEARTBEAT_MS until stopped; a failed renewal is retried on the next beat. */
function heartbeat(deps: ServiceDeps, leased: { table: LeasedTable; id: string }, holder: string): () => void {
  const { leaseMs, leaseHeartbeatMs } = deps.config;
  const timer = setInterval(() => {
    renewCredentialLease(deps.db, leased.table, leased.id, holder, new Date(deps.clock().getTime() + leaseMs)).catch(() => {});
  }, leaseHeartbeatMs);
  timer.unref();
  return () => { clearInterval(timer); };
}

/** Holding the lease: re-read (someone may have refreshed between our read and our claim), refresh, release. */
async function asHolder<Stored, Result>(deps: ServiceDeps, flight: SingleFlightRefresh<Stored, Result>, seen: Stored, holder: string): Promise<Result> {
  const stop = heartbeat(deps, flight.leased, holder);
  try {
    const current = await flight.read();
    const now = deps.clock();
    if (flight.sealedOf(current) !== flight.sealedOf(seen) || !flight.isDue(current, now)) return flight.serve(current);
    return await flight.refresh(current, now, { holder });
  } finally {
    stop();
    // Best effort: should the database be away, the lease lapses by itself within LEASE_MS.
    await releaseCredentialLease(deps.db, flight.leased.table, flight.leased.id, holder).catch(() => {});
  }
}

/**
 * Serves the stored credential, or refreshes it first when due: of many concurrent callers, in one
 * process or many sharing the database, exactly one holds the lease and refreshes; the others are
 * served at once when `serveWhileHeld` allows it, or else poll
 * (25 ms, doubling to 250 ms, holding no connection) until the credential is fresh or the lease is
 * free. Waiting longer than the holder's GitLab calls may take (plus LEASE_MS) throws gitlab_timeout.
 */
export async function refreshOnce<Stored, Result>(deps: ServiceDeps, flight: SingleFlightRefresh<Stored, Result>): Promise<Result> {
  const budgetMs = flight.holderGitlabCalls * flight.callTimeoutMs + deps.config.leaseMs;
  const deadline = performance.now() + budgetMs;
  let fresh = flight.firstRead;
  for (let wait = FIRST_WAIT_MS; ; wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    const seen = fresh ?? (await flight.read());
    fresh = undefined;
    const now = deps.clock();
    if (!flight.isDue(seen, now)) return flight.serve(seen);
    const holder = randomUUID();
    if (await claimCredentialLease(deps.db, flight.leased.table, flight.leased.id, { holder, now, until: new Date(now.getTime() + deps.config.leaseMs) })) {
      try {
        return await asHolder(deps, flight, seen, holder);
      } catch (error) {
        // Someone took the row over while we worked: read what they stored, or claim afresh.
        if (!(error instanceof LeaseLost)) throw error;
      }
    } else if (flight.serveWhileHeld?.(seen, now)) {
      return flight.serve(seen);
    }
    if (performance.now() + wait > deadline) {
      throw new AppError('gitlab_timeout', `Another request has been refreshing this token for longer than ${String(budgetMs)} ms; try again`);
    }
    await sleep(wait);
  }
}
