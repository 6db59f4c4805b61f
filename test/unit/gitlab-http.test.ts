// Proves the GitLab HTTP client against real sockets: body parsing, GitLab's error shapes and their
// default mapping, no redirects, deadlines, size cap, TLS with a private CA, and the SSRF guard.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { pino } from 'pino';
import { AppError } from '../../src/errors.js';
import { createGitlabHttp, GitlabApiError, toAppError } from '../../src/gitlab/http.js';
import type { GitlabHttpOptions, GitlabRequest } from '../../src/gitlab/http.js';

const TOKEN = 'glpat-SeCrEtToKeN-0123456789';
const BEARER = 'oauth-BeArErToKeN-9876543210';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const hits = new Map<string, number>();
let lastRequest: { headers: http.IncomingHttpHeaders; body: string } | undefined;

const routes: Record<string, Handler> = {
  '/json': (_req, res) => { json(res, 200, { id: 1, name: 'bot' }); },
  '/empty': (_req, res) => res.writeHead(204).end(),
  '/text': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('GitLab OK'),
  '/echo': (req, res) => { json(res, 201, { method: req.method }); },
  '/401-m': (_req, res) => { json(res, 401, { message: '401 Unauthorized' }); },
  '/401-expired': (_req, res) => { json(res, 401, { error: 'invalid_token', error_description: 'Token is expired. You can either do re-authorization or token refresh.' }); },
  '/401-revoked': (_req, res) => { json(res, 401, { error: 'invalid_token', error_description: 'Token was revoked. You have to re-authorize from the user.' }); },
  '/403-scope': (_req, res) => { json(res, 403, {
      error: 'insufficient_scope',
      error_description: 'The request requires higher privileges than provided by the access token.',
      scope: 'api',
    }); },
  '/403-m': (_req, res) => { json(res, 403, { message: '403 Forbidden' }); },
  '/404-echo': (_req, res) => { json(res, 404, { message: `404 Token ${TOKEN} and ${BEARER} Not Found` }); },
  '/409': (_req, res) => { json(res, 409, { message: 'Email has already been taken' }); },
  '/400-g': (_req, res) => { json(res, 400, { error: 'email is missing' }); },
  '/400-v': (_req, res) => { json(res, 400, { message: { password: ['is too short'] } }); },
  '/429': (_req, res) => res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '30' }).end('Retry later\n'),
  '/429-date': (_req, res) =>
    res.writeHead(429, { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }).end('Retry later\n'),
  '/500-html': (_req, res) =>
    res.writeHead(500, { 'content-type': 'text/html' }).end(`<html><body>${'We are sorry. '.repeat(40)}</body></html>`),
  '/redirect': (_req, res) => res.writeHead(302, { location: '/target?secret=1' }).end(),
  '/target': (_req, res) => { json(res, 200, { reached: true }); },
  '/.well-known/openid-configuration': (req, res) => { json(res, 200, { issuer: `http://${String(req.headers.host)}`, token_endpoint: `http://${String(req.headers.host)}/oauth/token` }); },
  '/hang': () => {},
  '/slow-body': (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":');
  },
  '/drop': (req) => req.socket.destroy(),
  '/big': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5000 }).end('x'.repeat(5000)),
  '/big-chunked': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    for (let i = 0; i < 5; i++) res.write('y'.repeat(1000));
    res.end();
  },
};

function json(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const handle: Handler = (req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    lastRequest = { headers: req.headers, body };
    (routes[path] ?? ((_q, r) => { json(r, 404, { message: '404 Not Found' }); }))(req, res);
  });
};

async function listen(server: http.Server | https.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

const server = http.createServer(handle);
const port = await listen(server);
const base = `http://127.0.0.1:${String(port)}`;
const totalHits = () => [...hits.values()].reduce((a, b) => a + b, 0);

const logLines: string[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });

function client(overrides: Partial<GitlabHttpOptions> = {}) {
  const c = createGitlabHttp({ allowHttp: true, allowPrivateNetworks: true, timeoutMs: 2000, logger, ...overrides });
  t.teardown(() => c.close());
  return c;
}
const open = client();

/** Runs a request expected to fail and returns the error, checking no token leaks into it. */
async function failure(c: ReturnType<typeof client>, req: Partial<GitlabRequest> & { url: string }) {
  try {
    await c.request({ method: 'GET', privateToken: TOKEN, ...req });
  } catch (error) {
    const mapped = toAppError(error);
    for (const text of [mapped.message, (error as Error).message, JSON.stringify(error), JSON.stringify(mapped)]) {
      if (text.includes(TOKEN) || text.includes(BEARER)) throw new Error(`token leaked into error: ${text}`);
    }
    return { error, mapped };
  }
  throw new Error(`expected ${req.url} to fail`);
}

t.test('2xx answers are parsed: JSON, 204 as null, text as string', async (t) => {
  const r1 = await open.request({ method: 'GET', url: `${base}/json`, privateToken: TOKEN });
  t.same(r1, { status: 200, headers: r1.headers, body: { id: 1, name: 'bot' }, bytes: Buffer.byteLength(JSON.stringify({ id: 1, name: 'bot' })) });
  t.equal(lastRequest?.headers['private-token'], TOKEN);
  const r2 = await open.request({ method: 'DELETE', url: `${base}/empty`, bearerToken: BEARER });
  t.equal(r2.status, 204);
  t.equal(r2.body, null);
  t.equal(lastRequest?.headers.authorization, `Bearer ${BEARER}`);
  const r3 = await open.request({ method: 'GET', url: `${base}/text` });
  t.equal(r3.body, 'GitLab OK');
});

t.test('JSON bodies are sent with their content type, and every call asks for identity encoding', async (t) => {
  await open.request({ method: 'POST', url: `${base}/echo`, json: { username: 'bot' } });
  t.equal(lastRequest?.headers['content-type'], 'application/json');
  t.equal(lastRequest?.body, '{"username":"bot"}');
  t.equal(lastRequest?.headers['accept-encoding'], 'identity');
  await open.fetch(`${base}/json`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(lastRequest?.headers['accept-encoding'], 'identity', 'the OAuth fetch adapter too, whatever the caller asked');
});

t.test('non-2xx answers become GitlabApiError and map to the default codes', async (t) => {
  const cases: [string, Partial<GitlabApiError>, string, Record<string, unknown>?][] = [
    ['/401-m', { status: 401, message: '401 Unauthorized' }, 'token_invalid'],
    ['/401-expired', { status: 401, error: 'invalid_token' }, 'token_expired'],
    ['/401-revoked', { status: 401, error: 'invalid_token' }, 'token_revoked'],
    ['/403-scope', { status: 403, error: 'insufficient_scope', scope: 'api' }, 'token_missing_scope', { missingScopes: ['api'] }],
    ['/403-m', { status: 403, message: '403 Forbidden' }, 'token_not_admin'],
    ['/404-echo', { status: 404 }, 'gitlab_error'],
    ['/409', { status: 409, message: 'Email has already been taken' }, 'gitlab_error'],
    ['/400-g', { status: 400, error: 'email is missing', message: 'email is missing' }, 'gitlab_error'],
    ['/400-v', { status: 400, message: 'password is too short' }, 'gitlab_error'],
    ['/429', { status: 429, message: 'Retry later', retryAfter: 30 }, 'gitlab_rate_limited', { retryAfter: 30 }],
    ['/500-html', { status: 500 }, 'gitlab_error'],
  ];
  for (const [path, fields, code, extras] of cases) {
    const { error, mapped } = await failure(open, { url: `${base}${path}?private_token=x`, bearerToken: BEARER });
    t.ok(error instanceof GitlabApiError, `${path} rejects with GitlabApiError`);
    t.match(error, { ...fields, method: 'GET', path }, `${path} fields`);
    t.equal(mapped.code, code, `${path} maps to ${code}`);
    if (extras) t.same(mapped.extras, extras, `${path} extras`);
  }
  const expired = (await failure(open, { url: `${base}/401-expired` })).error as GitlabApiError;
  t.match(expired.errorDescription, /^Token is expired/);
  const echo = await failure(open, { url: `${base}/404-echo`, bearerToken: BEARER });
  t.equal(echo.mapped.message, 'GitLab answered 404 to GET /404-echo', "the detail is in our words only, none of GitLab's text");
  t.equal((echo.error as GitlabApiError).message, '404 Token [redacted] and [redacted] Not Found', 'the GitlabApiError keeps the redacted text for callers to classify');
  const html = await failure(open, { url: `${base}/500-html` });
  t.equal(html.mapped.message, 'GitLab answered 500 to GET /500-html');
  const dated = (await failure(open, { url: `${base}/429-date` })).error as GitlabApiError;
  t.ok(dated.retryAfter !== undefined && dated.retryAfter >= 118 && dated.retryAfter <= 120, 'HTTP-date Retry-After in seconds');
  t.equal(toAppError(new GitlabApiError({ status: 429, message: '', method: 'GET', path: '/x' })).extras.retryAfter, 60);
});

t.test('a redirect is not followed and maps to gitlab_redirected naming its target', async (t) => {
  const { error, mapped } = await failure(open, { url: `${base}/redirect` });
  t.match(error, { status: 302, location: `${base}/target` });
  t.equal(mapped.code, 'gitlab_redirected');
  t.equal(mapped.extras.location, `${base}/target`);
  t.equal(mapped.message, `GET /redirect answered 302 with a redirect to ${base}/target, which is not followed; the instance URL is probably ${base}/target`);
  t.equal(hits.get('/target') ?? 0, 0, 'the redirect target received no request');
  const raw = await open.fetch(`${base}/redirect`);
  t.equal(raw.status, 302, 'the guarded fetch returns the 3xx as is');
  t.equal(hits.get('/target') ?? 0, 0);
});

t.test('deadlines: no answer and a slow body both map to gitlab_timeout', async (t) => {
  const quick = client({ timeoutMs: 200 });
  t.equal((await failure(quick, { url: `${base}/hang` })).mapped.code, 'gitlab_timeout');
  t.equal((await failure(quick, { url: `${base}/slow-body` })).mapped.code, 'gitlab_timeout');
});

t.test('a dropped connection and a refused port map to gitlab_unreachable', async (t) => {
  t.equal((await failure(open, { url: `${base}/drop` })).mapped.code, 'gitlab_unreachable');
  const closed = http.createServer();
  const closedPort = await new Promise<number>((resolve) =>
    closed.listen(0, '127.0.0.1', () => { resolve((closed.address() as AddressInfo).port); }),
  );
  await new Promise((resolve) => closed.close(resolve));
  const refused = await failure(open, { url: `http://127.0.0.1:${String(closedPort)}/` });
  t.equal(refused.mapped.code, 'gitlab_unreachable');
  t.match(refused.mapped.message, /127\.0\.0\.1:\d+ cannot be reached: the connection was refused \(ECONNREFUSED\)/);
  t.equal(refused.mapped.extras.reason, 'refused');
});

t.test('a response over maxResponseBytes maps to gitlab_error', async (t) => {
  const small = client({ maxResponseBytes: 1024 });
  for (const path of ['/big', '/big-chunked']) {
    const { mapped } = await failure(small, { url: `${base}${path}` });
    t.equal(mapped.code, 'gitlab_error', path);
    t.match(mapped.message, /too large/, path);
  }
});

t.test('TLS: a private CA is refused until given as caCertificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gitlab-http-tls-'));
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }); });
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gitlab-connect test CA');
  ossl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  const tlsServer = https.createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, handle);
  const tlsUrl = `https://127.0.0.1:${String(await listen(tlsServer))}/json`;

  const { mapped } = await failure(open, { url: tlsUrl });
  t.equal(mapped.code, 'gitlab_tls_error');
  t.equal(mapped.extras.reason, 'incomplete_chain', 'the server sends its leaf alone: the advice (diagnoses.ts) says to paste the issuing CA as caCertificate');
  const ok = await open.request({ method: 'GET', url: tlsUrl, caCertificate: ca });
  t.same(ok.body, { id: 1, name: 'bot' });
  t.equal((await open.fetch(tlsUrl, { caCertificate: ca })).status, 200, 'the guarded fetch uses the CA too');
  t.equal((await failure(open, { url: tlsUrl, caCertificate: 'not a pem' })).mapped.code, 'validation_failed');
});

t.test('SSRF guard: non-public addresses are refused before any connection', async (t) => {
  let lookups = 0;
  const fakeDns = (answers: Record<string, LookupAddress[]>) =>
    ((hostname: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) => {
      lookups++;
      process.nextTick(() => { callback(null, answers[hostname] ?? []); });
    }) as unknown as GitlabHttpOptions['lookup'];
  const answers = {
    'internal.example': [{ address: '10.0.0.1', family: 4 }],
    'mixed.example': [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
    'loop.example': [{ address: '127.0.0.1', family: 4 }],
  };
  const guarded = client({ allowPrivateNetworks: false, lookup: fakeDns(answers) });
  const guardedRealDns = client({ allowPrivateNetworks: false });
  const before = totalHits();
  const literals = [
    `http://127.0.0.1:${String(port)}/json`,
    `http://[::1]:${String(port)}/json`,
    `http://[::ffff:127.0.0.1]:${String(port)}/json`,
    `http://2130706433:${String(port)}/json`,
    `http://0x7f.1:${String(port)}/json`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/api/v4/version',
    'https://[fd00::1]/',
  ];
  for (const url of literals) {
    const { mapped } = await failure(guarded, { url });
    t.equal(mapped.code, 'url_not_allowed', url);
    await t.rejects(guarded.assertUrlResolvesAllowed(url), { code: 'url_not_allowed' }, `${url} refused before any connection`);
  }
  t.equal(lookups, 0, 'IP literals never reach the resolver');
  const viaLocalhost = await failure(guardedRealDns, { url: `http://localhost:${String(port)}/json` });
  t.equal(viaLocalhost.mapped.code, 'url_not_allowed', 'localhost');
  t.match(viaLocalhost.mapped.message, /^localhost resolves to an address that is not public/);
  for (const host of ['internal.example', 'mixed.example', 'loop.example']) {
    const { mapped } = await failure(guarded, { url: `http://${host}:${String(port)}/json` });
    t.equal(mapped.code, 'url_not_allowed', host);
  }
  t.equal(lookups, 3, 'names were judged on their resolved addresses');
  await t.rejects(guarded.fetch(`http://loop.example:${String(port)}/json`), { code: 'url_not_allowed' }, 'the guarded fetch too');
  t.equal(totalHits(), before, 'the server received zero requests');

  const trusting = client({ allowPrivateNetworks: true, lookup: fakeDns(answers) });
  const reached = await trusting.request({ method: 'GET', url: `http://loop.example:${String(port)}/json` });
  t.equal(reached.status, 200, 'control: with allowPrivateNetworks the same name connects');
  t.equal(totalHits(), before + 1);
});

t.test('http:// is refused unless allowHttp', async (t) => {
  const strict = client({ allowHttp: false });
  const before = totalHits();
  const { mapped } = await failure(strict, { url: `${base}/json` });
  t.equal(mapped.code, 'url_not_allowed');
  await t.rejects(strict.assertUrlResolvesAllowed(`${base}/json`), { code: 'url_not_allowed' });
  await t.rejects(strict.assertUrlResolvesAllowed('file:///etc/passwd'), { code: 'url_not_allowed' });
  await t.rejects(strict.assertUrlResolvesAllowed(`https://u:${TOKEN}@gitlab.example/`), { code: 'url_not_allowed' });
  await t.resolves(strict.assertUrlResolvesAllowed('https://8.8.8.8/gitlab'), 'a public address over https passes without a connection');
  t.equal(totalHits(), before);
});

t.test('the guarded fetch returns any status without mapping it', async (t) => {
  const res = await open.fetch(`${base}/401-m`, { headers: { 'private-token': TOKEN } });
  t.equal(res.status, 401);
  t.same(await res.json(), { message: '401 Unauthorized' });
});

t.test("the guarded fetch works as oauth4webapi's customFetch", async (t) => {
  const issuer = new URL(base);
  // oauth4webapi marks allowInsecureRequests deprecated only to make it stand out; the fake GitLab here is plain HTTP.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const options = { [oauth.customFetch]: open.fetch, [oauth.allowInsecureRequests]: true };
  const response = await oauth.discoveryRequest(issuer, options);
  const as = await oauth.processDiscoveryResponse(issuer, response);
  t.equal(as.token_endpoint, `${base}/oauth/token`);
  const strict = client({ allowPrivateNetworks: false });
  await t.rejects(oauth.discoveryRequest(issuer, { ...options, [oauth.customFetch]: strict.fetch }), { code: 'url_not_allowed' });
});

t.test('toAppError keeps AppErrors and logs never carry tokens', async (t) => {
  const own = new AppError('gitlab_timeout', 'x');
  t.equal(toAppError(own), own);
  t.equal(toAppError(new Error('boom')).code, 'internal_error');
  const calls = logLines.map((l) => JSON.parse(l) as { msg: string; level: number; gitlab?: Record<string, unknown> });
  t.ok(calls.length > 10);
  const leaky = logLines.filter((l) => l.includes(TOKEN) || l.includes(BEARER) || l.includes('?'));
  t.same(leaky, [], 'no log line carries a token or a query string');
  t.match(calls.find((c) => c.msg === 'gitlab call'), { level: 30, gitlab: { method: 'GET', host: `127.0.0.1:${String(port)}`, path: String, status: Number, durationMs: Number } });
  t.match(calls.find((c) => c.msg === 'gitlab call failed'), { level: 40, gitlab: { code: String } });
});
