// The bot account on GitLab: found by its stored user id first (a renamed bot is still the bot),
// adopted by name only when it bears this instance's ownership marker, repaired from every state an
// admin API call can repair, and refused with a reason the admin can act on otherwise.
import { randomBytes } from 'node:crypto';
import type { Config } from '../../config.js';
import type { Instance } from '../../domain/types.js';
import { AppError } from '../../errors.js';
import type { GitlabApi, GitlabTarget, GitlabUser } from '../../gitlab/api.js';
import { GitlabApiError } from '../../gitlab/errors.js';
import type { Outcome } from './checks.js';
import type { Ensured, GitlabSession } from './resources.js';

/**
 * The line this service writes into the bot's admin note (`note` on POST /users: set and read by
 * administrators only, gitlab-org/gitlab-ee!14662), naming this deployment and the instance record.
 * Only a user bearing it is ever adopted as the bot.
 */
export function botOwnershipMarker(publicUrl: string, instanceId: string): string {
  return `[gitlab-connect ${publicUrl} instance ${instanceId}]`;
}

/** What the bootstrap read about the bot in its one round trip of reads. */
export interface BotCandidates {
  /** GET /users/:stored id; fulfilled with undefined when no bot is stored yet. */
  stored: Outcome<GitlabUser | undefined>;
  /** GET /users?username=BOT_USERNAME. */
  named: GitlabUser[];
}

const unusable = (reason: string, detail: string) => new AppError('bot_account_unusable', detail, { reason });

/**
 * Per GitLab user state (lib/api/users.rb, app/services/users/*): the admin call that makes the
 * account active again, or null where no API call can (an LDAP block is lifted only by LDAP).
 */
const REPAIRS: Partial<Record<string, ((api: GitlabApi, target: GitlabTarget, token: string, id: number) => Promise<unknown>) | null>> = {
  blocked: (api, target, token, id) => api.unblockUser(target, token, id),
  deactivated: (api, target, token, id) => api.activateUser(target, token, id),
  banned: (api, target, token, id) => api.unbanUser(target, token, id),
  blocked_pending_approval: (api, target, token, id) => api.approveUser(target, token, id),
  ldap_blocked: null,
};

/** Makes a non-active bot active, or throws bot_account_unusable naming the admin's fix. Returns true when it repaired. */
async function reactivate(session: GitlabSession, bot: GitlabUser): Promise<boolean> {
  if (bot.state === 'active') return false;
  const repair = REPAIRS[bot.state];
  if (repair === null) {
    throw unusable('ldap_blocked', `The bot ${bot.username} is blocked by LDAP, which GitLab's API cannot lift: unblock it in your LDAP directory (or remove its LDAP identity under Admin > Users > ${bot.username}), then run the bootstrap again`);
  }
  if (repair === undefined) {
    throw unusable(bot.state, `The bot ${bot.username} is in the state "${bot.state}", which this service cannot repair: make it active under Admin > Users > ${bot.username}, then run the bootstrap again`);
  }
  try {
    await repair(session.api, session.target, session.adminToken, bot.id);
  } catch (error) {
    if (bot.state !== 'blocked_pending_approval' || !(error instanceof GitlabApiError) || error.status >= 500) throw error;
    throw unusable('user_cap_reached', `GitLab keeps the bot ${bot.username} pending approval (the user cap is reached, or new users need approval) and refused to approve it: approve it under Admin > Users > Pending approval, or raise the user cap under Admin > Settings > General > Sign-up restrictions, then run the bootstrap again`);
  }
  return true;
}

/** The holder of BOT_USERNAME is not ours: say who, and what to change (the preflight says the same). */
export function usernameTaken(config: Config, holder: GitlabUser | undefined): AppError {
  const who = holder ? `${holder.is_admin ? 'The administrator' : 'The user'} ${holder.username}` : `A user or group named ${config.botUsername}`;
  return new AppError(
    'bot_username_taken',
    `${who} holds BOT_USERNAME on this GitLab and was not created by this service for this instance, so it is never used as the bot: rename it on GitLab or set BOT_USERNAME to a name no user or group uses, then run the bootstrap again`,
  );
}

/** GitLab refuses a username a group path (400) or another user (409) holds: one namespace (gitlab-facts). */
const isUsernameConflict = (error: unknown) =>
  error instanceof GitlabApiError && (error.status === 409 || error.status === 400) && /username/i.test(error.message);

async function createBot(session: GitlabSession, instance: Instance): Promise<GitlabUser> {
  const { api, target, adminToken, config } = session;
  try {
    return await api.createUser(target, adminToken, {
      username: config.botUsername,
      name: 'Code review bot',
      email: `${config.botUsername}-${randomBytes(4).toString('hex')}@noreply.${new URL(target.url).hostname}`,
      force_random_password: true,
      skip_confirmation: true,
      admin: false,
      note: `Created by gitlab-connect for its code-review bot; keep this line: ${botOwnershipMarker(config.publicUrl, instance.id)}`,
    });
  } catch (error) {
    throw isUsernameConflict(error) ? usernameTaken(config, undefined) : error;
  }
}

/** The stored bot as GitLab has it now, or undefined when GitLab no longer has it (deleted: a new one is made). */
function storedBot(stored: Outcome<GitlabUser | undefined>): GitlabUser | undefined {
  if (stored.status === 'fulfilled') return stored.value;
  if (stored.reason instanceof GitlabApiError && stored.reason.status === 404) return undefined;
  throw stored.reason;
}

/**
 * The bot user, active. Found by the stored id first; else the holder of BOT_USERNAME when it bears
 * this instance's marker (a create whose answer was lost); else created. Any other holder of the name,
 * user or group, is refused (422 bot_username_taken); a state no API call repairs is refused (422
 * bot_account_unusable with `reason`). `outcome` is repaired when an existing bot was reactivated or
 * re-created.
 */
export async function ensureBotUser(session: GitlabSession, instance: Instance, candidates: BotCandidates): Promise<Ensured<GitlabUser>> {
  const { config } = session;
  const marker = botOwnershipMarker(config.publicUrl, instance.id);
  const holder = candidates.named.find((user) => user.username.toLowerCase() === config.botUsername.toLowerCase());
  const byId = storedBot(candidates.stored);
  if (!byId && holder && (holder.is_admin || !(holder.note ?? '').includes(marker))) throw usernameTaken(config, holder);
  const found = byId ?? holder;
  if (found?.is_admin) {
    throw unusable('bot_is_admin', `The bot ${found.username} was made an administrator, which would make every review worker one: remove its admin rights under Admin > Users > ${found.username} > Edit, then run the bootstrap again`);
  }
  const bot = found ?? (await createBot(session, instance));
  const reactivated = await reactivate(session, bot);
  const state = reactivated ? { ...bot, state: 'active' } : bot;
  if (!found) return { value: state, outcome: instance.botUserId ? 'repaired' : 'created' };
  return { value: state, outcome: reactivated ? 'repaired' : 'kept' };
}

/**
 * One call with the bot's own token (GET /user): the only way to see what blocks the bot but not its
 * admin-visible state, above all enforced terms of service that the bot has not accepted
 * (app/policies/global_policy.rb; no admin API accepts them for another user). Throws
 * bot_account_unusable (reason terms_not_accepted) or the GitLab failure.
 */
export async function verifyBotCanUseApi(session: GitlabSession, bot: GitlabUser, botToken: string): Promise<void> {
  let owner: GitlabUser;
  try {
    owner = await session.api.currentUser(session.target, { privateToken: botToken });
  } catch (error) {
    if (error instanceof GitlabApiError && error.status === 403 && /terms of service/i.test(error.message)) throw termsNotAccepted(bot.username);
    throw error;
  }
  // The token GitLab handed back must act as the bot and nobody else: a lying answer to the token
  // creation (another user's token, the admin's own) would otherwise be stored and served.
  if (owner.id !== bot.id || owner.is_admin === true) {
    throw new AppError('gitlab_error', `GitLab's answer to creating the bot token is not valid (the token acts as user ${String(owner.id)}, not as the bot ${bot.username} (${String(bot.id)})): check that nothing between this service and GitLab rewrites answers, then run the bootstrap again`);
  }
}

/** bot_account_unusable (reason terms_not_accepted) for the bot `username`: what the admin does about enforced terms (the preflight says the same). */
export function termsNotAccepted(username: string): AppError {
  return unusable(
    'terms_not_accepted',
    `GitLab enforces its terms of service and the bot ${username} has not accepted them; no API can accept them for it: sign in to GitLab once as ${username} in a browser (set a password under Admin > Users > ${username} > Edit) and accept the terms, or turn off "All users must accept the Terms of Service" under Admin > Settings > General > Terms of Service and Privacy Policy, then run the bootstrap again`,
  );
}
