// suggestedUrl on not_gitlab: when the typed URL is no GitLab, a GitLab may answer nearby (the URL of a
// project or page was pasted, or the relative root was left off). A bounded number of anonymous probes,
// all within the typed URL's origin: each path prefix (longest first), the origin root, and /gitlab.
import { AppError } from '../../errors.js';
import type { GitlabApi, GitlabTarget } from '../../gitlab/api.js';

/** The most addresses probed for one suggestion (each one anonymous GET, made in parallel). */
export const MAX_SUGGESTION_PROBES = 6;

/** GitLab's usual relative root (gitlab-facts: `external_url 'https://example.com/gitlab'`). */
const USUAL_RELATIVE_ROOT = '/gitlab';

/** The addresses near `url` where a GitLab may live, nearest first, without `url` itself; at most MAX_SUGGESTION_PROBES. */
export function nearbyCandidates(url: string): string[] {
  const { origin, pathname } = new URL(url);
  const segments = pathname.split('/').filter(Boolean);
  const prefixes = segments.map((_, i) => `${origin}/${segments.slice(0, segments.length - 1 - i).join('/')}`.replace(/\/$/, ''));
  const candidates = [...prefixes, origin, `${origin}${USUAL_RELATIVE_ROOT}`].filter((candidate) => candidate !== url);
  return [...new Set(candidates)].slice(0, MAX_SUGGESTION_PROBES);
}

/** A GitLab's OpenID configuration names its keys at /oauth/discovery/keys (gitlab-facts §1); no token is sent. */
async function answersLikeGitlab(api: GitlabApi, target: GitlabTarget): Promise<boolean> {
  try {
    const openid = await api.openidConfiguration(target);
    return typeof openid?.jwks_uri === 'string' && openid.jwks_uri.endsWith('/oauth/discovery/keys');
  } catch {
    return false;
  }
}

/** `error` with `suggestedUrl` when it is not_gitlab and a GitLab answers near `target.url`; else `error` as it is. */
export async function withSuggestedUrl(api: GitlabApi, target: GitlabTarget, error: unknown): Promise<unknown> {
  if (!(error instanceof AppError) || error.code !== 'not_gitlab') return error;
  const candidates = nearbyCandidates(target.url);
  const found = await Promise.all(candidates.map((url) => answersLikeGitlab(api, { ...target, url })));
  const suggestedUrl = candidates.find((_, i) => found[i]);
  if (!suggestedUrl) return error;
  return new AppError('not_gitlab', `${error.message}; a GitLab answers at ${suggestedUrl}: use that address`, { ...error.extras, suggestedUrl });
}
