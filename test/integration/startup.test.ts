// The real entry point: starts on the embedded database with no set-up, refuses a second process on
// the same data directory (but not a dead one's lock), refuses bad configuration in one line, and shuts
// down gracefully: readiness first, then the listener, within a deadline.
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { buildTestApp } from '../helpers/app.js';
import { freePort, startServer, waitForHealthy } from '../helpers/child-server.js';

// A cold embedded database start takes minutes on a loaded 2-core machine: bound the waits generously.
const slow = { timeout: 600_000 };

t.test('npm start serves on the embedded database with nothing set up, and SIGTERM stops it cleanly', slow, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-start-'));
  const port = await freePort();
  const server = startServer({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  const lookup = await fetch(`http://127.0.0.1:${port}/instances/lookup?url=gitlab.example.com`);
  t.same(await lookup.json(), {
    url: 'https://gitlab.example.com',
    status: 'unregistered',
    next: 'bootstrap',
    callbackUrl: instanceCallbackUrl(`http://localhost:${port}`, 'https://gitlab.example.com'),
  });
  t.match(server.output(), /ENCRYPTION_KEY is not set/, 'warns about the development key');

  const second = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
  t.equal(await second.exited, 1, 'a second process on the same DATA_DIR refuses to start');
  t.match(second.output(), /DATA_DIR .* is in use by another live process/);

  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'exits 0 after SIGTERM');
});

t.test('a bad variable stops start-up with one line naming it', slow, async (t) => {
  const server = startServer({ PORT: 'eighty', DATA_DIR: mkdtempSync(join(tmpdir(), 'gitlab-connect-start-')) });
  t.equal(await server.exited, 1);
  t.match(server.output(), /^gitlab-connect: PORT: [^\n]+\n$/);
});

t.test('closing lets an in-flight request finish', async (t) => {
  const { app } = await buildTestApp(t);
  let release: () => void = () => {};
  const arrived = new Promise<void>((resolveArrived) => {
    app.get('/slow', async () => {
      resolveArrived();
      await new Promise<void>((resolve) => (release = resolve));
      return { done: true };
    });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const response = new Promise<string>((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/slow' }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
  await arrived;
  const closed = app.close();
  release();
  t.same(JSON.parse(await response), { done: true });
  await closed;
});

/** Polls `url` until it answers `status`, bounded; resolves to whether it did. */
async function answers(url: string, status: number): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const actual = await fetch(url).then((response) => response.status, () => 0);
    if (actual === status) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

t.test('a lock left by a killed process does not block start-up, even when its pid now belongs to a live process', slow, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-start-'));
  const port = await freePort();
  const first = startServer({ PORT: String(port), DATA_DIR: dataDir });
  t.teardown(() => first.child.kill('SIGKILL'));
  await waitForHealthy(port, first);
  first.child.kill('SIGKILL');
  await first.exited;
  // The dead process's lock was last renewed a minute ago; its pid is now this live test process's.
  const aMinuteAgo = new Date(Date.now() - 60_000);
  utimesSync(join(dataDir, 'gitlab-connect.lock'), aMinuteAgo, aMinuteAgo);
  writeFileSync(join(dataDir, 'pglite.lock'), String(process.pid));
  const second = startServer({ PORT: String(port), DATA_DIR: dataDir });
  t.teardown(() => second.child.kill('SIGKILL'));
  await waitForHealthy(port, second);
  t.pass('the restarted server serves');
});

t.test('SIGTERM turns readiness to 503 at once while the listener still serves for SHUTDOWN_DRAIN_MS, then exits 0', slow, async (t) => {
  const port = await freePort();
  const server = startServer({ PORT: String(port), DATA_DIR: mkdtempSync(join(tmpdir(), 'gitlab-connect-start-')), SHUTDOWN_DRAIN_MS: '8000' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, 'ready before the signal');
  server.child.kill('SIGTERM');
  t.ok(await answers(`http://127.0.0.1:${port}/readyz`, 503), 'readiness answers 503 once the signal arrived');
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'the listener still serves during the drain');
  t.equal(await server.exited, 0, 'exits 0 after the drain');
  t.match(server.output(), /shutting down: readiness answers 503[\s\S]*closing the listener[\s\S]*shut down/);
});

t.test('in-flight work that outlives SHUTDOWN_TIMEOUT_MS is abandoned: the process exits 1 instead of waiting on GitLab', slow, async (t) => {
  // A "GitLab" that accepts connections and never answers; the GitLab timeout is far longer than the test.
  let connected: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (connected = resolve));
  const silent = createTcpServer(() => connected());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const silentPort = (silent.address() as AddressInfo).port;
  const port = await freePort();
  const server = startServer({
    PORT: String(port),
    DATA_DIR: mkdtempSync(join(tmpdir(), 'gitlab-connect-start-')),
    ALLOW_HTTP: 'true',
    ALLOW_PRIVATE_NETWORKS: 'true',
    GITLAB_TIMEOUT_MS: '120000',
    SHUTDOWN_DRAIN_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '1000',
  });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  const bootstrap = fetch(`http://127.0.0.1:${port}/instances/bootstrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${silentPort}`, adminToken: 'glpat-aaaaaaaaaaaaaaaaaaaa' }),
  }).catch(() => undefined);
  await arrived;
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 1, 'exits 1 at the deadline');
  t.match(server.output(), /shutdown deadline passed/);
  await bootstrap;
});
