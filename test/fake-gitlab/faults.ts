// Fault injection: picks the fault that applies to a request and renders GitLab-like failure answers.
import { STATUS_CODES } from 'node:http';
import type { Reply } from './http.js';
import type { FakeState } from './state.js';
import type { InjectedFault } from './types.js';

function matches(fault: InjectedFault, method: string, path: string, fullPath: string): boolean {
  if (fault.method && fault.method.toUpperCase() !== method) return false;
  if (typeof fault.path === 'string') return fault.path === path || fault.path === fullPath;
  fault.path.lastIndex = 0;
  return fault.path.test(path);
}

/**
 * Counts the request against every matching fault and returns the first one whose window
 * [nth, nth + times) contains it. Each fault counts its own matches, so faults never shadow each other's counts.
 */
export function pickFault(fake: FakeState, method: string, path: string, fullPath: string): InjectedFault | null {
  let picked: InjectedFault | null = null;
  for (const fault of fake.faults) {
    if (!matches(fault, method, path, fullPath)) continue;
    fault.seen++;
    const nth = fault.nth ?? 1;
    const times = fault.times ?? 1;
    if (!picked && fault.seen >= nth && fault.seen < nth + times) picked = fault;
  }
  if (picked) picked.applied++;
  return picked;
}

/** Only a delay or a hold: the request is then handled normally. */
export function isDelayOnly(fault: InjectedFault): boolean {
  return (fault.delayMs !== undefined || fault.hold === true) && !fault.drop && fault.status === undefined && fault.body === undefined && fault.rawBody === undefined && fault.headers === undefined;
}

export function faultReply(fake: FakeState, fault: InjectedFault): Reply {
  const status = fault.status ?? 500;
  const headers: Record<string, string> = {};
  let body: string;
  if (fault.rawBody !== undefined) return { status, headers: lowerKeys(fault.headers ?? {}), body: fault.rawBody };
  if (fault.body === undefined && status === 429) {
    // Rack::Attack's throttle answer: plain text plus RateLimit-* headers (facts §8, pitfall 14).
    const reset = Math.floor(fake.now().getTime() / 1000) + 60;
    Object.assign(headers, {
      'content-type': 'text/plain', 'retry-after': '60', 'ratelimit-name': 'throttle_authenticated_api',
      'ratelimit-limit': '7200', 'ratelimit-observed': '7201', 'ratelimit-remaining': '0',
      'ratelimit-reset': String(reset), 'ratelimit-resettime': new Date(reset * 1000).toUTCString(),
    });
    body = 'Retry later\n';
  } else if (fault.body === undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ message: `${String(status)} ${STATUS_CODES[status] ?? 'Error'}` });
  } else if (typeof fault.body === 'string') {
    headers['content-type'] = 'text/plain';
    body = fault.body;
  } else {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(fault.body);
  }
  return { status, headers: { ...headers, ...lowerKeys(fault.headers ?? {}) }, body };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
