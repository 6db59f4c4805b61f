// The login routes' paths, in one place: the routes, the login URL handed out, the OAuth callback URL
// registered on GitLab and the login binding cookie's scope all derive from them.
import { hash } from 'node:crypto';

export const AUTH_PATHS = {
  /** Everything under it sees the login binding cookie. */
  loginScope: '/auth/gitlab',
  start: '/auth/gitlab/start',
  callback: '/auth/gitlab/callback',
  logout: '/auth/logout',
} as const;

/**
 * The key in an instance's own redirect URI: base64url of SHA-256 over the normalised instance URL,
 * 22 characters (132 bits). Derived from the URL alone, so it is known before the instance is
 * registered (an admin can type it into GitLab) and stable for a URL. Distinct redirect URIs per
 * instance are the OAuth mix-up defence of RFC 9700 §4.4. Node's one-shot `hash` (Node ≥ 20.12): every
 * lookup answer carries the key, and a Hash object a call cost ~10 µs of a cached lookup's CPU.
 */
export function callbackKeyOf(normalizedInstanceUrl: string): string {
  return hash('sha256', normalizedInstanceUrl, 'base64url').slice(0, 22);
}

/** `$PUBLIC_URL/auth/gitlab/callback/<key>`, or without a key the shared callback of older applications. */
export function callbackUrlOf(publicUrl: string, key?: string): string {
  const shared = `${publicUrl.replace(/\/+$/, '')}${AUTH_PATHS.callback}`;
  return key === undefined ? shared : `${shared}/${key}`;
}

/** `$PUBLIC_URL/auth/gitlab/callback/<key>`: the redirect URI of the instance at `normalizedInstanceUrl`. */
export function instanceCallbackUrl(publicUrl: string, normalizedInstanceUrl: string): string {
  return callbackUrlOf(publicUrl, callbackKeyOf(normalizedInstanceUrl));
}

/** The absolute URL of GET /auth/gitlab/start for an instance: `$PUBLIC_URL/auth/gitlab/start?instance=<id>`. */
export function loginUrlOf(publicUrl: string, instanceId: string): string {
  return `${publicUrl}${AUTH_PATHS.start}?instance=${encodeURIComponent(instanceId)}`;
}
