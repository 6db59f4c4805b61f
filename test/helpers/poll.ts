// Waiting in tests for what another process, a fake GitLab or a background job makes true: check at an
// interval until it holds, up to a generous deadline for a loaded machine, never a fixed sleep. The
// deadline bounds the wait; no test asserts how long the wait took.
import { setTimeout as sleep } from 'node:timers/promises';

/** How often to check, and for how long at most. */
export interface PollBounds {
  /** The pause between two checks. */
  everyMs: number;
  /** Past this (measured from the first check), the next check is the last one. Default 120 s. */
  withinMs?: number;
}

const DEFAULT_WITHIN_MS = 120_000;

/** Calls `check` until it answers something other than `undefined` or the deadline has passed; answers its last answer. */
async function lastAnswer<T>(check: () => Promise<T | undefined> | T | undefined, { everyMs, withinMs = DEFAULT_WITHIN_MS }: PollBounds): Promise<T | undefined> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = await check();
    if (found !== undefined || Date.now() > deadline) return found;
    await sleep(everyMs);
  }
}

/**
 * Polls `check` (first at once, then every `everyMs`) until it answers something other than `undefined`,
 * and answers that. Throws an Error naming `what` when it still answers `undefined` once `withinMs` has
 * passed. An error `check` throws ends the wait at once.
 */
export async function pollFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, bounds: PollBounds): Promise<T> {
  const found = await lastAnswer(check, bounds);
  if (found === undefined) throw new Error(`not seen within ${String(bounds.withinMs ?? DEFAULT_WITHIN_MS)} ms: ${what}`);
  return found;
}

/** `pollFor` on a condition: resolves once `holds` answers true; throws naming `what` when it is still false past `withinMs`. */
export async function until(what: string, holds: () => Promise<boolean> | boolean, bounds: PollBounds): Promise<void> {
  await pollFor(what, async () => (await holds()) || undefined, bounds);
}

/**
 * Whether `holds` comes true within `withinMs`, polled every `everyMs`: false instead of a throw, for a
 * test that states the bound as an assertion (`t.ok(await holdsWithin(…), 'what')`) and carries on.
 */
export async function holdsWithin(holds: () => Promise<boolean> | boolean, bounds: PollBounds): Promise<boolean> {
  return (await lastAnswer(async () => (await holds()) || undefined, bounds)) ?? false;
}

/**
 * `promise`'s outcome if it settles within `withinMs` (default 20 s), else a rejection naming `what`: for
 * an answer that is already on its way (a woken long-poll reader), where `pollFor` has nothing to poll. A
 * liveness bound for a loaded machine, far below what the awaited work would take without the behaviour
 * under test (a reader asked to wait 60 s); no test asserts how long it took. The timer is cleared once
 * `promise` settles, so it keeps no test process alive.
 */
export async function settlesWithin<T>(promise: Promise<T>, what: string, withinMs = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`not settled within ${String(withinMs)} ms: ${what}`)); }, withinMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
