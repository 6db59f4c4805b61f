// Hostile answers no real GitLab gives, for tests of the service's bounds: a gzip bomb, error bodies
// that echo a secret in other spellings, and an OAuth application list too long to walk. Most return
// a FaultSpec for fake.injectFault().
import { createGzip } from 'node:zlib';
import type { FakeState } from './state.js';
import type { FaultSpec } from './types.js';

const bombs = new Map<number, Buffer>();

/**
 * A gzip body that inflates to `inflatedBytes` zero bytes (deflate's best ratio is ~1000:1, so
 * 200 MB gzip to ~200 KB). Built by streaming 1 MiB chunks, so making it never holds the inflated
 * size in memory; cached per size.
 */
export async function gzipBomb(inflatedBytes: number): Promise<Buffer> {
  const cached = bombs.get(inflatedBytes);
  if (cached) return cached;
  const gzip = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise<void>((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  const chunk = Buffer.alloc(1024 * 1024);
  for (let left = inflatedBytes; left > 0; left -= chunk.length) {
    const ok = gzip.write(left >= chunk.length ? chunk : chunk.subarray(0, left));
    if (!ok) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  const bomb = Buffer.concat(parts);
  bombs.set(inflatedBytes, bomb);
  return bomb;
}

/** A 200 JSON answer at `path` whose gzip body inflates to `inflatedBytes`, sent whatever the client asked for. */
export async function gzipBombFault(path: string | RegExp, inflatedBytes = 200 * 1024 * 1024, extra: Partial<FaultSpec> = {}): Promise<FaultSpec> {
  return {
    path,
    status: 200,
    rawBody: await gzipBomb(inflatedBytes),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    times: 1000,
    ...extra,
  };
}

/**
 * A 404 Grape-shaped error at `path` whose message echoes `secret` lower-cased, upper-cased, in
 * base64 and base64url: what a hostile GitLab could try to get a token stored in events or logs.
 */
export function secretEchoFault(path: string | RegExp, secret: string, extra: Partial<FaultSpec> = {}): FaultSpec {
  const spellings = secretSpellings(secret);
  return { path, status: 404, body: { message: `404 Not Found ${spellings.join(' ')}`, error: spellings.join(' '), error_description: spellings.join(' ') }, times: 1000, ...extra };
}

/** The spellings secretEchoFault echoes, for tests to search stored data for. */
export function secretSpellings(secret: string): string[] {
  const bytes = Buffer.from(secret);
  return [secret.toLowerCase(), secret.toUpperCase(), bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

/**
 * A hostile application list: registers `count` OAuth applications whose redirect URIs are `uriBytes`
 * long (at most 4096, what the service's schema accepts) and makes GET /api/v4/applications answer in
 * pages of at most 100 with x-next-page, which GitLab never does (it answers the whole list at once,
 * lib/api/applications.rb): ceil(count / 100) pages of roughly 100 × uriBytes bytes each, so a walk
 * can be led over thousands of applications or many pages near the response cap.
 */
export function floodApplications(fake: FakeState, count: number, uriBytes = 40): void {
  fake.pagedApplications = true;
  const base = 'https://flood.example/cb/';
  const padding = 'a'.repeat(Math.max(0, uriBytes - base.length));
  for (let i = 0; i < count; i++) fake.createApplication({ name: `flood ${String(i)}`, redirectUri: `${base}${padding}`, scopes: ['read_user'] });
}
