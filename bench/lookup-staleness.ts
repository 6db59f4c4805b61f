// The lookup cache's staleness across processes, measured, never asserted (the tests prove coherence;
// the bound is a duration, so it belongs here): a status written by another process (the bench's own
// connection) until a cache-on service answers it, each sample starting from an entry the service has cached.
import { percentile } from './webhooks.js';
import type { BenchDatabase, RunningService } from './service.js';

const SAMPLES = 50;
const STALE_URL = 'https://staleness.bench.example';

export interface StalenessFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

async function lookedUpStatus(service: RunningService): Promise<string> {
  const response = await fetch(`${service.baseUrl}/instances/lookup?url=${encodeURIComponent(STALE_URL)}`);
  return ((await response.json()) as { status: string }).status;
}

/** Flips the instance's status SAMPLES times; each time, how long (ms) until `reader` answers the new one. */
export async function measureLookupStaleness(database: BenchDatabase, reader: RunningService): Promise<StalenessFigures> {
  await database.query(`insert into instances (url, status) values ($1, 'failed')`, [STALE_URL]);
  const delays: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample++) {
    const [from, to] = sample % 2 === 0 ? ['failed', 'ready'] : ['ready', 'failed'];
    // Cached on the reader (a second lookup answers from the entry the first stored).
    while ((await lookedUpStatus(reader)) !== from) await new Promise((resolve) => setTimeout(resolve, 1));
    await lookedUpStatus(reader);
    await database.query('update instances set status = $1 where url = $2', [to, STALE_URL]);
    const written = performance.now();
    while ((await lookedUpStatus(reader)) !== to) await new Promise((resolve) => setTimeout(resolve, 1));
    delays.push(performance.now() - written);
  }
  return { samples: delays.length, p50Ms: percentile(delays, 50), p99Ms: percentile(delays, 99), maxMs: Math.max(...delays) };
}

export const formatStaleness = (figures: StalenessFigures) =>
  `a status written by another process until the cache-on service answers it: p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms (max ${figures.maxMs.toFixed(1)}, ${String(figures.samples)} writes); the stated bound is 1 s (README)`;
