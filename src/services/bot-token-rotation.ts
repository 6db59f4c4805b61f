// The GitLab calls of a bot token rotation, made with the bot's own token (no admin token): is a token
// live, rotate one within the instance's lifetime limit, and renew the standby token, adopting the token
// a lost rotation answer left behind. GitLab lets a user rotate, list and revoke their own tokens by id
// (lib/api/personal_access_tokens.rb: `:rotate_personal_access_token` / `:read_user_personal_access_tokens`
// on the token's user), so the served token can rotate the standby without touching itself.
import type { GitlabApi, GitlabPersonalAccessToken, GitlabTarget } from '../gitlab/api.js';
import { GitlabApiError } from '../gitlab/http.js';
import { DAY_MS, dateOnly, gitlabDateToInstant } from '../time.js';
import { BOT_TOKEN_NAME } from './bootstrap/resources.js';

/** GitLab caps a rotated token at one year; stay clear of the boundary. */
const ROTATED_LIFETIME_DAYS = 360;

const LIFETIME_LIMIT = /must be before (\d{4}-\d{2}-\d{2})/;

/** A GitLab session acting as the bot: `token` authenticates every call. */
export interface BotSession {
  gitlab: GitlabApi;
  target: GitlabTarget;
  token: string;
  now: Date;
}

/**
 * Rotates token `tokenId` (the session's own or another of the bot's; `self`: the session's own token by
 * POST /personal_access_tokens/self/rotate, GitLab 16.10+, what a manual instance uses) asking for
 * ROTATED_LIFETIME_DAYS. An instance with a shorter maximum lifetime refuses with a 400 that names its
 * limit, and rotates nothing: asking once more for the day before that limit is safe. Throws
 * GitlabApiError or a transport error.
 */
export async function rotateWithinLifetime(session: BotSession, tokenId: string | number): Promise<GitlabPersonalAccessToken> {
  const { gitlab, target, token, now } = session;
  const rotate = (expiresAt: string) => (tokenId === 'self' ? gitlab.rotateSelf(target, token, expiresAt) : gitlab.rotateOwnToken(target, token, tokenId, expiresAt));
  try {
    return await rotate(dateOnly(new Date(now.getTime() + ROTATED_LIFETIME_DAYS * DAY_MS)));
  } catch (error) {
    const limit = error instanceof GitlabApiError && error.status === 400 ? LIFETIME_LIMIT.exec(error.message)?.[1] : undefined;
    if (!limit) throw error;
    return rotate(dateOnly(new Date(gitlabDateToInstant(limit).getTime() - DAY_MS)));
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
 * nobody: the newest live token of ours other than the two stored is rotated (it is live, so this is
 * no reuse of a revoked token, which would revoke the family) and any older such leftover revoked, so
 * the bot keeps exactly two live tokens. Returns the new standby token, or null when there is nothing
 * to rotate (the standby was revoked by someone else): only a bootstrap can then restore the pair.
 */
export async function renewStandby(session: BotSession, ids: { served: string; standby: string; botUserId: string }): Promise<GitlabPersonalAccessToken | null> {
  if (await standbyIsLive(session, ids.standby)) return rotateWithinLifetime(session, ids.standby);
  const live = await session.gitlab.liveTokensOf(session.target, session.token, ids.botUserId);
  const known = new Set([ids.served, ids.standby]);
  const ours = live.filter((token) => token.name === BOT_TOKEN_NAME && !known.has(String(token.id))).sort((a, b) => b.id - a.id);
  const newest = ours.at(0);
  if (!newest) return null;
  const older = ours.slice(1);
  // Revoked before the rotation: a failure here loses nothing, a failure after it would lose the answer.
  await Promise.all(older.map((token) => session.gitlab.revokePersonalAccessToken(session.target, session.token, token.id)));
  return rotateWithinLifetime(session, newest.id);
}
