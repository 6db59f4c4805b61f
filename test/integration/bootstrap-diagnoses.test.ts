// Every way the road from the typed URL to GitLab can be broken gets its own code, reason or location,
// and a detail that names the fix (src/diagnoses.ts): one row per condition, against the fake GitLab.
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';
import { expectProblem } from '../helpers/bootstrap.js';
import { FAKE_GITLAB_ENV, postBootstrap, startTestGitlab } from '../helpers/gitlab.js';
import { createTlsVariants, type FakeGitlabOptions } from '../fake-gitlab/index.js';

const tlsVariants = createTlsVariants();
const tlsOf = (cert: string) => ({ tls: { key: tlsVariants.key, cert } });

interface Row {
  name: string;
  fake?: FakeGitlabOptions;
  /** The URL typed, when it is not the fake's own. */
  url?: (fakeUrl: string) => Promise<string> | string;
  caCertificate?: string;
  /** The admin token when it is not the seeded admin's. */
  adminToken?: string;
  status: number;
  code: string;
  step: string;
  fields?: Record<string, unknown>;
  /** A key phrase of the fix the detail must name. */
  detail: RegExp;
}

/** A TCP port that refuses connections: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return port;
}

/** A TCP server that resets every connection as soon as a request arrives. */
async function resettingServer(t: Test): Promise<number> {
  const server = createTcpServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => { resolve(); })));
  return (server.address() as AddressInfo).port;
}

const rows: Row[] = [
  { name: 'an old domain redirecting to the new one', fake: { front: { kind: 'redirect', to: 'https://gitlab.example.org' } }, status: 422, code: 'gitlab_redirected', step: 'probe', fields: { location: 'https://gitlab.example.org' }, detail: /use the address in `location`/ },
  { name: 'http:// redirecting to https:// under a relative root', fake: { front: { kind: 'redirect', to: 'https://git.example.com', status: 308 }, relativeRoot: '/gitlab' }, status: 422, code: 'gitlab_redirected', step: 'probe', fields: { location: 'https://git.example.com/gitlab' }, detail: /never follows/ },
  { name: "a CDN's bot challenge answering 403 HTML", fake: { front: { kind: 'challenge' } }, status: 502, code: 'gitlab_blocked', step: 'probe', detail: /egress IPs this service reports at GET \/meta/ },
  { name: 'a firewall answering 503 HTML', fake: { front: { kind: 'challenge', status: 503 } }, status: 502, code: 'gitlab_blocked', step: 'probe', detail: /allow-list the egress IPs/ },
  { name: 'a name that does not resolve', url: () => Promise.resolve('http://gitlab.nonexistent.invalid'), status: 502, code: 'gitlab_unreachable', step: 'probe', fields: { reason: 'dns' }, detail: /does not resolve.*check its spelling/ },
  { name: 'a port that refuses connections', url: async () => `http://127.0.0.1:${String(await closedPort())}`, status: 502, code: 'gitlab_unreachable', step: 'probe', fields: { reason: 'refused' }, detail: /check the port in the URL/ },
  { name: 'a leaf-only chain', fake: tlsOf(tlsVariants.leafOnly), status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'incomplete_chain' }, detail: /the intermediate is enough/ },
  // With a CA pasted, OpenSSL's partial-chain search reports the missing intermediate as an unknown issuer (20).
  { name: 'a leaf-only chain with the root CA pasted', fake: tlsOf(tlsVariants.leafOnly), caCertificate: tlsVariants.rootCa, status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'unknown_ca' }, detail: /the intermediate that issued the certificate/ },
  { name: 'a private CA not pasted', fake: tlsOf(tlsVariants.fullChain), status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'unknown_ca' }, detail: /paste the PEM of that CA/ },
  { name: 'an expired certificate', fake: tlsOf(tlsVariants.expired), caCertificate: tlsVariants.rootCa, status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'expired' }, detail: /Renew GitLab's certificate/ },
  { name: 'a certificate for another host name', fake: tlsOf(tlsVariants.wrongHost), caCertificate: tlsVariants.rootCa, status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'hostname_mismatch' }, detail: /names this host/ },
  { name: 'a self-signed certificate', fake: tlsOf(tlsVariants.selfSigned), status: 502, code: 'gitlab_tls_error', step: 'probe', fields: { reason: 'self_signed' }, detail: /paste that certificate/ },
  { name: "a project's URL pasted", url: (fakeUrl) => `${fakeUrl}/group/project`, status: 422, code: 'not_gitlab', step: 'probe', fields: { suggestedUrl: '<fake>' }, detail: /use that address/ },
  { name: 'the relative root left off', fake: { relativeRoot: '/gitlab' }, url: (fakeUrl) => new URL(fakeUrl).origin, status: 422, code: 'not_gitlab', step: 'probe', fields: { suggestedUrl: '<fake>' }, detail: /suggestedUrl names a GitLab found nearby/ },
  { name: 'an unknown admin token', adminToken: 'glpat-unknown-token-0123456789', status: 422, code: 'token_invalid', step: 'verify_token', detail: /create a personal access token with scope `api` as an administrator \(and `admin_mode` when Admin Mode is on\)/ },
];

for (const row of rows) {
  t.test(`${row.name}: ${String(row.status)} ${row.code}${row.fields ? ` ${JSON.stringify(row.fields)}` : ''}`, async (t) => {
    const fake = await startTestGitlab(t, row.fake);
    const admin = fake.seedAdmin();
    const lookup = ((hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException) => void) => { callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })); }) as never;
    const { app } = await buildTestApp(t, FAKE_GITLAB_ENV, { lookup });
    const url = row.url ? await row.url(fake.url) : fake.url;
    const body = expectProblem(t, await postBootstrap(app, { url, adminToken: row.adminToken ?? admin.token, ...(row.caCertificate ? { caCertificate: row.caCertificate } : {}) }), {
      status: row.status,
      code: row.code,
      step: row.step,
    });
    for (const [field, value] of Object.entries(row.fields ?? {})) t.equal(body[field], value === '<fake>' ? fake.url : value, field);
    t.match(body.detail, row.detail);
    t.equal(fake.counters.usersCreated, 0, 'nothing was created on GitLab');
  });
}

t.test('a connection reset by the peer: 502 gitlab_unreachable reason reset', async (t) => {
  const port = await resettingServer(t);
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const body = expectProblem(t, await postBootstrap(app, { url: `http://127.0.0.1:${String(port)}`, adminToken: 'glpat-any-token-0123456789' }), { status: 502, code: 'gitlab_unreachable', step: 'probe' });
  t.match(body, { reason: 'reset', detail: /reset while talking to GitLab/ });
});

t.test('an intermediate CA pasted as caCertificate is a trust anchor: a GitLab sending only its leaf is set up', async (t) => {
  const fake = await startTestGitlab(t, tlsOf(tlsVariants.leafOnly));
  const admin = fake.seedAdmin();
  const { app } = await buildTestApp(t, FAKE_GITLAB_ENV);
  const response = await postBootstrap(app, { url: fake.url, adminToken: admin.token, caCertificate: tlsVariants.intermediateCa });
  t.equal(response.statusCode, 201, response.body);
});
