// HTTP throughput of routes under load (autocannon): requests/s and latency percentiles.
import autocannon from 'autocannon';

export interface ThroughputResult {
  name: string;
  method: string;
  path: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers with a 2xx status. */
  ok: number;
  non2xx: number;
  errors: number;
  total: number;
}

export interface ThroughputOptions {
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A fixed number of requests instead of `durationSeconds`: the run ends once every one is answered. */
  amount?: number;
  body?: string;
  /** autocannon replaces `[<id>]` in each request (headers and body) by an id of its own. */
  idReplacement?: boolean;
}

/** Drives `path` (GET unless told) with `connections` concurrent connections for `durationSeconds`. */
export async function measureThroughput(baseUrl: string, name: string, path: string, options: ThroughputOptions): Promise<ThroughputResult> {
  const result = await autocannon({
    url: `${baseUrl}${path}`,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.durationSeconds } : { amount: options.amount }),
    method: options.method ?? 'GET',
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    idReplacement: options.idReplacement ?? false,
  });
  return {
    name,
    method: options.method ?? 'GET',
    path,
    // A fixed amount ends within a second: the per-second average would count that last part-second as one.
    requestsPerSecond: options.amount === undefined ? result.requests.average : result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

/** A fixed-width table of the results. */
export function formatThroughput(results: ThroughputResult[]): string {
  const header = ['route', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'requests'];
  const rows = results.map((r) => [`${r.name} (${r.method} ${r.path})`, r.requestsPerSecond.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), String(r.non2xx), String(r.errors), String(r.total)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}
