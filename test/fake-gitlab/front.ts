// What can stand in front of a GitLab and answer instead of it, for every path: a web server that
// redirects (an old domain moved, nginx sending http:// to https://), or a CDN's bot challenge.
import type { Reply } from './http.js';
import { html } from './http.js';

export type FakeFront =
  /**
   * Every request answered with a redirect to `to` plus the request's path and query, as nginx's
   * `return 301 https://new.example.com$request_uri;` does (GitLab's own docs use it for the
   * http → https redirect: doc/install/installation.md, nginx `gitlab-ssl` config).
   */
  | { kind: 'redirect'; to: string; status?: 301 | 302 | 307 | 308 }
  /**
   * A CDN's managed challenge: Cloudflare answers 403 `text/html` ("Just a moment...") with the header
   * `cf-mitigated: challenge` to every non-browser request
   * (developers.cloudflare.com/cloudflare-challenges/challenge-types/challenge-pages/detect-response/).
   */
  | { kind: 'challenge'; status?: 403 | 503 };

/** The front's answer to any request. */
export function frontReply(front: FakeFront, requestUri: string): Reply {
  if (front.kind === 'redirect') {
    const location = `${front.to.replace(/\/+$/, '')}${requestUri}`;
    return { status: front.status ?? 301, headers: { location, 'content-type': 'text/html' }, body: `<html><body>301 Moved Permanently</body></html>` };
  }
  const page = html(front.status ?? 403, 'Just a moment...', 'Checking your browser before accessing the site. Enable JavaScript and cookies to continue.');
  return { ...page, headers: { ...page.headers, 'cf-mitigated': 'challenge', server: 'cloudflare' } };
}
