// A real browser (Debian's chromium driven by playwright-core) on a sandbox: the frontend's login path
// across the cross-site redirect from GitLab, the session cookie as the browser keeps it, logout from the
// frontend's origin with CORS credentials, and /docs "Try it out" from both loopback names.
// Run by `npm run test:browser` (not by `npm test`); skips only when /usr/bin/chromium is missing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freePort, startSandbox, type Sandbox } from '../../scripts/sandbox/sandbox.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!existsSync(CHROMIUM)) {
  process.stdout.write(`1..0 # SKIP no Chromium at ${CHROMIUM}: install it with apt-get install --no-install-recommends chromium (.ci/run does)\n`);
  process.exit(0);
}

/** A stand-in frontend on FRONTEND_URL's origin: one empty page its scripts run on. */
async function startFrontend(port: number) {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>frontend</title><p>frontend'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
}

let sandbox: Sandbox;
let context: BrowserContext;
let page: Page;
const frontendPort = await freePort();
const frontendUrl = `http://localhost:${String(frontendPort)}`;

t.before(async () => {
  await startFrontend(frontendPort);
  sandbox = await startSandbox({ frontendUrl });
  const userDataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ['--headless', ...FLAGS] });
  page = context.pages()[0] ?? (await context.newPage());
  t.teardown(async () => {
    await context.close();
    await sandbox.close();
    rmSync(userDataDir, { recursive: true, force: true });
  });
});

t.test('login: loginUrl → the fake GitLab (another site) → callback → returnTo, with an HttpOnly SameSite=Lax session cookie', async (t) => {
  t.not(new URL(sandbox.gitlabUrl).hostname, new URL(sandbox.serviceUrl).hostname, 'GitLab is on another site (127.0.0.1 vs localhost)');
  await page.goto(`${sandbox.loginUrl}&returnTo=${encodeURIComponent(`${frontendUrl}/app`)}`);
  t.equal(page.url(), `${frontendUrl}/app`, 'landed on returnTo');
  const session = (await context.cookies(sandbox.serviceUrl)).find((cookie) => cookie.name === 'gc_session');
  t.match(session, { httpOnly: true, sameSite: 'Lax', secure: false, path: '/', value: /^[A-Za-z0-9_-]{43}$/ }, 'as the browser keeps it');
  await page.goto(`${sandbox.serviceUrl}/meta`);
  t.notMatch(await page.evaluate('document.cookie'), /gc_session/, 'scripts cannot read it');
});

t.test("logout from a page on FRONTEND_URL's origin with CORS credentials revokes the session", async (t) => {
  const token = (await context.cookies(sandbox.serviceUrl)).find((cookie) => cookie.name === 'gc_session')?.value;
  t.ok(token, 'logged in by the previous test');
  await page.goto(`${frontendUrl}/app`);
  const calls = await page.evaluate(async (service) => {
    const me = await fetch(`${service}/me`, { credentials: 'include' });
    const logout = await fetch(`${service}/auth/logout`, { method: 'POST', credentials: 'include' });
    const after = await fetch(`${service}/me`, { credentials: 'include' });
    return { me: me.status, logout: logout.status, after: after.status };
  }, sandbox.serviceUrl);
  t.same(calls, { me: 200, logout: 204, after: 401 }, '/me with the cookie, logout, /me without');
  const revoked = await fetch(`${sandbox.serviceUrl}/me`, { headers: { authorization: `Bearer ${String(token)}` } });
  t.equal(revoked.status, 401, 'the old session token is revoked, not only the cookie cleared');
});

for (const host of ['127.0.0.1', 'localhost']) {
  t.test(`/docs "Try it out" of lookup works when opened at http://${host}`, async (t) => {
    const origin = `http://${host}:${new URL(sandbox.serviceUrl).port}`;
    await page.goto(`${origin}/docs`);
    const operation = page.locator('#operations-instances-lookupInstance');
    await operation.locator('.opblock-summary').click();
    await operation.locator('.try-out__btn').click();
    await operation.locator('tr[data-param-name="url"] input').fill(sandbox.gitlabUrl);
    await operation.locator('.execute').click();
    const status = operation.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 30_000 });
    t.match((await status.innerText()).trim(), /^200\b/, 'the page called its own origin');
    t.match(await operation.locator('.live-responses-table .microlight').first().innerText(), /"status": "ready"/);
  });
}
