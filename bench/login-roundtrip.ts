// The login round trip (start → fake GitLab authorize → callback → /me) at 100 ms per GitLab call; it
// leaves a logged-in user whose session and fresh token the throughput rounds then use.
import { startFakeGitlab, type FakeGitlab } from '../test/fake-gitlab/index.js';
import { GITLAB_LATENCY_MS, median } from './bootstrap-latency.js';

export const BENCH_INTERNAL_TOKEN = 'bench-internal-token-0123456789';

function cookieFrom(response: Response, name: string): string {
  const cookie = response.headers.getSetCookie().find((line) => line.startsWith(`${name}=`));
  if (!cookie) throw new Error(`no ${name} cookie (status ${String(response.status)})`);
  return cookie.split(';')[0];
}

async function redirect(response: Response, expected: number): Promise<string> {
  if (response.status !== expected) throw new Error(`expected ${String(expected)}, got ${String(response.status)}: ${await response.text()}`);
  const location = response.headers.get('location');
  if (location === null) throw new Error(`the ${String(expected)} answer has no Location header`);
  return location;
}

/** start → GitLab's authorize → callback, as a browser does it; returns the callback's answer. */
export async function loginCallback(baseUrl: string, instanceId: string): Promise<Response> {
  const start = await fetch(`${baseUrl}/auth/gitlab/start?instance=${instanceId}`, { redirect: 'manual' });
  const bindingCookie = cookieFrom(start, 'gc_login');
  const authorized = await fetch(await redirect(start, 302), { redirect: 'manual' });
  return fetch(await redirect(authorized, 302), { redirect: 'manual', headers: { cookie: bindingCookie } });
}

/** One login as a browser does it; returns the session cookie and the user id. */
export async function loginOnce(baseUrl: string, instanceId: string): Promise<{ sessionCookie: string; userId: string }> {
  const callback = await loginCallback(baseUrl, instanceId);
  await redirect(callback, 302);
  const sessionCookie = cookieFrom(callback, 'gc_session');
  const me = await fetch(`${baseUrl}/me`, { headers: { cookie: sessionCookie } });
  if (me.status !== 200) throw new Error(`/me answered ${String(me.status)}`);
  return { sessionCookie, userId: ((await me.json()) as { user: { id: string } }).user.id };
}

/** Bootstraps `fake` (a new admin of it) on the service at `baseUrl`; returns the instance id. */
export async function bootstrapInstance(baseUrl: string, fake: FakeGitlab): Promise<string> {
  const response = await fetch(`${baseUrl}/instances/bootstrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: fake.url, adminToken: fake.seedAdmin().token }),
  });
  if (response.status !== 201) throw new Error(`bootstrap answered ${String(response.status)}: ${await response.text()}`);
  return ((await response.json()) as { instanceId: string }).instanceId;
}

export interface LoginOutcome {
  report: string;
  userId: string;
  sessionCookie: string;
  /** Stops the fake GitLab (after the rounds: the user's token stays fresh without it). */
  close: () => Promise<void>;
}

/** Bootstraps an instance on a fake GitLab, then logs in `runs` times as a browser does. */
export async function measureLogin(baseUrl: string, runs = 20): Promise<LoginOutcome> {
  const fake = await startFakeGitlab({ relativeRoot: '/login-bench' });
  try {
    const instanceId = await bootstrapInstance(baseUrl, fake);
    fake.setBrowserUser(fake.createUser({ username: 'bench-user' }).id);
    fake.latencyMs = GITLAB_LATENCY_MS;
    const durations: number[] = [];
    const requestsBefore = fake.requests.length;
    let last = { sessionCookie: '', userId: '' };
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      last = await loginOnce(baseUrl, instanceId);
      durations.push(performance.now() - started);
    }
    const gitlabCallsPerLogin = (fake.requests.length - requestsBefore) / runs;
    fake.latencyMs = 0;
    const report = [
      `login round trips: ${String(runs)}, GitLab answering every call after ${String(GITLAB_LATENCY_MS)} ms (the authorize step included)`,
      `median ${median(durations).toFixed(0)} ms (min ${Math.min(...durations).toFixed(0)}, max ${Math.max(...durations).toFixed(0)})`,
      `GitLab requests per login: ${gitlabCallsPerLogin.toFixed(1)} (sequential round trips implied: ${(median(durations) / GITLAB_LATENCY_MS).toFixed(1)})`,
    ].join('\n');
    return { report, ...last, close: () => fake.close() };
  } catch (error) {
    await fake.close();
    throw error;
  }
}
