// Interleaved rounds: every target is driven once per round, in the same order, so the machine's drift
// (other processes on the two cores) hits the anchor and the service alike; ratios are per round, then
// the median of the rounds is reported.
import { median } from './bootstrap-latency.js';
import { measureThroughput, type ThroughputOptions, type ThroughputResult } from './http-throughput.js';
import { cpuMsOf } from './service.js';

export interface Target {
  name: string;
  baseUrl: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** The serving process, whose CPU time per request is measured. */
  pid: number;
  /** Seconds a run of this target lasts, when not the rounds' own (a figure without a goal can take less). */
  durationSeconds?: number;
}

/** A run's throughput and the serving process's CPU time per answered request (µs). */
export type RoundResult = ThroughputResult & { cpuMicrosPerRequest: number };
export type RoundResults = Map<string, RoundResult[]>;

/** The rounds of target `name`; throws when no such target ran. */
export function rowsOf(results: RoundResults, name: string): RoundResult[] {
  const rows = results.get(name);
  if (!rows) throw new Error(`no bench target named ${name}`);
  return rows;
}

/** Drives each target `rounds` times, target after target within a round. */
export async function runRounds(targets: Target[], rounds: number, options: ThroughputOptions): Promise<RoundResults> {
  const results: RoundResults = new Map(targets.map((target) => [target.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      const cpuBefore = cpuMsOf(target.pid);
      const result = await measureThroughput(target.baseUrl, target.name, target.path, {
        ...options,
        ...(target.method ? { method: target.method } : {}),
        ...(target.headers ? { headers: target.headers } : {}),
        ...(target.durationSeconds === undefined ? {} : { durationSeconds: target.durationSeconds }),
      });
      if (result.non2xx > 0 || result.errors > 0) process.stderr.write(`bench: ${target.name} round ${String(round + 1)}: ${String(result.non2xx)} non-2xx, ${String(result.errors)} errors\n`);
      rowsOf(results, target.name).push({ ...result, cpuMicrosPerRequest: ((cpuMsOf(target.pid) - cpuBefore) * 1000) / result.total });
    }
  }
  return results;
}

/** The median over the rounds of `name`'s throughput divided by the anchor's in the same round. */
export function medianRatio(results: RoundResults, name: string, anchor: string): number {
  const top = rowsOf(results, name);
  const bottom = rowsOf(results, anchor);
  return median(top.map((result, round) => result.requestsPerSecond / bottom[round].requestsPerSecond));
}

/** The anchor's CPU time per request divided by `name`'s (median over rounds): efficiency, whatever the load. */
export function cpuRatio(results: RoundResults, name: string, anchor: string): number {
  const cpu = (key: string) => median(rowsOf(results, key).map((result) => result.cpuMicrosPerRequest));
  return cpu(anchor) / cpu(name);
}

/** Median p99 of `name` divided by the anchor's median p99. */
export function p99Ratio(results: RoundResults, name: string, anchor: string): number {
  const p99 = (key: string) => median(rowsOf(results, key).map((result) => result.p99Ms));
  return p99(name) / p99(anchor);
}

/** One table per target: a row per round and the medians, with the ratio to the anchor per round. */
export function formatRounds(results: RoundResults, anchor: string): string {
  const header = ['round', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', `× ${anchor}`, 'CPU µs/req'];
  return [...results.entries()]
    .map(([name, rows]) => {
      const anchorRows = rowsOf(results, anchor);
      const body = rows.map((row, round) => [
        String(round + 1),
        row.requestsPerSecond.toFixed(0),
        row.p50Ms.toFixed(1),
        row.p99Ms.toFixed(1),
        String(row.non2xx),
        String(row.errors),
        (row.requestsPerSecond / anchorRows[round].requestsPerSecond).toFixed(2),
        row.cpuMicrosPerRequest.toFixed(0),
      ]);
      body.push(['median', median(rows.map((r) => r.requestsPerSecond)).toFixed(0), median(rows.map((r) => r.p50Ms)).toFixed(1), median(rows.map((r) => r.p99Ms)).toFixed(1), '', '', medianRatio(results, name, anchor).toFixed(2), median(rows.map((r) => r.cpuMicrosPerRequest)).toFixed(0)]);
      const widths = header.map((title, column) => Math.max(title.length, ...body.map((row) => row[column].length)));
      const line = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column])).join('  ');
      return [`${name} (${rows[0].method} ${rows[0].path})`, line(header), ...body.map(line)].join('\n');
    })
    .join('\n\n');
}
