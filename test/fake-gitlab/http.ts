// Request context, parameter parsing and the reply helpers that reproduce GitLab's three error body shapes.
import type { IncomingMessage } from 'node:http';
import type { FakeState } from './state.js';

export type ParamValue = string | string[] | number | boolean | null | object;

export interface Ctx {
  method: string;
  /** Path below the relative root, e.g. '/api/v4/user'. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Query and body merged (body wins), as Grape and Rails see them. */
  params: Partial<Record<string, ParamValue>>;
  /** Regex captures of the matched route. */
  match: string[];
  fake: FakeState;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type Handler = (ctx: Ctx) => Reply | Promise<Reply>;

export interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/**
 * GitLab's offset pagination (gitlab-facts §8): `page` (1) and `per_page` (20, at most 100), with
 * x-page, x-per-page, x-next-page (empty on the last page), x-prev-page, x-total, x-total-pages.
 */
export function paginated(ctx: Ctx, items: unknown[]): Reply {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page')) || 20));
  const page = Math.max(1, Number(ctx.query.get('page')) || 1);
  const totalPages = Math.max(1, Math.ceil(items.length / perPage));
  return json(200, items.slice((page - 1) * perPage, page * perPage), {
    'x-page': String(page),
    'x-per-page': String(perPage),
    'x-next-page': page < totalPages ? String(page + 1) : '',
    'x-prev-page': page > 1 ? String(page - 1) : '',
    'x-total': String(items.length),
    'x-total-pages': String(totalPages),
  });
}

export function html(status: number, title: string, text: string): Reply {
  const body = `<!DOCTYPE html>\n<html><head><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>\n`;
  return { status, headers: { 'content-type': 'text/html; charset=utf-8' }, body };
}

export function redirect(location: string): Reply {
  return { status: 302, headers: { location, 'content-type': 'text/html; charset=utf-8' }, body: `<html><body>You are being <a href="${escapeHtml(location)}">redirected</a>.</body></html>` };
}

/** Grape helpers' shape (M): {"message": ...}. */
export function message(status: number, msg: unknown): Reply {
  return json(status, { message: msg });
}

/** OAuth / rack-oauth2 shape (E). */
export function oauthError(status: number, error: string, description: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Reply {
  return json(status, { error, error_description: description, ...extra }, headers);
}

/** Grape parameter validation shape (G): {"error":"x is missing, y is empty"}. */
export function validationError(problems: string[]): Reply {
  return json(400, { error: problems.join(', ') });
}

export const notFoundPage = (): Reply => html(404, 'The page could not be found (404)', 'Make sure the address is correct and the page has not moved.');

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

/** A param as a trimmed string, or undefined when absent. */
export function str(params: Partial<Record<string, ParamValue>>, key: string): string | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  return paramText(v);
}

/** A param value as text: a list joined by commas, an object as JSON, anything else through String(). */
export function paramText(v: ParamValue): string {
  if (Array.isArray(v)) return v.map(String).join(',');
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Grape's Boolean coercion: true/false/1/0 in any case. */
export function bool(params: Partial<Record<string, ParamValue>>, key: string, fallback: boolean): boolean {
  const v = params[key];
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  return ['true', '1', 't', 'yes'].includes(paramText(v).toLowerCase());
}

/** Parses form (with `key[]` arrays) or JSON bodies; a bad JSON body parses as empty, as for Grape's 400 we do not model. */
export function parseBody(raw: string, contentType: string | undefined): Record<string, ParamValue> {
  if (!raw) return {};
  if (contentType?.includes('application/json')) {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, ParamValue>) : {};
    } catch {
      return {};
    }
  }
  return formToParams(new URLSearchParams(raw));
}

export function formToParams(form: URLSearchParams): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const [rawKey, value] of form) {
    if (rawKey.endsWith('[]')) {
      const key = rawKey.slice(0, -2);
      const list = Array.isArray(out[key]) ? (out[key] as string[]) : [];
      out[key] = [...list, value];
    } else {
      out[rawKey] = value;
    }
  }
  return out;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { resolve(Buffer.concat(chunks).toString('utf8')); });
    req.on('error', reject);
  });
}
