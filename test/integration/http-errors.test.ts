// HTTP-level refusals in RFC 9457 form: a wrong method on a known path (405 with Allow), a 4xx that is
// not ours keeps its status, and HTTP too malformed to become a request (sent over a raw TCP socket).
import { connect, type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { buildTestApp } from '../helpers/app.js';

t.test('a wrong method on a known path is 405 method_not_allowed with an Allow header', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'DELETE', url: '/instances/lookup?url=x' });
  t.equal(response.statusCode, 405);
  t.match(response.headers['content-type'], /^application\/problem\+json/);
  t.match(response.json(), { code: 'method_not_allowed', status: 405, detail: /\/instances\/lookup does not answer DELETE/ });
  // OPTIONS: the CORS plugin answers preflight requests on every path.
  t.equal(response.headers.allow, 'GET, HEAD, OPTIONS');
  const withParams = await app.inject({ method: 'PUT', url: '/internal/instances/0b7e0c52-4a8f-4d7e-9a40-6f3d2e1c9b11' });
  t.equal(withParams.statusCode, 405, 'paths with parameters are known too');
  t.match(String(withParams.headers.allow), /GET.*DELETE|DELETE.*GET/);
  t.equal((await app.inject({ method: 'DELETE', url: '/no/such/route' })).statusCode, 404, 'an unknown path stays 404');
});

t.test('a 4xx raised by Fastify or a plugin keeps its status instead of becoming validation_failed', async (t) => {
  const { app } = await buildTestApp(t);
  app.get('/teapot', () => Promise.reject(Object.assign(new Error('short and stout'), { statusCode: 418 })));
  app.get('/not-acceptable', () => Promise.reject(Object.assign(new Error('no such representation'), { statusCode: 406 })));
  const teapot = await app.inject('/teapot');
  t.equal(teapot.statusCode, 418);
  t.match(teapot.json(), { code: 'client_error', status: 418, detail: 'short and stout' });
  const notAcceptable = await app.inject('/not-acceptable');
  t.equal(notAcceptable.statusCode, 406);
  t.match(notAcceptable.json(), { code: 'client_error', status: 406 });
});

/** Sends raw bytes to the listening app and resolves with everything it answers before closing. */
async function rawExchange(t: Test, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const { app } = await buildTestApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const answer = await new Promise<string>((resolve, reject) => {
    let received = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    socket.on('close', () => { resolve(received); });
    socket.on('error', (error: NodeJS.ErrnoException) => { if (error.code === 'ECONNRESET') resolve(received); else reject(error); });
  });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head, body };
}

t.test('a malformed request line gets a 400 malformed_request problem, not Fastify default JSON', async (t) => {
  const { status, headers, body } = await rawExchange(t, 'GARBAGE / NOT-HTTP\r\n\r\n');
  t.equal(status, 400);
  t.match(headers, /content-type: application\/problem\+json/i);
  t.match(JSON.parse(body), { code: 'malformed_request', status: 400, type: 'urn:gitlab-connect:problem:malformed_request', detail: String });
});

t.test('headers over the size limit get a 431 request_headers_too_large problem', async (t) => {
  const { status, headers, body } = await rawExchange(t, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
  t.equal(status, 431);
  t.match(headers, /content-type: application\/problem\+json/i);
  t.match(JSON.parse(body), { code: 'request_headers_too_large', status: 431 });
});
