// The bench's floors: what the cached lookup's answer costs without the service. `node` is a bare
// node:http server, `fastify` is Fastify with this service's logger and its line per request
// (src/logger.ts, src/plugins/request-logging.ts) and one route with a querystring and a response
// schema; both answer every request with a constant body shaped like a cached lookup's, no database.
// Between the anchor and the service they show what the HTTP server and the framework cost here.
// Usage: node --import tsx bench/floors.ts <node|fastify> <port>; prints "listening" on stderr (stdout
// takes the log lines) when ready.
import { createServer } from 'node:http';
import Fastify from 'fastify';
import { createLogger } from '../src/logger.js';
import { OneLinePerRequest } from '../src/plugins/request-logging.js';

const [mode, port] = process.argv.slice(2);
const ANSWER = {
  url: 'https://gitlab-0.bench.example',
  status: 'ready',
  next: 'login',
  callbackUrl: 'http://127.0.0.1:3000/auth/gitlab/callback/mjiDjq0Sa4UhfwsbmJK9Z2',
  instanceId: 'ad797ac2-39e5-497d-b3aa-6a419032e7b9',
  loginUrl: 'http://127.0.0.1:3000/auth/gitlab/start?instance=ad797ac2-39e5-497d-b3aa-6a419032e7b9',
};
const listening = () => process.stderr.write('listening\n');

if (mode === 'node') {
  const body = JSON.stringify(ANSWER);
  createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(body);
  }).listen(Number(port), '127.0.0.1', listening);
} else if (mode === 'fastify') {
  const logger = createLogger('info');
  const app = Fastify({ loggerInstance: logger, logController: new OneLinePerRequest(logger) });
  const text = { type: 'string' } as const;
  app.get('/instances/lookup', {
    schema: {
      querystring: { type: 'object', properties: { url: text }, required: ['url'] },
      response: { 200: { type: 'object', properties: { url: text, status: text, next: text, callbackUrl: text, instanceId: text, loginUrl: text } } },
    },
    handler: () => Promise.resolve(ANSWER),
  });
  await app.listen({ port: Number(port), host: '127.0.0.1' });
  listening();
} else {
  throw new Error(`bench/floors.ts: unknown mode "${mode}" (node or fastify)`);
}
