// Graceful shutdown of the real entry point: in-flight requests finish, readiness turns 503 first, then
// the listener closes, within a deadline.
import { request } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { holdsWithin, until } from '../helpers/poll.js';
import { freePort, serverDatabaseEnv, slow, startServer, waitForHealthy } from '../helpers/server-process.js';

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
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => { resolve(body); });
    }).on('error', reject).end();
  });
  await arrived;
  const closed = app.close();
  release();
  t.same(JSON.parse(await response), { done: true });
  await closed;
});

/** Polls `url` (every 50 ms, for 5 s: the drain lasts 8 s) until it answers `status`; resolves to whether it did. */
function answers(url: string, status: number): Promise<boolean> {
  return holdsWithin(async () => (await fetch(url).then((response) => response.status, () => 0)) === status, { everyMs: 50, withinMs: 5_000 });
}

t.test('SIGTERM turns readiness to 503 at once while the listener still serves for SHUTDOWN_DRAIN_MS, then exits 0; a Ctrl-C meanwhile starts no second shutdown', slow, async (t) => {
  const port = await freePort();
  const server = startServer({ PORT: String(port), ...(await serverDatabaseEnv()), SHUTDOWN_DRAIN_MS: '8000' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  t.equal((await fetch(`http://127.0.0.1:${String(port)}/readyz`)).status, 200, 'ready before the signal');
  server.child.kill('SIGTERM');
  t.ok(await answers(`http://127.0.0.1:${String(port)}/readyz`, 503), 'readiness answers 503 once the signal arrived');
  t.equal((await fetch(`http://127.0.0.1:${String(port)}/healthz`)).status, 200, 'the listener still serves during the drain');
  server.child.kill('SIGINT');
  t.equal(await server.exited, 0, 'exits 0 after the drain');
  t.match(server.output(), /shutting down: readiness answers 503[\s\S]*closing the listener[\s\S]*shut down/);
  t.equal(server.output().match(/shutting down: readiness/g)?.length, 1, 'one shutdown: the SIGINT during the drain did not start another');
  t.match(server.output(), /"signal":"SIGTERM"/);
});

t.test('in-flight work that outlives SHUTDOWN_TIMEOUT_MS is abandoned: the process exits 1 instead of waiting on GitLab', slow, async (t) => {
  // A "GitLab" that accepts connections and never answers; the GitLab timeout is far longer than the test.
  let connected: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (connected = resolve));
  const silent = createTcpServer(() => { connected(); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const silentPort = (silent.address() as AddressInfo).port;
  const port = await freePort();
  const server = startServer({
    PORT: String(port),
    ...(await serverDatabaseEnv()),
    ALLOW_HTTP: 'true',
    ALLOW_PRIVATE_NETWORKS: 'true',
    GITLAB_TIMEOUT_MS: '120000',
    SHUTDOWN_DRAIN_MS: '0',
    SHUTDOWN_TIMEOUT_MS: '1000',
  });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  const bootstrap = fetch(`http://127.0.0.1:${String(port)}/instances/bootstrap`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${String(silentPort)}`, adminToken: 'glpat-aaaaaaaaaaaaaaaaaaaa' }),
  }).catch(() => undefined);
  await arrived;
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 1, 'exits 1 at the deadline');
  t.match(server.output(), /shutdown deadline passed/);
  await bootstrap;
});

t.test('one Ctrl-C under npm start (SIGINT twice: from the terminal and relayed by npm) shuts down gracefully, exit 0', slow, async (t) => {
  const port = await freePort();
  const server = startServer({ PORT: String(port), ...(await serverDatabaseEnv()) });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  server.child.kill('SIGINT');
  // npm relays the signal once its own handler has run: the child is shutting down by then.
  await until('the child is shutting down', () => server.output().includes('shutting down'), { everyMs: 10, withinMs: 20_000 });
  server.child.kill('SIGINT');
  t.equal(await server.exited, 0, 'exits 0: the repeated signal did not cut the shutdown short');
  t.match(server.output(), /shutting down: readiness answers 503[\s\S]*shut down/);
  t.notMatch(server.output(), /second SIGINT/);
});
