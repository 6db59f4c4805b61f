// REST routes for instance-wide OAuth applications (admin only): list, create, delete, renew the secret.
import { requireAdmin } from './auth.js';
import { application } from './entities.js';
import type { Ctx, Reply, Route } from './http.js';
import { bool, json, message, paginated, paramText, str, validationError } from './http.js';
import { ALL_SCOPES } from './state.js';

const API = '/api/v4';
const FORBIDDEN_SCHEMES = ['javascript:', 'data:', 'vbscript:'];

function list(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const apps = [...ctx.fake.applications.values()].map((app) => application(app));
  // GitLab lists every instance-wide application in one answer, unpaginated (lib/api/applications.rb:
  // `present ApplicationsFinder.new.execute`, no `paginate`); only the malicious mode pages it.
  return ctx.fake.pagedApplications ? paginated(ctx, apps) : json(200, apps);
}

/** Doorkeeper's redirect_uri validation, one URI per whitespace-separated entry. */
function redirectUriProblem(value: string): string | null {
  for (const uri of value.split(/\s+/).filter(Boolean)) {
    if (FORBIDDEN_SCHEMES.some((s) => uri.toLowerCase().startsWith(s))) return 'is forbidden by the server.';
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return /^[a-z][a-z0-9+.-]*:/i.test(uri) ? 'must be a valid URI.' : 'must be an absolute URI.';
    }
    if (parsed.hash) return 'cannot contain a fragment.';
  }
  return null;
}

function create(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const p = ctx.params;
  const name = str(p, 'name');
  const redirectUri = str(p, 'redirect_uri');
  const scopesRaw = p.scopes;
  const problems: string[] = [];
  if (!name) problems.push('name is missing');
  if (!redirectUri) problems.push('redirect_uri is missing');
  if (scopesRaw === undefined || scopesRaw === null) problems.push('scopes is missing, scopes is empty');
  else if (paramText(scopesRaw).trim() === '') problems.push('scopes is empty');
  if (problems.length) return validationError(problems);
  const uriProblem = redirectUriProblem(redirectUri as string);
  if (uriProblem) return message(400, { redirect_uri: [uriProblem] });
  // The API takes a space-separated string; an array is tolerated as Grape would stringify it badly anyway.
  const scopes = (Array.isArray(scopesRaw) ? scopesRaw.map(String) : paramText(scopesRaw ?? '').split(/\s+/)).filter(Boolean);
  if (scopes.some((s) => !ALL_SCOPES.includes(s))) return message(400, { scopes: ["doesn't match configured on the server."] });
  const app = ctx.fake.createApplication({
    name: name as string, redirectUri: redirectUri as string, scopes, confidential: bool(p, 'confidential', true),
  });
  ctx.fake.counters.applicationsCreated++;
  return json(201, application(app, true));
}

function remove(ctx: Ctx): Reply {
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  if (!ctx.fake.deleteApplication(Number(ctx.match[1]))) return message(404, '404 Application Not Found');
  ctx.fake.counters.applicationsDeleted++;
  return { status: 204 };
}

/**
 * POST /applications/:id/renew-secret (lib/api/applications.rb, added by gitlab-org/gitlab!146989 in
 * GitLab 16.11; before, no route matches: Grape's 404): a new secret, the old one refused from then
 * on; 201 (Grape's default for a POST) with ApplicationWithSecret.
 */
function renewSecret(ctx: Ctx): Reply {
  if (!ctx.fake.atLeast(16, 11)) return json(404, { error: '404 Not Found' });
  const result = requireAdmin(ctx);
  if (!result.ok) return result.reply;
  const app = ctx.fake.renewApplicationSecret(Number(ctx.match[1]));
  if (!app) return message(404, '404 Application Not Found');
  ctx.fake.counters.applicationSecretsRenewed++;
  return json(201, application(app, true));
}

export const applicationRoutes: Route[] = [
  { method: 'GET', pattern: new RegExp(`^${API}/applications$`), handler: list },
  { method: 'POST', pattern: new RegExp(`^${API}/applications$`), handler: create },
  { method: 'DELETE', pattern: new RegExp(`^${API}/applications/(\\d+)$`), handler: remove },
  { method: 'POST', pattern: new RegExp(`^${API}/applications/(\\d+)/renew-secret$`), handler: renewSecret },
];
