// HTTP throughput of read routes under load (autocannon): requests/s and latency percentiles.
import autocannon from 'autocannon';

export interface ThroughputResult {
  name: string;
  method: string;
  path: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  total: number;
}

export interface ThroughputOptions {
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
}

/** Drives `path` (GET unless told) with `connections` concurrent connections for `durationSeconds`. */
export async function measureThroughput(baseUrl: string, name: string, path: string, options: ThroughputOptions): Promise<ThroughputResult> {
  const result = await autocannon({
    url: `${baseUrl}${path}`,
    connections: options.connections,
    duration: options.durationSeconds,
    method: options.method ?? 'GET',
    ...(options.headers ? { headers: options.headers } : {}),
  });
  return {
    name,
    method: options.method ?? 'GET',
    path,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
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
