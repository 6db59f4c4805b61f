// The real entry point: starts on the embedded database with no set-up, refuses a second process on
// the same data directory (but not a dead one's lock), and refuses bad configuration in one line.
// Shutdown: shutdown.test.ts (a separate file, so the two run in parallel).
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { instanceCallbackUrl } from '../../src/auth-paths.js';
import { migratedDataDir } from '../helpers/database.js';
import { pollFor } from '../helpers/poll.js';
import { buildOnce, freePort, serverDatabaseEnv, slow, startServer, waitForHealthy } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/temp-dir.js';

t.test('npm start serves on the embedded database with nothing set up, its API page too, and SIGTERM stops it cleanly', slow, async (t) => {
  const dataDir = temporaryDirectory('gitlab-connect-start-');
  const port = await freePort();
  const server = startServer({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info' });
  t.teardown(() => server.child.kill('SIGKILL'));
  await waitForHealthy(port, server);
  const lookup = await fetch(`http://127.0.0.1:${String(port)}/instances/lookup?url=gitlab.example.com`);
  t.same(await lookup.json(), {
    url: 'https://gitlab.example.com',
    status: 'unregistered',
    next: 'bootstrap',
    callbackUrl: instanceCallbackUrl(`http://localhost:${String(port)}`, 'https://gitlab.example.com'),
  });
  t.match(server.output(), /ENCRYPTION_KEY is not set/, 'warns about the development key');
  // Swagger UI is inside the bundle; the files it reads are copied beside it (scripts/build.mjs).
  for (const path of ['/docs/', '/docs/static/swagger-ui-bundle.js', '/docs/static/index.css']) t.equal((await fetch(`http://127.0.0.1:${String(port)}${path}`)).status, 200, `${path} is served`);
  const initializer = await fetch(`http://127.0.0.1:${String(port)}/docs/static/swagger-initializer.js`);
  t.match(await initializer.text(), /data:image\/svg\+xml;base64,/, 'the page carries its logo');

  const second = startServer({ PORT: String(await freePort()), DATA_DIR: dataDir });
  t.equal(await second.exited, 1, 'a second process on the same DATA_DIR refuses to start');
  t.match(second.output(), /DATA_DIR .* is in use by another live process/);

  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'exits 0 after SIGTERM');
});

t.test('a bad variable stops start-up with one line naming it', slow, async (t) => {
  const server = startServer({ PORT: 'eighty', DATA_DIR: temporaryDirectory('gitlab-connect-start-') });
  t.equal(await server.exited, 1);
  t.match(server.output(), /^gitlab-connect: PORT: [^\n]+\n$/);
});

t.test('a lock left by a killed process does not block start-up, even when its pid now belongs to a live process', slow, async (t) => {
  const dataDir = await migratedDataDir();
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

t.test('the start-up code cache: a corrupt or damaged one is never handed to V8, and a real one replaces it after the start', slow, async (t) => {
  buildOnce();
  // The built entry and bundle, and Swagger UI's logo the bundle reads beside it, copied to a directory of
  // their own (inside dist/: node_modules, package.json and dist/static are found as from dist/src), so
  // that no other test's server writes this cache.
  const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
  const directory = mkdtempSync(join(dist, 'code-cache-'));
  t.teardown(() => { rmSync(directory, { recursive: true, force: true }); });
  for (const file of ['server.js', 'server.bundle.cjs']) copyFileSync(join(dist, 'src', file), join(directory, file));
  cpSync(join(dist, 'src', 'static'), join(directory, 'static'), { recursive: true });
  const cache = join(directory, 'server.bundle.cjs.cache');
  const database = await serverDatabaseEnv();

  /** Starts the copy with the cache as `damaged`, checks it serves, and waits until it has written a cache other than `damaged`. */
  const startAndRewrite = async (damaged: Buffer, what: string): Promise<Buffer> => {
    writeFileSync(cache, damaged);
    const port = await freePort();
    const server = startServer({ PORT: String(port), ...database }, join(directory, 'server.js'));
    t.teardown(() => server.child.kill('SIGKILL'));
    await waitForHealthy(port, server);
    const lookup = await fetch(`http://127.0.0.1:${String(port)}/instances/lookup?url=gitlab.example.com`);
    t.equal(lookup.status, 200, `the server serves with ${what}`);
    const written = await pollFor(`the cache rewritten after ${what}`, () => {
      const data = readFileSync(cache);
      return data.equals(damaged) ? undefined : data;
    }, { everyMs: 100, withinMs: 60_000 });
    server.child.kill('SIGKILL');
    await server.exited;
    return written;
  };

  const real = await startAndRewrite(Buffer.from('not a V8 code cache'), 'a file that is no cache');
  t.ok(real.length > 100_000, `V8's cache of the bundle replaced it (${String(real.length)} bytes)`);
  // One byte of V8's data flipped: V8 would take it (release builds skip its checksum) and crash.
  const flipped = Buffer.from(real);
  const middle = Math.floor(flipped.length * 0.7);
  flipped[middle] = (flipped[middle] ?? 0) ^ 0xff;
  const again = await startAndRewrite(flipped, 'a byte of the cache flipped');
  t.ok(again.length > 100_000, 'a whole cache replaced the damaged one');
});
