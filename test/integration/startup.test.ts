// The real entry point: starts on the embedded database with no set-up, refuses a second process on
// the same data directory, refuses bad configuration in one line, and shuts down gracefully.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { buildTestApp } from '../helpers/app.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startServer(env: Record<string, string>): Started {
  // NODE_V8_COVERAGE is not passed on: the child compiles src/ with tsx, tap's processes with its own
  // loader, and c8 merges V8 ranges per file before source-mapping, so mixing the two garbles both.
  const { DATABASE_URL: _ignored, NODE_V8_COVERAGE: _notCounted, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env: { ...inherited, ...env } });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Polls /healthz every 100 ms; a cold start (tsx compiling, PGlite initialising) on a loaded machine may take a minute. */
async function waitForHealthy(port: number, started: Started): Promise<void> {
  for (let attempt = 0; attempt < 900; attempt++) {
    if (started.child.exitCode !== null) throw new Error(`server exited: ${started.output()}`);
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not become healthy: ${started.output()}`);
}

t.test('npm start serves on the embedded database with nothing set up, and SIGTERM stops it cleanly', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-start-'));
  const port = await freePort();
  const server = startServer({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  const lookup = await fetch(`http://127.0.0.1:${port}/instances/lookup?url=gitlab.example.com`);
  t.same(await lookup.json(), { url: 'https://gitlab.example.com', status: 'unregistered', next: 'bootstrap' });
  t.match(server.output(), /ENCRYPTION_KEY is not set/, 'warns about the development key');

  const second = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
  t.equal(await second.exited, 1, 'a second process on the same DATA_DIR refuses to start');
  t.match(second.output(), /DATA_DIR .* is in use by process \d+/);

  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'exits 0 after SIGTERM');
});

t.test('a bad variable stops start-up with one line naming it', async (t) => {
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
