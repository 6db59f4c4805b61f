// GET /metrics (Prometheus text format, internal token) and the hooks that count every answer: requests
// by route pattern, and bootstraps and logins by outcome and problem code.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import Type from 'typebox';
import { AUTH_PATHS } from '../auth-paths.js';
import { errorCatalog } from '../errors.js';
import type { Metrics } from '../metrics/registry.js';
import { problemResponses } from '../schemas/problem.js';
import { registerInternalAuth } from './internal-auth.js';
import { SESSION_COOKIE } from './session-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The `code` of the problem this request was answered with, if any. */
    problemCode?: string;
  }
}

/** A code from the catalogue, else `other`: a label never takes a value the client chose. */
function knownCode(code: unknown): string {
  return typeof code === 'string' && Object.hasOwn(errorCatalog, code) ? code : 'other';
}

function problemCodeOf(reply: FastifyReply, payload: unknown): string | undefined {
  if (typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').startsWith('application/problem+json')) return undefined;
  try {
    return knownCode((JSON.parse(payload) as { code?: unknown }).code);
  } catch {
    return 'other';
  }
}

/** Both redirect URIs a login comes back on: the instance's own, and the shared one of older applications. */
const LOGIN_CALLBACK_ROUTES = new Set([AUTH_PATHS.callback, `${AUTH_PATHS.callback}/:key`]);

/** The login callback succeeded when it set a session cookie; else its code is the problem's or the `?error=` of the redirect to the frontend. */
function loginOutcome(request: FastifyRequest, reply: FastifyReply): { outcome: string; code: string } {
  const cookies = [reply.getHeader('set-cookie') ?? []].flat().map(String);
  if (cookies.some((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`) && !cookie.startsWith(`${SESSION_COOKIE}=;`))) return { outcome: 'success', code: 'none' };
  if (request.problemCode) return { outcome: 'failure', code: request.problemCode };
  const location = String(reply.getHeader('location') ?? '');
  return { outcome: 'failure', code: knownCode(URL.canParse(location) ? new URL(location).searchParams.get('error') : undefined) };
}

function countAnswer(metrics: Metrics, request: FastifyRequest, reply: FastifyReply): void {
  const route = request.routeOptions.url ?? 'unmatched';
  const labels = { method: request.method, route, status: String(reply.statusCode) };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  if (request.method === 'POST' && route === '/instances/bootstrap') {
    metrics.bootstraps.inc(reply.statusCode < 400 ? { outcome: 'success', code: 'none' } : { outcome: 'failure', code: request.problemCode ?? 'other' });
  }
  if (request.method === 'GET' && LOGIN_CALLBACK_ROUTES.has(route)) metrics.logins.inc(loginOutcome(request, reply));
}

function metricsRoute(app: FastifyInstance, { metrics }: { metrics: Metrics }): Promise<void> {
  registerInternalAuth(app);
  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['service'],
      summary: 'Prometheus metrics',
      description:
        'Prometheus text format: HTTP requests and latencies by route pattern and status, GitLab calls by operation and outcome, bootstraps and logins by outcome and problem code, instances by status, user token refreshes and bot token rotations by outcome, and process metrics. No label carries an instance id or URL.',
      security: [{ internalBearer: [] }],
      response: {
        200: { description: 'The metrics', content: { 'text/plain': { schema: Type.String() } } },
        ...problemResponses('internal_unauthorized'),
      },
    },
    handler: async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  });
  return Promise.resolve();
}

export default fp(
  async function metricsPlugin(app: FastifyInstance, { metrics }: { metrics: Metrics }) {
    app.decorateRequest('problemCode', undefined);
    // Sync hooks: an async hook costs a promise and a microtask turn on every request.
    app.addHook('onSend', (request, reply, payload, done) => {
      const code = problemCodeOf(reply, payload);
      if (code) request.problemCode = code;
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      countAnswer(metrics, request, reply);
      done();
    });
    // Named, encapsulation kept: see the route plugins in app.ts.
    await app.register(fp(metricsRoute, { name: 'metricsRoute', encapsulate: true }), { metrics });
  },
  { name: 'metrics', dependencies: ['errors'] },
);
