// Proves the fake GitLab answers like GitLab (facts §1–§8), so tests of gitlab-connect can trust it.
import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { createServer } from 'node:http';
import { request } from 'node:https';
import t from 'tap';
import { createProject, createTestCertificates, startFakeGitlab, type FakeGitlab } from './index.js';

// Loose on purpose, like the `any` of a parsed body: the assertions below check the exact shapes.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function call(fake: FakeGitlab, path: string, init: RequestInit & { token?: string; form?: Record<string, string> } = {}) {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('PRIVATE-TOKEN', init.token);
  const body = init.form ? new URLSearchParams(init.form) : init.body;
  const res = await fetch(`${fake.url}${path}`, { ...init, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json: Json | undefined;
  try { json = JSON.parse(text) as Json; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const verifier = 'a-verifier-that-is-long-enough-for-pkce-0123456789abcdef';
const challenge = createHash('sha256').update(verifier).digest('base64url');

/** Registers an app, logs the browser user in and returns a fresh authorization code. */
async function authorize(fake: FakeGitlab, scope = 'api read_user openid email') {
  const app = fake.createApplication({ name: 'svc', redirectUri: 'http://localhost:3000/cb', scopes: scope.split(' ') });
  const user = fake.createUser({ username: `u${String(fake.users.size + 1)}` });
  fake.setBrowserUser(user.id);
  const q = new URLSearchParams({ client_id: app.uid, redirect_uri: 'http://localhost:3000/cb', response_type: 'code', scope, state: 's1', code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n1' });
  const res = await call(fake, `/oauth/authorize?${String(q)}`);
  const location = new URL(res.headers.get('location') as string);
  return { app, user, code: location.searchParams.get('code') as string, location };
}

const exchange = (fake: FakeGitlab, app: { uid: string; secret: string }, form: Record<string, string>) =>
  call(fake, '/oauth/token', { method: 'POST', form: { client_id: app.uid, client_secret: app.secret, ...form } });

t.test('relative root: everything lives under it, outside is an HTML 404, unknown API routes use Grape\'s body', async (t) => {
  const fake = await startFakeGitlab({ relativeRoot: '/gitlab/' });
  t.teardown(() => fake.close());
  t.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/gitlab$/);
  const anonymous = await call(fake, '/api/v4/version');
  t.same([anonymous.status, anonymous.json], [401, { message: '401 Unauthorized' }]);
  const { token } = fake.seedAdmin();
  const version = await call(fake, '/api/v4/version', { token });
  t.same(version.json, { version: '17.8.1-ee', revision: fake.revision, kas: { enabled: false, externalUrl: null, version: null }, enterprise: true });
  const discovery = await call(fake, '/.well-known/openid-configuration');
  t.equal(discovery.json?.issuer, fake.url);
  t.equal(discovery.json?.jwks_uri, `${fake.url}/oauth/discovery/keys`);
  const outside = await fetch(fake.url.replace('/gitlab', '/api/v4/version'));
  t.equal(outside.status, 404);
  t.match(outside.headers.get('content-type'), /text\/html/);
  await outside.text();
  const unknown = await call(fake, '/api/v4/nothing-here', { token });
  t.same([unknown.status, unknown.json], [404, { error: '404 Not Found' }]);
  t.same(fake.requests.at(-1), { method: 'GET', path: '/gitlab/api/v4/nothing-here', status: 404, token });
});

t.test('auth errors have GitLab\'s exact shapes', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  const expired = fake.seedAdmin({ username: 'a1', expiresAt: '2020-01-01' });
  const res = await call(fake, '/api/v4/user', { token: expired.token });
  t.same([res.status, res.json], [401, { error: 'invalid_token', error_description: 'Token is expired. You can either do re-authorization or token refresh.' }]);
  t.equal(res.headers.get('www-authenticate'), 'Bearer realm="The API", error="invalid_token"');
  const revoked = fake.seedAdmin({ username: 'a2', revoked: true });
  t.equal((await call(fake, '/api/v4/user', { token: revoked.token })).json?.error_description, 'Token was revoked. You have to re-authorize from the user.');
  const readUser = fake.seedAdmin({ username: 'a3', scopes: ['read_user'] });
  t.equal((await call(fake, '/api/v4/user', { token: readUser.token })).status, 200, 'read_user may GET /user');
  const scope = await call(fake, '/api/v4/applications', { method: 'POST', token: readUser.token, form: { name: 'x' } });
  t.same([scope.status, scope.json], [403, { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope: 'api' }]);
  const person = fake.createUser({ username: 'bob' });
  const bobToken = fake.createPersonalAccessToken(person.id, { scopes: ['api'] }).token;
  t.same((await call(fake, '/api/v4/applications', { token: bobToken })).json, { message: '403 Forbidden' });
  t.notOk('is_admin' in ((await call(fake, '/api/v4/user', { token: bobToken })).json as Json), 'non-admins get no is_admin');
  fake.blockUser(person.id);
  const blocked = await call(fake, '/api/v4/user', { token: bobToken });
  t.same([blocked.status, blocked.json], [403, { message: '403 Forbidden - Your account has been blocked.' }]);
  t.same((await call(fake, '/api/v4/user', { token: 'glpat-unknown' })).json, { message: '401 Unauthorized' });
});

t.test('Admin Mode: admin calls need admin_mode, while /user still says is_admin', async (t) => {
  const fake = await startFakeGitlab({ adminMode: true });
  t.teardown(() => fake.close());
  const plain = fake.seedAdmin();
  t.equal((await call(fake, '/api/v4/user', { token: plain.token })).json?.is_admin, true);
  t.same((await call(fake, '/api/v4/applications', { token: plain.token })).json, { message: '403 Forbidden' });
  const withMode = fake.createPersonalAccessToken(plain.user.id, { scopes: ['api', 'admin_mode'] });
  t.equal((await call(fake, '/api/v4/applications', { token: withMode.token })).status, 200);
});

t.test('users and personal access tokens', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  const { token } = fake.seedAdmin();
  const missing = await call(fake, '/api/v4/users', { method: 'POST', token, form: { username: 'bot', name: 'Bot', force_random_password: 'true' } });
  t.same([missing.status, missing.json], [400, { error: 'email is missing' }]);
  const created = await call(fake, '/api/v4/users', { method: 'POST', token, form: { email: 'Bot@x.io', username: 'bot', name: 'Bot', force_random_password: 'true' } });
  t.equal(created.status, 201);
  t.equal(created.json?.is_admin, false);
  const dup = await call(fake, '/api/v4/users', { method: 'POST', token, form: { email: 'bot@X.io', username: 'other', name: 'B', password: 'long-enough-1' } });
  t.same([dup.status, dup.json], [409, { message: 'Email has already been taken' }]);
  t.same((await call(fake, '/api/v4/users?username=BOT', { token })).json?.map((u: Json) => u.id), [created.json?.id]);
  t.same((await call(fake, '/api/v4/users/999', { token })).json, { message: '404 User Not Found' });

  const tooLong = await call(fake, `/api/v4/users/${String(created.json?.id)}/personal_access_tokens`, { method: 'POST', token, form: { name: 't', scopes: 'api', expires_at: fake.dateInDays(366) } });
  t.same([tooLong.status, tooLong.json], [422, { message: `Expiration date must be before ${fake.dateInDays(365)}` }]);
  const pat = await call(fake, `/api/v4/users/${String(created.json?.id)}/personal_access_tokens`, { method: 'POST', token, form: { name: 't', 'scopes[]': 'api' } });
  t.equal(pat.status, 201);
  t.equal(pat.json?.expires_at, fake.dateInDays(365));
  t.match(pat.json?.token, /^glpat-/);
  t.equal(fake.counters.personalAccessTokensCreated, 1);

  const rotated = await call(fake, '/api/v4/personal_access_tokens/self/rotate', { method: 'POST', token: pat.json?.token });
  t.equal(rotated.status, 200);
  t.equal(rotated.json?.expires_at, fake.dateInDays(7));
  t.equal(fake.personalAccessTokens.get(pat.json?.id)?.revoked, true);
  const reuse = await call(fake, '/api/v4/personal_access_tokens/self/rotate', { method: 'POST', token: pat.json?.token });
  t.equal(reuse.status, 401);
  t.equal(fake.personalAccessTokens.get(rotated.json?.id)?.revoked, true, 'reuse revoked the whole family');
  t.same(fake.liveTokensOf(created.json?.id), []);
});

t.test('authorization code flow: PKCE, single-use codes, ID token, refresh rotation', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  const { app, user, code, location } = await authorize(fake);
  t.equal(location.searchParams.get('state'), 's1');
  const base = { grant_type: 'authorization_code', code, redirect_uri: 'http://localhost:3000/cb' };
  const wrong = await exchange(fake, app, { ...base, code_verifier: 'nope' });
  t.same([wrong.status, wrong.json?.error], [400, 'invalid_grant']);
  const ok = await exchange(fake, app, { ...base, code_verifier: verifier });
  t.equal(ok.status, 200);
  t.same(Object.keys(ok.json as Json).sort(), ['access_token', 'created_at', 'expires_in', 'id_token', 'refresh_token', 'scope', 'token_type']);
  t.equal(fake.lastTokenRequest?.code_verifier, verifier);
  t.equal(fake.grantCount('authorization_code'), 1);

  const [header, payload, signature] = (ok.json?.id_token as string).split('.') as [string, string, string];
  const jwk = (await call(fake, '/oauth/discovery/keys')).json?.keys[0] as JsonWebKey;
  t.ok(verify('sha256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url')));
  t.match(JSON.parse(Buffer.from(payload, 'base64url').toString()), { iss: fake.url, sub: String(user.id), aud: app.uid, nonce: 'n1', email: user.email });

  const bearer = { authorization: `Bearer ${String(ok.json?.access_token)}` };
  t.equal((await call(fake, '/api/v4/user', { headers: bearer })).json?.id, user.id);
  const replay = await exchange(fake, app, { ...base, code_verifier: verifier });
  t.same(replay.json?.error, 'invalid_grant');
  t.equal((await call(fake, '/api/v4/user', { headers: bearer })).status, 401, 'a replayed code revokes its tokens');

  const second = await authorize(fake);
  const pair = (await exchange(fake, second.app, { ...base, code: second.code, code_verifier: verifier })).json as Json;
  const lost = await exchange(fake, second.app, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
  t.equal(lost.status, 200);
  t.not(lost.json?.refresh_token, pair.refresh_token);
  const asOld = { authorization: `Bearer ${String(pair.access_token)}` };
  t.equal((await call(fake, '/api/v4/user', { headers: asOld })).status, 200, 'the old pair works until the new access token is used');
  const refreshed = await exchange(fake, second.app, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
  t.equal(refreshed.status, 200, 'a refresh whose answer was lost can be retried with the old refresh token');
  t.equal((await call(fake, '/api/v4/user', { headers: { authorization: `Bearer ${String(refreshed.json?.access_token)}` } })).status, 200);
  t.equal((await call(fake, '/api/v4/user', { headers: asOld })).status, 401, 'first use of the new access token revokes the old pair');
  const again = await exchange(fake, second.app, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
  t.same([again.status, again.json?.error], [400, 'invalid_grant']);
  t.equal(fake.grantCount('refresh_token'), 2);
  const badClient = await exchange(fake, { uid: second.app.uid, secret: 'wrong' }, { grant_type: 'refresh_token', refresh_token: refreshed.json?.refresh_token });
  t.same([badClient.status, badClient.json?.error], [401, 'invalid_client']);
});

t.test('authorize refusals: bad redirect URI page, denial redirect, OAuth token expiry by the clock', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const fake = await startFakeGitlab({ now: () => new Date(now), accessTokenTtlSeconds: 60 });
  t.teardown(() => fake.close());
  const { app, code } = await authorize(fake, 'api');
  const bad = await call(fake, `/oauth/authorize?${String(new URLSearchParams({ client_id: app.uid, redirect_uri: 'http://evil/cb', response_type: 'code' }))}`);
  t.equal(bad.status, 200);
  t.match(bad.text, 'The redirect URI included is not valid.');
  fake.authorizeDecision = 'deny';
  const denied = await call(fake, `/oauth/authorize?${String(new URLSearchParams({ client_id: app.uid, redirect_uri: 'http://localhost:3000/cb', response_type: 'code', state: 'z' }))}`);
  t.match(denied.headers.get('location'), /^http:\/\/localhost:3000\/cb\?error=access_denied&error_description=.+&state=z$/);
  const tokens = (await exchange(fake, app, { grant_type: 'authorization_code', code, redirect_uri: 'http://localhost:3000/cb', code_verifier: verifier })).json as Json;
  now += 61_000;
  const expired = await call(fake, '/api/v4/user', { headers: { authorization: `Bearer ${String(tokens.access_token)}` } });
  t.equal(expired.json?.error_description, 'Token is expired. You can either do re-authorization or token refresh.');
});

t.test('faults hit the n-th matching request only; 429 is plain text; drop closes the socket', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  const { token } = fake.seedAdmin();
  fake.injectFault({ method: 'GET', path: '/api/v4/user', nth: 2, status: 429 });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push(await call(fake, '/api/v4/user', { token }));
  t.same(statuses.map((r) => r.status), [200, 429, 200]);
  t.equal(statuses[1]?.text, 'Retry later\n');
  t.equal(statuses[1]?.headers.get('retry-after'), '60');
  t.ok(statuses[1]?.headers.get('ratelimit-reset'));
  fake.injectFault({ path: /^\/api\/v4\/users/, drop: true });
  await t.rejects(call(fake, '/api/v4/users', { token }));
  t.equal(fake.requests.at(-1)?.status, 0);
  fake.injectFault({ path: '/api/v4/version', body: { message: 'boom' }, status: 502 });
  t.same((await call(fake, '/api/v4/version', { token })).json, { message: 'boom' });
});

t.test('a held request waits until the test releases it; the log names the token each request carried', async (t) => {
  const fake = await startFakeGitlab();
  t.teardown(() => fake.close());
  const { token } = fake.seedAdmin();
  const held = fake.injectFault({ method: 'GET', path: '/api/v4/user', hold: true });
  let answered = false;
  const pending = call(fake, '/api/v4/user', { token }).then((response) => {
    answered = true;
    return response;
  });
  await held.reached;
  t.same((await call(fake, '/api/v4/version', { token })).status, 200, 'other requests are served meanwhile');
  t.equal(answered, false, 'the held request has no answer yet');
  held.release();
  t.equal((await pending).status, 200, 'released, it is answered normally');
  t.equal(fake.requestsWith(token).length, 2);
  t.equal(fake.requestsWith('glpat-other').length, 0);
});

t.test('HTTPS with the generated CA verifies; with the other CA it fails', async (t) => {
  const certs = createTestCertificates();
  const fake = await startFakeGitlab({ tls: { key: certs.serverKey, cert: certs.serverCert } });
  t.teardown(() => fake.close());
  t.match(fake.url, /^https:/);
  const get = (ca: string) => new Promise<number>((resolve, reject) => {
    request(`${fake.url}/.well-known/openid-configuration`, { ca }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
  });
  t.equal(await get(certs.caCert), 200);
  await t.rejects(get(certs.untrusted.caCert), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

t.test('self/rotate exists from 16.10 (404 before, as no route matches); it answers the new token and revokes the old one', async (t) => {
  const old = await startFakeGitlab({ version: '16.9.2-ee' });
  t.teardown(() => old.close());
  const oldSetup = old.seedManualSetup({ redirectUri: 'http://connect.test/auth/gitlab/callback/x', scopes: ['api'] });
  const refused = await call(old, '/api/v4/personal_access_tokens/self/rotate', { method: 'POST', token: oldSetup.token });
  t.same([refused.status, refused.json], [404, { error: '404 Not Found' }]);
  t.notOk(old.personalAccessTokens.get(oldSetup.tokenId)!.revoked);

  const fake = await startFakeGitlab({ version: '16.10.0-ee' });
  t.teardown(() => fake.close());
  const setup = fake.seedManualSetup({ redirectUri: 'http://connect.test/auth/gitlab/callback/x', scopes: ['api'] });
  t.match(setup, { bot: { admin: false, username: 'code-review-bot' }, application: { confidential: true } });
  t.equal(fake.counters.usersCreated + fake.counters.personalAccessTokensCreated + fake.counters.applicationsCreated, 0, 'what an admin made by hand is not counted as API side effects');
  const rotated = await call(fake, '/api/v4/personal_access_tokens/self/rotate', { method: 'POST', token: setup.token });
  t.equal(rotated.status, 200);
  const body = rotated.json;
  t.match(body, { user_id: setup.bot.id, active: true, revoked: false, scopes: ['api'], token: /^glpat-/ });
  t.ok(fake.personalAccessTokens.get(setup.tokenId)!.revoked, 'the old token is revoked');
  const again = await call(fake, '/api/v4/personal_access_tokens/self/rotate', { method: 'POST', token: setup.token });
  t.equal(again.status, 401, 'the old token no longer authenticates');
});

t.test('GET /application/settings is admin only (403 otherwise) and names the settings; active=true users carry x-total', async (t) => {
  const fake = await startFakeGitlab({ termsEnforced: true, userCap: 5, maxTokenLifetimeDays: 30, requireAdminApproval: true });
  t.teardown(() => fake.close());
  const admin = fake.seedAdmin().token;
  const dev = fake.createUser({ username: 'dev', termsAccepted: true });
  fake.createUser({ username: 'gone', state: 'deactivated' });
  const devToken = fake.createPersonalAccessToken(dev.id, { scopes: ['api'] }).token;
  const refused = await call(fake, '/api/v4/application/settings', { token: devToken });
  t.same([refused.status, refused.json], [403, { message: '403 Forbidden' }]);
  const settings = await call(fake, '/api/v4/application/settings', { token: admin });
  t.match(settings.json, { enforce_terms: true, require_admin_approval_after_user_signup: true, new_user_signups_cap: 5, max_personal_access_token_lifetime: 30 });
  const plain = await startFakeGitlab();
  t.teardown(() => plain.close());
  t.match((await call(plain, '/api/v4/application/settings', { token: plain.seedAdmin().token })).json, { enforce_terms: false, new_user_signups_cap: null, max_personal_access_token_lifetime: null });
  const active = await call(fake, '/api/v4/users?active=true&per_page=1', { token: admin });
  t.equal(active.headers.get('x-total'), '2', 'the admin and dev, not the deactivated user');
});

t.test('token lifetimes: EE 16.x with a maximum refuses a token without expires_at (422); 16.5 rotation ignores expires_at (7 days), 16.6 honours it', async (t) => {
  const ee16 = await startFakeGitlab({ version: '16.8.0-ee', maxTokenLifetimeDays: 30 });
  t.teardown(() => ee16.close());
  const admin = ee16.seedAdmin().token;
  const bot = ee16.createUser({ username: 'bot' });
  const path = `/api/v4/users/${String(bot.id)}/personal_access_tokens`;
  const without = await call(ee16, path, { method: 'POST', token: admin, form: { name: 't', scopes: 'api' } });
  t.same([without.status, without.json], [422, { message: `Expiration date must be before ${ee16.dateInDays(30)}` }]);
  const beyond = await call(ee16, path, { method: 'POST', token: admin, form: { name: 't', scopes: 'api', expires_at: ee16.dateInDays(31) } });
  t.equal(beyond.status, 422);
  const within = await call(ee16, path, { method: 'POST', token: admin, form: { name: 't', scopes: 'api', expires_at: ee16.dateInDays(30) } });
  t.same([within.status, within.json?.expires_at], [201, ee16.dateInDays(30)]);

  for (const [version, days] of [['16.5.0', 7], ['16.6.0', 100]] as const) {
    const fake = await startFakeGitlab({ version });
    t.teardown(() => fake.close());
    const owner = fake.createUser({ username: 'bot' });
    const { id, token } = fake.createPersonalAccessToken(owner.id, { scopes: ['api'] });
    const rotated = await call(fake, `/api/v4/personal_access_tokens/${String(id)}/rotate`, { method: 'POST', token, form: { expires_at: fake.dateInDays(100) } });
    t.same([rotated.status, rotated.json?.expires_at], [200, fake.dateInDays(days)], `${version}: ${String(days)} days`);
  }
});

t.test('projects: a Maintainer cannot grant a role above their own (403); a local-network hook URL is refused until the admin allows it (422 Invalid url given)', async (tt) => {
  const fake = await startFakeGitlab();
  tt.teardown(() => fake.close());
  const { user: admin } = fake.seedAdmin();
  const maintainer = fake.createUser({ username: 'maint' });
  const { token } = fake.createPersonalAccessToken(maintainer.id, { scopes: ['api'] });
  const project = createProject(fake, { name: 'p', members: { [maintainer.id]: 40 } });
  const post = (path: string, body: object) => fetch(`${fake.url}/api/v4/projects/${String(project.id)}${path}`, { method: 'POST', headers: { 'private-token': token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  tt.equal((await post('/members', { user_id: admin.id, access_level: 50 })).status, 403);
  tt.equal((await post('/members', { user_id: admin.id, access_level: 30 })).status, 201);
  const local = await post('/hooks', { url: 'http://10.1.2.3/hook', token: 's' });
  tt.equal(local.status, 422);
  tt.same(await local.json(), { message: 'Invalid url given' });
  fake.allowLocalRequestsFromWebHooks = true;
  tt.equal((await post('/hooks', { url: 'http://10.1.2.3/hook', token: 's' })).status, 201);
});

t.test("hook test API: one delivery of the newest merge request with the hook's token (201), no retry on failure (422); 422 without a merge request, 400 for an unknown trigger, Maintainer only", async (tt) => {
  const fake = await startFakeGitlab();
  tt.teardown(() => fake.close());
  fake.allowLocalRequestsFromWebHooks = true;
  const received: Array<{ headers: Record<string, string | string[] | undefined>; body: Json }> = [];
  let answer = 200;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    req.on('end', () => { received.push({ headers: req.headers, body: JSON.parse(body) as Json }); res.writeHead(answer).end(); });
  });
  await new Promise<void>((resolve) => { receiver.listen(0, '127.0.0.1', resolve); });
  tt.teardown(() => new Promise<void>((resolve) => { receiver.close(() => { resolve(); }); }));
  const maintainer = fake.createUser({ username: 'maint' });
  const developer = fake.createUser({ username: 'dev' });
  const token = fake.createPersonalAccessToken(maintainer.id, { scopes: ['api'] }).token;
  const devToken = fake.createPersonalAccessToken(developer.id, { scopes: ['api'] }).token;
  const project = createProject(fake, {
    name: 'p', members: { [maintainer.id]: 40, [developer.id]: 30 },
    mergeRequests: [{ title: 'old', sourceBranch: 'a', targetBranch: 'main', authorId: developer.id }, { title: 'new', sourceBranch: 'b', targetBranch: 'main', authorId: developer.id }],
  });
  const empty = createProject(fake, { name: 'empty', members: { [maintainer.id]: 40 } });
  const { port } = receiver.address() as { port: number };
  const hookOn = async (id: number) => (await call(fake, `/api/v4/projects/${String(id)}/hooks`, { method: 'POST', token, form: { url: `http://127.0.0.1:${String(port)}/h`, token: 'secret', merge_requests_events: 'true' } })).json?.id as number;
  const hook = await hookOn(project.id);
  const test = (id: number, hookId: number, trigger: string, as = token) => call(fake, `/api/v4/projects/${String(id)}/hooks/${String(hookId)}/test/${trigger}`, { method: 'POST', token: as });

  const ok = await test(project.id, hook, 'merge_requests_events');
  tt.same([ok.status, ok.json], [201, { message: '201 Created' }]);
  tt.equal(received.length, 1);
  tt.match(received[0].headers, { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': 'secret', 'idempotency-key': /^[0-9a-f-]{36}$/ });
  tt.match(received[0].body, { object_kind: 'merge_request', project: { id: project.id }, user: { username: 'maint' }, object_attributes: { iid: 2, title: 'new' } });
  answer = 500;
  const failed = await test(project.id, hook, 'merge_requests_events');
  tt.same([failed.status, received.length], [422, 2], 'a failed test is not retried');
  tt.same((await test(empty.id, await hookOn(empty.id), 'merge_requests_events')).json, { message: 'Ensure the project has merge requests.' });
  tt.same([(await test(project.id, hook, 'nonsense')).status, (await test(project.id, hook, 'merge_requests_events', devToken)).status, (await test(project.id, 999, 'merge_requests_events')).status], [400, 403, 404]);
});
