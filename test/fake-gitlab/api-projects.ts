// Projects, members and project hooks as GitLab's API has them, and webhook deliveries with GitLab's
// headers and retries. Sources (gitlabhq/gitlabhq): lib/api/projects.rb (GET /projects with membership
// and min_access_level), lib/api/members.rb + app/services/members/create_service.rb (a member cannot
// grant a level above their own: 403), lib/api/project_hooks.rb (Maintainer; 422 "Invalid url given"
// when the URL validator refuses it, e.g. a local network address while "Allow requests to the local
// network from webhooks and integrations" is off), app/services/web_hook_service.rb (the delivery
// headers; REQUEST_BODY_SIZE_LIMIT 25 MiB), app/workers/web_hook_worker.rb (retry: 4) and
// app/models/concerns/web_hooks/auto_disabling.rb (4 failures in a row: temporarily disabled). The hook
// test API is in api-hook-test.ts.
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { authenticate, forbidden, scopesFor } from './auth.js';
import type { Ctx, Reply, Route } from './http.js';
import { json, message, paginated, str } from './http.js';
import type { FakeState } from './state.js';

const API = '/api/v4';

export interface FakeHook {
  id: number;
  url: string;
  token: string | null;
  mergeRequestsEvents: boolean;
  noteEvents: boolean;
  enableSslVerification: boolean;
  /** Consecutive failed deliveries; 4 make the hook temporarily disabled. */
  failures: number;
  disabledUntil: Date | null;
}

/** A merge request, as much of it as a hook test sends. */
export interface FakeMergeRequest {
  iid: number;
  title: string;
  sourceBranch: string;
  targetBranch: string;
  authorId: number;
}

export interface FakeProject {
  id: number;
  name: string;
  pathWithNamespace: string;
  /** user id → access level (10 Guest, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner). */
  members: Map<number, number>;
  hooks: Map<number, FakeHook>;
  /** Oldest first; a hook test of merge_requests_events sends the newest. */
  mergeRequests: FakeMergeRequest[];
}

export interface DeliveryAttempt {
  hookId: number;
  status: number | 'network_error';
  idempotencyKey: string;
  eventUuid: string;
}

let nextHookId = 1;

/** A project with its members (user id → access level) and, optionally, open merge requests (iid 1, 2, …). */
export function createProject(
  fake: FakeState,
  input: { name: string; namespace?: string; members?: Record<number, number>; mergeRequests?: Omit<FakeMergeRequest, 'iid'>[] },
): FakeProject {
  const id = fake.projects.size + 1;
  const project: FakeProject = {
    id, name: input.name, pathWithNamespace: `${input.namespace ?? 'group'}/${input.name}`,
    members: new Map(Object.entries(input.members ?? {}).map(([user, level]) => [Number(user), level])), hooks: new Map(),
    mergeRequests: (input.mergeRequests ?? []).map((mergeRequest, index) => ({ ...mergeRequest, iid: index + 1 })),
  };
  fake.projects.set(id, project);
  return project;
}

const hookView = (hook: FakeHook, now: Date) => ({
  id: hook.id, url: hook.url, merge_requests_events: hook.mergeRequestsEvents, note_events: hook.noteEvents,
  enable_ssl_verification: hook.enableSslVerification,
  alert_status: hook.disabledUntil && hook.disabledUntil > now ? 'temporarily_disabled' : 'executable',
  disabled_until: hook.disabledUntil?.toISOString() ?? null,
});

function projectView(fake: FakeState, project: FakeProject, level: number) {
  return {
    id: project.id, name: project.name, path_with_namespace: project.pathWithNamespace,
    web_url: `${fake.issuer}/${project.pathWithNamespace}`,
    permissions: { project_access: level > 0 ? { access_level: level, notification_level: 3 } : null, group_access: null },
  };
}

/** The authenticated user and the project they can see (a member, or an admin), or GitLab's reply. */
export function withProject(ctx: Ctx, minLevel: number): { ok: true; project: FakeProject; level: number; userId: number } | { ok: false; reply: Reply } {
  const auth = authenticate(ctx, scopesFor(ctx));
  if (!auth.ok) return auth;
  const project = ctx.fake.projects.get(Number(ctx.match[1]));
  const level = project?.members.get(auth.auth.user.id) ?? (auth.auth.user.admin ? 50 : 0);
  if (!project || level === 0) return { ok: false, reply: message(404, '404 Project Not Found') };
  if (level < minLevel) return { ok: false, reply: forbidden() };
  return { ok: true, project, level, userId: auth.auth.user.id };
}

function listProjects(ctx: Ctx): Reply {
  const auth = authenticate(ctx, scopesFor(ctx));
  if (!auth.ok) return auth.reply;
  const minLevel = Number(ctx.query.get('min_access_level') ?? 0);
  const search = (ctx.query.get('search') ?? '').toLowerCase();
  const visible = [...ctx.fake.projects.values()]
    .map((project) => ({ project, level: project.members.get(auth.auth.user.id) ?? 0 }))
    .filter(({ project, level }) => level > 0 && level >= minLevel && (!search || project.pathWithNamespace.toLowerCase().includes(search)));
  return paginated(ctx, visible.map(({ project, level }) => projectView(ctx.fake, project, level)));
}

function getProject(ctx: Ctx): Reply {
  const found = withProject(ctx, 10);
  return found.ok ? json(200, projectView(ctx.fake, found.project, found.level)) : found.reply;
}

function getMember(ctx: Ctx): Reply {
  const found = withProject(ctx, 10);
  if (!found.ok) return found.reply;
  const userId = Number(ctx.match[2]);
  const level = found.project.members.get(userId);
  const user = ctx.fake.users.get(userId);
  if (level === undefined || !user) return message(404, '404 Not found');
  return json(200, { id: user.id, username: user.username, access_level: level });
}

function addMember(ctx: Ctx): Reply {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  const userId = Number(str(ctx.params, 'user_id'));
  const level = Number(str(ctx.params, 'access_level'));
  const user = ctx.fake.users.get(userId);
  if (!user) return message(404, '404 User Not Found');
  // Members::CreateService: nobody grants a role above their own.
  if (level > found.level) return forbidden();
  if (found.project.members.has(userId)) return message(409, 'Member already exists');
  found.project.members.set(userId, level);
  return json(201, { id: user.id, username: user.username, access_level: level });
}

function removeMember(ctx: Ctx): Reply {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  if (!found.project.members.delete(Number(ctx.match[2]))) return message(404, '404 Not found');
  return { status: 204 };
}

function isLocalUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return true;
  }
  if (host === 'localhost' || host.endsWith('.local')) return true;
  if (!isIP(host)) return false;
  return /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|0\.)/.test(host) || host === '::1';
}

function listHooks(ctx: Ctx): Reply {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  return paginated(ctx, [...found.project.hooks.values()].map((hook) => hookView(hook, ctx.fake.now())));
}

function createHook(ctx: Ctx): Reply {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  const url = str(ctx.params, 'url') ?? '';
  if (!/^https?:\/\//.test(url) || (isLocalUrl(url) && !ctx.fake.allowLocalRequestsFromWebHooks)) return message(422, 'Invalid url given');
  const hook: FakeHook = {
    id: nextHookId++, url, token: str(ctx.params, 'token') ?? null,
    mergeRequestsEvents: str(ctx.params, 'merge_requests_events') === 'true', noteEvents: str(ctx.params, 'note_events') === 'true',
    enableSslVerification: str(ctx.params, 'enable_ssl_verification') !== 'false', failures: 0, disabledUntil: null,
  };
  found.project.hooks.set(hook.id, hook);
  ctx.fake.counters.hooksCreated++;
  return json(201, hookView(hook, ctx.fake.now()));
}

function deleteHook(ctx: Ctx): Reply {
  const found = withProject(ctx, 40);
  if (!found.ok) return found.reply;
  if (!found.project.hooks.delete(Number(ctx.match[2]))) return message(404, '404 Not found');
  return { status: 204 };
}

/** X-Gitlab-Event per object_kind the fake delivers (WebHookService: the hook name, titleized, plus " Hook"). */
export const EVENT_HEADER = { merge_request: 'Merge Request Hook', note: 'Note Hook' } as const;

async function attempt(url: string, headers: Record<string, string>, body: string): Promise<number | 'network_error'> {
  try {
    const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 'network_error';
  }
}

/** The hook is temporarily disabled (WebHooks::AutoDisabling) and not executed. */
export const isDisabled = (fake: FakeState, hook: FakeHook) => hook.disabledUntil !== null && hook.disabledUntil > fake.now();

/**
 * One event to one hook with GitLab's headers: up to 1 + `retries` attempts with the same
 * Idempotency-Key and X-Gitlab-Event-UUID (a new X-Gitlab-Webhook-UUID each time); 4 failures in a
 * row disable the hook for a minute. `resolve` maps the hook URL to where the receiver really listens
 * (the test's DNS), asked again for each attempt, so a retry can reach another process.
 */
export async function deliver(fake: FakeState, hook: FakeHook, resolve: (url: string) => string, kind: keyof typeof EVENT_HEADER, body: string, retries: number): Promise<DeliveryAttempt[]> {
  const attempts: DeliveryAttempt[] = [];
  const idempotencyKey = randomUUID();
  const eventUuid = randomUUID();
  for (let retry = 0; retry <= retries; retry++) {
    const headers: Record<string, string> = {
      'content-type': 'application/json', 'user-agent': `GitLab/${fake.version}`, 'idempotency-key': idempotencyKey,
      'x-gitlab-event': EVENT_HEADER[kind], 'x-gitlab-webhook-uuid': randomUUID(), 'x-gitlab-event-uuid': eventUuid, 'x-gitlab-instance': fake.issuer,
      ...(hook.token ? { 'x-gitlab-token': hook.token } : {}),
    };
    const status = await attempt(resolve(hook.url), headers, body);
    attempts.push({ hookId: hook.id, status, idempotencyKey, eventUuid });
    const ok = typeof status === 'number' && status < 400;
    hook.failures = ok ? 0 : hook.failures + 1;
    if (hook.failures >= 4) hook.disabledUntil = new Date(fake.now().getTime() + 60_000);
    if (ok || hook.failures >= 4) break;
  }
  return attempts;
}

/** The body of a `kind` event on `project`: GitLab's object_kind and project, then the payload. */
export const eventBody = (project: FakeProject, kind: keyof typeof EVENT_HEADER, payload: object) =>
  JSON.stringify({ object_kind: kind, project: { id: project.id, path_with_namespace: project.pathWithNamespace }, ...payload });

/**
 * GitLab triggering `kind` on a project: each executable hook subscribed to it gets a POST with
 * GitLab's headers; a failure is retried (WebHookWorker retry: 4). `rewrite` maps a hook URL to where
 * the receiver really listens (the test's DNS).
 */
export async function triggerEvent(fake: FakeState, projectId: number, kind: keyof typeof EVENT_HEADER, payload: object, rewrite: (url: string) => string = (url) => url): Promise<DeliveryAttempt[]> {
  const project = fake.projects.get(projectId);
  if (!project) throw new Error(`no project ${String(projectId)}`);
  const attempts: DeliveryAttempt[] = [];
  for (const hook of project.hooks.values()) {
    if (!(kind === 'note' ? hook.noteEvents : hook.mergeRequestsEvents) || isDisabled(fake, hook)) continue;
    attempts.push(...(await deliver(fake, hook, rewrite, kind, eventBody(project, kind, payload), 4)));
  }
  return attempts;
}

const P = `^${API}/projects/(\\d+)`;
export const projectRoutes: Route[] = [
  { method: 'GET', pattern: new RegExp(`^${API}/projects$`), handler: listProjects },
  { method: 'GET', pattern: new RegExp(`${P}$`), handler: getProject },
  { method: 'GET', pattern: new RegExp(`${P}/members/all/(\\d+)$`), handler: getMember },
  { method: 'POST', pattern: new RegExp(`${P}/members$`), handler: addMember },
  { method: 'DELETE', pattern: new RegExp(`${P}/members/(\\d+)$`), handler: removeMember },
  { method: 'GET', pattern: new RegExp(`${P}/hooks$`), handler: listHooks },
  { method: 'POST', pattern: new RegExp(`${P}/hooks$`), handler: createHook },
  { method: 'DELETE', pattern: new RegExp(`${P}/hooks/(\\d+)$`), handler: deleteHook },
];
