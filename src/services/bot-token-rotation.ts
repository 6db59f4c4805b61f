// The GitLab calls of a bot token rotation, made with the bot's own token (no admin token): is a token
// live, rotate one within the instance's lifetime limit, and renew the standby token, adopting the token
// a lost rotation answer left behind. GitLab lets a user rotate, list and revoke their own tokens by id
// (lib/api/personal_access_tokens.rb: `:rotate_personal_access_token` / `:read_user_personal_access_tokens`
// on the token's user), so the served token can rotate the standby without touching itself.
import type { GitlabApi, GitlabPersonalAccessToken, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError } from '../gitlab/http.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../time.js';
import { carriesMarker } from './bootstrap/markers.js';

/**
 * GitLab's longest token lifetime (app/models/personal_access_token.rb
 * MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS): what a token asks for unless the instance set a shorter
 * `max_personal_access_token_lifetime` (EE).
 */
export const MAX_TOKEN_LIFETIME_DAYS = 365;

const LIFETIME_LIMIT = /must be before (\d{4}-\d{2}-\d{2})/;

/**
 * The limit GitLab named when it refused an expiry beyond the instance's maximum lifetime, or undefined
 * for any other failure. Creation answers 422 (lib/api/users.rb `render_api_error!(…, http_status ||
 * 422)`), rotation 400; the text is the model's "must be before %{expiry_date}"
 * (app/models/personal_access_token.rb expires_at_before_instance_max_expiry_date).
 */
export function lifetimeLimitOf(error: unknown): string | undefined {
  if (!(error instanceof GitlabApiError) || (error.status !== 400 && error.status !== 422)) return undefined;
  return LIFETIME_LIMIT.exec(error.message)?.[1];
}

/** The day before the limit GitLab named: the longest expiry it accepts whatever its time zone. */
export function dayBefore(limit: string): string {
  return dateOnly(new Date(gitlabDateToInstant(limit).getTime() - DAY_MS));
}

/** The longest expiry to ask for: `lifetimeDays` (the instance's maximum, when known) or GitLab's own, from `now`. */
export function longestExpiry(now: Date, lifetimeDays: number | null): string {
  return dateOnly(new Date(now.getTime() + Math.min(lifetimeDays ?? MAX_TOKEN_LIFETIME_DAYS, MAX_TOKEN_LIFETIME_DAYS) * DAY_MS));
}

/** A GitLab session acting as the bot: `token` authenticates every call. */
export interface BotSession {
  gitlab: GitlabApi;
  target: GitlabTarget;
  token: string;
  now: Date;
  /** The instance's maximum token lifetime in days when known (GET /application/settings at the bootstrap). */
  lifetimeDays: number | null;
  /** PUBLIC_URL and the instance id: only tokens bearing their marker are adopted or revoked (bootstrap/markers.ts). */
  owner: { publicUrl: string; instanceId: string };
}

/**
 * Rotates token `tokenId` (the session's own or another of the bot's; `self`: the session's own token by
 * POST /personal_access_tokens/self/rotate, GitLab 16.10+, what a manual instance uses) asking for the
 * longest expiry allowed (the instance's maximum lifetime when known, else GitLab's 365 days). An
 * instance with a shorter maximum lifetime refuses with a 400 that names its limit, and rotates nothing:
 * asking once more for the day before that limit is safe. GitLab 16.0–16.5 ignore `expires_at` and
 * grant 7 days (rotate_service.rb EXPIRATION_PERIOD; `expires_at` on rotate arrived in 16.6, doc/api/personal_access_tokens.md): the caller stores the expiry GitLab
 * answered, and health shows it (instance-health.ts bot_token_short_lifetime). Throws GitlabApiError or
 * a transport error.
 */
export async function rotateWithinLifetime(session: BotSession, tokenId: string | number): Promise<GitlabPersonalAccessToken> {
  const { gitlab, target, token, now } = session;
  const rotate = (expiresAt: string) => (tokenId === 'self' ? gitlab.rotateSelf(target, token, expiresAt) : gitlab.rotateOwnToken(target, token, tokenId, expiresAt));
  try {
    return await rotate(longestExpiry(now, session.lifetimeDays));
  } catch (error) {
    const limit = lifetimeLimitOf(error);
    if (!limit) throw error;
    return rotate(dayBefore(limit));
  }
}

/** The token as GitLab sees it now: a 401, or an inactive token, means it is dead. Other failures throw. */
export async function isLive(gitlab: GitlabApi, target: GitlabTarget, token: string): Promise<boolean> {
  try {
    const self = await gitlab.tokenSelf(target, token);
    return self.active && !self.revoked;
  } catch (error) {
    if (error instanceof GitlabApiError && error.status === 401) return false;
    throw error;
  }
}

/** GitLab's rotation default is 7 days: assume it when the expiry it answered cannot be read. */
export function expiryOf(rotated: { expires_at: string | null }, now: Date): Date | null {
  if (rotated.expires_at === null) return null;
  try {
    return gitlabDateToInstant(rotated.expires_at);
  } catch {
    return new Date(now.getTime() + 7 * DAY_MS);
  }
}

/** Is GitLab's token `id` live? A token GitLab no longer shows (401/404 to its owner) is not. */
async function standbyIsLive(session: BotSession, id: string): Promise<boolean> {
  try {
    const standby = await session.gitlab.personalAccessToken(session.target, session.token, id);
    return standby.active && !standby.revoked;
  } catch (error) {
    if (error instanceof GitlabApiError && (error.status === 401 || error.status === 404)) return false;
    throw error;
  }
}

/**
 * Rotates the standby token `standbyId` with the served token (the session's), which stays untouched.
 * When the standby is dead because a rotation's answer was lost, GitLab holds its successor, known to
 * nobody: the newest live token bearing this instance's marker other than the two stored is rotated (it is live, so this is
 * no reuse of a revoked token, which would revoke the family) and any older such leftover revoked, so
 * the bot keeps exactly two live tokens. Returns the new standby token, or null when there is nothing
 * to rotate (the standby was revoked by someone else): only a bootstrap can then restore the pair.
 */
export async function renewStandby(session: BotSession, ids: { served: string; standby: string; botUserId: string }): Promise<GitlabPersonalAccessToken | null> {
  if (await standbyIsLive(session, ids.standby)) return rotateWithinLifetime(session, ids.standby);
  const live = await session.gitlab.liveTokensOf(session.target, session.token, ids.botUserId);
  const known = new Set([ids.served, ids.standby]);
  const { publicUrl, instanceId } = session.owner;
  const ours = live.filter((token) => carriesMarker(token.name, publicUrl, instanceId) && !known.has(String(token.id))).sort((a, b) => b.id - a.id);
  const newest = ours.at(0);
  if (!newest) return null;
  const older = ours.slice(1);
  // Revoked before the rotation: a failure here loses nothing, a failure after it would lose the answer.
  await Promise.all(older.map((token) => session.gitlab.revokePersonalAccessToken(session.target, session.token, token.id)));
  return rotateWithinLifetime(session, newest.id);
}
