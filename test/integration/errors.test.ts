// Every error becomes application/problem+json with a stable code; a 500 leaks nothing.
import t from 'tap';
import Type from 'typebox';
import { buildTestApp } from '../helpers/app.js';

async function appWithProbeRoutes(t: Parameters<typeof buildTestApp>[0]) {
  const built = await buildTestApp(t);
  built.app.post('/probe', { schema: { body: Type.Object({ name: Type.String({ minLength: 2 }) }, { additionalProperties: false }) } }, () => Promise.resolve({ ok: true }));
  built.app.get('/boom', () => Promise.reject(new Error('database password is hunter2 at /srv/secret.ts:12')));
  return built;
}

t.test('schema failures name the failing fields', async (t) => {
  const { app } = await appWithProbeRoutes(t);
  const response = await app.inject({ method: 'POST', url: '/probe', payload: { name: 'x' } });
  t.equal(response.statusCode, 400);
  t.match(response.headers['content-type'], /^application\/problem\+json/);
  t.match(response.json(), { code: 'validation_failed', status: 400, title: String, detail: /body\.name/, errors: [{ field: 'body.name', message: /fewer than 2/ }] });
});

t.test('unknown body fields are refused, not dropped', async (t) => {
  const { app } = await appWithProbeRoutes(t);
  const response = await app.inject({ method: 'POST', url: '/probe', payload: { name: 'ok', admin: true } });
  t.equal(response.statusCode, 400);
  t.match(response.json(), { code: 'validation_failed', errors: [{ field: 'body.admin' }] });
});

t.test('a body that is not JSON, too large, or of another type gets its own code', async (t) => {
  const { app } = await appWithProbeRoutes(t);
  const notJson = await app.inject({ method: 'POST', url: '/probe', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
  t.match(notJson.json(), { status: 400, code: 'invalid_json' });
  const tooLarge = await app.inject({ method: 'POST', url: '/probe', payload: { name: 'x'.repeat(70 * 1024) } });
  t.match(tooLarge.json(), { status: 413, code: 'payload_too_large' });
  const otherType = await app.inject({ method: 'POST', url: '/probe', headers: { 'content-type': 'text/csv' }, payload: 'a,b' });
  t.match(otherType.json(), { status: 415, code: 'unsupported_media_type' });
});

t.test('an unknown route is a not_found problem', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/no/such/route?token=abc' });
  t.equal(response.statusCode, 404);
  t.match(response.headers['content-type'], /^application\/problem\+json/);
  t.match(response.json(), { code: 'not_found', detail: /^No route GET \/no\/such\/route\. Check the path and the method against the OpenAPI document/ });
});

t.test('a 500 says internal_error, logs the error once with the request id, and leaks nothing', async (t) => {
  const { app, logs } = await appWithProbeRoutes(t);
  const response = await app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'req-500-test' } });
  t.equal(response.statusCode, 500);
  t.equal(response.headers['x-request-id'], 'req-500-test');
  const body = response.json();
  t.match(body, { code: 'internal_error', status: 500, requestId: 'req-500-test' });
  t.notMatch(response.body, /hunter2|secret\.ts|at /);
  const errorLines = logs.lines.map((line) => JSON.parse(line)).filter((line) => line.level >= 50);
  t.equal(errorLines.length, 1, 'logged once');
  t.equal(errorLines[0].reqId, 'req-500-test');
  t.match(errorLines[0].err.message, /hunter2/, 'the log keeps the cause for operators');
});

t.test('an incoming x-request-id is honoured and a malformed one replaced', async (t) => {
  const { app } = await buildTestApp(t);
  const honoured = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
  t.equal(honoured.headers['x-request-id'], 'abc-123');
  const replaced = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\twith spaces' } });
  t.match(replaced.headers['x-request-id'], /^[0-9a-f-]{36}$/);
});

t.test('secrets in headers and query strings never reach the log', async (t) => {
  const { app, logs } = await buildTestApp(t, { LOG_LEVEL: 'trace' });
  app.post('/echo', () => Promise.resolve({ ok: true }));
  await app.inject({
    method: 'POST',
    url: '/echo?code=oauth-code-secret&state=state-secret&url=x',
    headers: { authorization: 'Bearer header-secret-1', cookie: 'gc_session=cookie-secret-2', 'private-token': 'glpat-header-secret-3' },
    payload: { adminToken: 'glpat-body-secret-4' },
  });
  app.log.info({ adminToken: 'glpat-field-secret-5', nested: { refreshToken: 'refresh-secret-6' } }, 'a line with token fields');
  const requestLines = logs.lines.filter((line) => /"msg":"(incoming request|request completed)"/.test(line));
  t.equal(requestLines.length, 1, 'the request was logged, in one line');
  const requestLine = JSON.parse(requestLines[0]) as { res: object };
  t.match(requestLine, { reqId: String, req: { method: 'POST' }, res: { statusCode: 200 }, responseTime: Number }, 'with its id, method, status and time');
  t.same(Object.keys(requestLine.res), ['statusCode'], 'the reply as its serializer writes it');
  for (const secret of ['oauth-code-secret', 'state-secret', 'header-secret-1', 'cookie-secret-2', 'glpat-header-secret-3', 'glpat-body-secret-4', 'glpat-field-secret-5', 'refresh-secret-6']) {
    t.notMatch(logs.text, secret, `${secret} is not logged`);
  }
  t.match(logs.text, /\/echo\?code=%5Bredacted%5D&state=%5Bredacted%5D&url=x/);
});
