// The HTTP(S) server: relative root, latency, fault injection, routing and the request log.
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { applicationRoutes } from './api-applications.js';
import { findCredential } from './auth.js';
import { settingsRoutes } from './api-settings.js';
import { hookTestRoutes } from './api-hook-test.js';
import { projectRoutes } from './api-projects.js';
import { tokenRoutes } from './api-tokens.js';
import { userRoutes } from './api-users.js';
import { faultReply, isDelayOnly, pickFault } from './faults.js';
import { frontReply, type FakeFront } from './front.js';
import type { Ctx, Reply, Route } from './http.js';
import { json, notFoundPage, parseBody, readBody } from './http.js';
import { authorizeRoutes } from './oauth-authorize.js';
import { tokenEndpointRoutes } from './oauth-token.js';
import { oidcRoutes } from './oidc.js';
import type { FakeState } from './state.js';

const routes: Route[] = [...userRoutes, ...projectRoutes, ...hookTestRoutes, ...tokenRoutes, ...applicationRoutes, ...settingsRoutes, ...oidcRoutes, ...authorizeRoutes, ...tokenEndpointRoutes];

export interface ServerConfig {
  relativeRoot: string;
  tls?: { key: string; cert: string };
  /** Something in front of GitLab that answers every request instead of it. */
  front?: FakeFront;
}

/** Paths below the root; anything else is not GitLab's to answer. */
function relativePath(fullPath: string, root: string): string | null {
  if (!root) return fullPath;
  if (fullPath === root) return '/';
  return fullPath.startsWith(`${root}/`) ? fullPath.slice(root.length) : null;
}

async function route(fake: FakeState, req: IncomingMessage, path: string, query: URLSearchParams): Promise<Reply> {
  const method = (req.method ?? 'GET').toUpperCase();
  const candidates = routes.filter((r) => r.pattern.test(path));
  const found = candidates.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
  if (!found) {
    // Grape answers 405 for a known path with another verb, and its route-not-found body otherwise; Rails an HTML 404.
    if (!path.startsWith('/api/')) return notFoundPage();
    return candidates.length ? json(405, { error: '405 Not Allowed' }, { allow: [...new Set(candidates.map((r) => r.method))].join(', ') }) : json(404, { error: '404 Not Found' });
  }
  const raw = await readBody(req);
  const params = { ...Object.fromEntries(query), ...parseBody(raw, req.headers['content-type']) };
  const ctx: Ctx = { method, path, query, headers: req.headers, params, match: found.pattern.exec(path) ?? [], fake };
  return found.handler(ctx);
}

function send(res: ServerResponse, method: string, reply: Reply): void {
  const correlationId = randomUUID().replace(/-/g, '').slice(0, 26);
  // The undocumented headers third-party detectors use to recognise GitLab (facts §1, "Other fingerprints").
  res.setHeader('x-gitlab-meta', JSON.stringify({ correlation_id: correlationId, version: '1' }));
  res.setHeader('x-request-id', correlationId);
  res.setHeader('x-runtime', '0.004');
  res.writeHead(reply.status, reply.headers ?? {});
  res.end(method === 'HEAD' ? undefined : reply.body);
}

export function createServer(fake: FakeState, config: ServerConfig): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const log = { method, path: url.pathname, status: 0, token: findCredential(req.headers, url.searchParams)?.value ?? null };
    fake.requests.push(log);
    // When GitLab got the request and finished its answer: sequentialDepth() reads the chain of calls from these.
    const timing: { startedAt: number; endedAt: number | null } = { startedAt: performance.now(), endedAt: null };
    fake.timings.push(timing);
    res.once('close', () => { timing.endedAt = performance.now(); });
    try {
      if (fake.latencyMs > 0) await sleep(fake.latencyMs);
      if (config.front) {
        const reply = frontReply(config.front, req.url ?? '/');
        log.status = reply.status;
        send(res, method, reply); return;
      }
      const path = relativePath(url.pathname, config.relativeRoot);
      if (path === null) {
        log.status = 404;
        send(res, method, notFoundPage()); return;
      }
      const fault = pickFault(fake, method, path, url.pathname);
      // A fault "after acting" lets GitLab do the work first, then loses (or delays) its answer.
      const acted = fault?.afterActing ? await route(fake, req, path, url.searchParams) : null;
      if (fault?.delayMs) await sleep(fault.delayMs);
      if (fault?.hold) {
        fault.arrived();
        await fault.released;
      }
      if (fault?.drop) {
        req.socket.destroy();
        return;
      }
      const reply = acted ?? (fault && !isDelayOnly(fault) ? faultReply(fake, fault) : await route(fake, req, path, url.searchParams));
      log.status = reply.status;
      send(res, method, reply);
    } catch (error) {
      process.stderr.write(`fake-gitlab: ${String((error as Error).stack ?? error)}\n`);
      log.status = 500;
      if (!res.headersSent) send(res, method, json(500, { message: '500 Internal Server Error' }));
    }
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
  return config.tls ? createHttpsServer({ key: config.tls.key, cert: config.tls.cert }, listener) : createHttpServer(listener);
}
