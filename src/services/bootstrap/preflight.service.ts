// POST /instances/preflight: every check of the bootstrap that writes nothing, on GitLab or here, as a
// checklist. It makes the bootstrap's own reads (GETs only, no lease, no instance row, no event) and
// judges them with the bootstrap's own functions, so `ready` is true exactly when the bootstrap would succeed.
import { diagnosisOf } from '../../diagnoses.js';
import { AppError } from '../../errors.js';
import type { GitlabApplicationSettings, GitlabTarget, GitlabUser } from '../../gitlab/api.js';
import { assertPemCertificate, toAppError } from '../../gitlab/http.js';
import { gitlabTargetOf, type RequestLog, type ServiceDeps } from '../deps.js';
import { normalizeInstanceUrl } from '../instance-url.js';
import { judgeAdminToken, judgeProbe, judgeVersion } from './checks.js';
import { termsNotAccepted, usernameTaken } from './bot-account.js';
import { withSuggestedUrl } from './suggest.js';

export interface PreflightInput {
  url: string;
  adminToken?: string | undefined;
  caCertificate?: string | undefined;
}

export type CheckName = 'url' | 'reachable' | 'gitlab' | 'version' | 'admin_token' | 'bot_username' | 'instance_settings';

export interface PreflightCheck {
  name: CheckName;
  status: 'pass' | 'warn' | 'fail' | 'skipped';
  /** The error code the bootstrap would answer with (fail only). */
  code?: string;
  detail: string;
  /** What to do, from the diagnoses table (fail only). */
  fix?: string;
}

export interface PreflightResult {
  url: string;
  ready: boolean;
  checks: PreflightCheck[];
}

/** Failures that say GitLab could not be reached (or not over verified TLS), rather than that it is no GitLab. */
const REACHABILITY_CODES = new Set(['gitlab_unreachable', 'gitlab_tls_error', 'gitlab_timeout', 'gitlab_rate_limited', 'gitlab_blocked', 'gitlab_error', 'url_not_allowed']);

const pass = (name: CheckName, detail: string): PreflightCheck => ({ name, status: 'pass', detail });
const skipped = (name: CheckName, detail: string): PreflightCheck => ({ name, status: 'skipped', detail });

function failed(name: CheckName, cause: unknown): PreflightCheck {
  const error = toAppError(cause);
  const fix = diagnosisOf(error.code, error.extras.reason)?.advice;
  return { name, status: 'fail', code: error.code, detail: error.message, ...(fix ? { fix } : {}) };
}

/** Runs a synchronous judge: pass with `detail`, or the failure it throws. */
function judged(name: CheckName, judge: () => unknown, detail: string): PreflightCheck {
  try {
    judge();
    return pass(name, detail);
  } catch (error) {
    return failed(name, error);
  }
}

/** Is it a GitLab: the probe's two anonymous reads, judged as the bootstrap judges them. */
async function probeChecks(deps: ServiceDeps, target: GitlabTarget): Promise<PreflightCheck[]> {
  const [openid, anonymousVersion] = await Promise.allSettled([deps.gitlab.openidConfiguration(target), deps.gitlab.anonymousVersion(target)]);
  try {
    judgeProbe(target.url, openid, anonymousVersion);
    return [pass('reachable', `${target.url} answers over ${new URL(target.url).protocol.slice(0, -1)}`), pass('gitlab', 'GitLab answers (OpenID configuration or API)')];
  } catch (error) {
    const problem = failed('gitlab', await withSuggestedUrl(deps.gitlab, target, error));
    if (problem.code !== undefined && REACHABILITY_CODES.has(problem.code)) return [{ ...problem, name: 'reachable' }, skipped('gitlab', 'GitLab could not be reached')];
    return [pass('reachable', `${target.url} answers`), problem];
  }
}

/** With the admin token: the version, the token itself, BOT_USERNAME (the bootstrap's own reads) and the instance settings, GETs only. */
async function tokenChecks(deps: ServiceDeps, target: GitlabTarget, adminToken: string): Promise<PreflightCheck[]> {
  const { gitlab: api, config } = deps;
  const [version, user, self, applications, namedBots] = await Promise.allSettled([
    api.version(target, adminToken),
    api.currentUser(target, { privateToken: adminToken }),
    api.tokenSelf(target, adminToken),
    api.applications(target, adminToken),
    api.usersNamed(target, adminToken, config.botUsername),
  ]);
  const versionCheck =
    version.status === 'fulfilled' ? judged('version', () => { judgeVersion(version.value.version); }, `GitLab ${version.value.version}`) : failed('version', version.reason);
  const tokenCheck = judged('admin_token', () => { judgeAdminToken(deps.clock(), user, self, applications); }, 'a valid, unexpired administrator token with the api scope that can make admin calls');
  const botCheck = namedBots.status === 'rejected' ? failed('bot_username', namedBots.reason) : await botUsernameCheck(deps, target.url, namedBots.value);
  const settingsCheck =
    tokenCheck.status === 'pass' ? await instanceSettingsCheck(deps, target, adminToken, botCheck.status === 'warn') : skipped('instance_settings', 'the settings need a working administrator token');
  return [versionCheck, tokenCheck, botCheck, settingsCheck];
}

/**
 * BOT_USERNAME free, or held: for a URL not registered here any holder is someone else's (the bootstrap
 * refuses it, bot-account.ts); for a registered instance the holder may be its own bot, which only
 * the bootstrap's read of the stored bot can tell, so it is a warning.
 */
async function botUsernameCheck(deps: ServiceDeps, url: string, named: GitlabUser[]): Promise<PreflightCheck> {
  const { botUsername } = deps.config;
  const holder = named.find((user) => user.username.toLowerCase() === botUsername.toLowerCase());
  if (!holder) return pass('bot_username', `${botUsername} is free`);
  const registered = await deps.instanceLookups.find(url);
  if (!registered || registered.status === 'removed') return failed('bot_username', usernameTaken(deps.config, holder));
  return { name: 'bot_username', status: 'warn', detail: `${holder.username} exists: the bootstrap keeps it only when it is this instance's bot` };
}

/**
 * The instance settings that would break the bot, read with the admin token (GET /application/settings,
 * GitlabApplicationSettingsSchema) and judged as the bootstrap fares with them. Enforced terms of
 * service fail as the bootstrap does (bot-account.ts verifyBotCanUseApi: a new bot cannot accept them),
 * or warn when BOT_USERNAME may be this instance's bot already (`botMayBeOurs`: it may have accepted
 * them). A reached user cap warns, and a maximum token lifetime is named (userCapNote, lifetimeNote).
 * Admin approval of sign-ups is only named: it holds users who register themselves, not one an admin
 * creates (app/controllers/registrations_controller.rb `set_blocked_pending_approval?`). Settings
 * GitLab would not show are a warning, the bootstrap does not read them.
 */
async function instanceSettingsCheck(deps: ServiceDeps, target: GitlabTarget, adminToken: string, botMayBeOurs: boolean): Promise<PreflightCheck> {
  const { botUsername } = deps.config;
  let settings: GitlabApplicationSettings;
  try {
    settings = await deps.gitlab.applicationSettings(target, adminToken);
  } catch (error) {
    return { name: 'instance_settings', status: 'warn', detail: `GitLab did not show its settings (${toAppError(error).message}): the user cap and enforced terms of service are left to the bootstrap` };
  }
  if (settings.enforce_terms && !botMayBeOurs) return failed('instance_settings', termsNotAccepted(botUsername));
  const warnings: string[] = [];
  const notes: string[] = [];
  if (settings.enforce_terms) warnings.push(`GitLab enforces its terms of service: ${botUsername} works only if it has accepted them (the bootstrap checks with its token)`);
  const cap = await userCapNote(deps, target, adminToken, settings.new_user_signups_cap);
  if (cap) (cap.reached ? warnings : notes).push(cap.text);
  if (settings.require_admin_approval_after_user_signup) notes.push('sign-ups need admin approval, which does not hold a user the bootstrap creates');
  (settings.max_personal_access_token_lifetime && settings.max_personal_access_token_lifetime < 365 ? warnings : notes).push(lifetimeNote(settings.max_personal_access_token_lifetime));
  if (warnings.length > 0) return { name: 'instance_settings', status: 'warn', detail: [...warnings, ...notes].join('; ') };
  return pass('instance_settings', notes.join('; '));
}

/**
 * The EE user cap (`new_user_signups_cap`, users; null: none) against the active human users GitLab
 * counts (`x-total`; the cap counts active non-bot users, ee/app/models/ee/user.rb `user_cap_reached?`).
 * Reached, or not countable, it is a warning: GitLab may create the bot pending approval, and the
 * bootstrap approves it (Users::ApproveService), a seat over the cap. Null without a cap.
 */
async function userCapNote(deps: ServiceDeps, target: GitlabTarget, adminToken: string, cap: number | null | undefined): Promise<{ reached: boolean; text: string } | null> {
  if (cap === null || cap === undefined) return null;
  const active = await deps.gitlab.activeUserCount(target, adminToken).catch(() => null);
  if (active !== null && active < cap) return { reached: false, text: `the user cap (${String(cap)}) leaves ${String(cap - active)} seat(s); a new bot takes one` };
  const counted = active === null ? 'GitLab did not say how many users are active' : `it is reached (${String(active)} active users)`;
  return {
    reached: true,
    text: `the user cap is ${String(cap)} and ${counted}: GitLab may create the bot pending approval, and the bootstrap then approves it, taking a seat over the cap (raise the cap under Admin > Settings > General > Sign-up restrictions to avoid it)`,
  };
}

/** What lifetime the bot's served token gets (resources.ts: no expires_at, so GitLab's maximum), from `max_personal_access_token_lifetime` (days; null: none set). */
function lifetimeNote(maxDays: number | null | undefined): string {
  if (!maxDays) return "bot tokens get GitLab's default maximum lifetime (365 days)";
  return `the maximum token lifetime is ${String(maxDays)} days: the bot's token gets ${String(maxDays)} days (its standby about half) and is rotated that much more often`;
}

/**
 * The bootstrap's checklist for `input`, writing nothing anywhere. Throws invalid_url (the URL cannot be
 * normalised) and validation_failed (caCertificate is no PEM), as the bootstrap does; every other
 * problem is a failed check. `ready` is true when a bootstrap with the same input would succeed.
 */
export async function preflightInstance(deps: ServiceDeps, input: PreflightInput, log: RequestLog): Promise<PreflightResult> {
  const url = normalizeInstanceUrl(input.url);
  if (input.caCertificate !== undefined) assertPemCertificate(input.caCertificate);
  const checks: PreflightCheck[] = [];
  try {
    await deps.gitlabHttp.assertUrlResolvesAllowed(url);
    checks.push(pass('url', 'the URL is allowed'));
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    checks.push(failed('url', error));
    return { url, ready: false, checks };
  }
  const target = gitlabTargetOf({ url, caCertificate: input.caCertificate ?? null }, log);
  checks.push(...(await probeChecks(deps, target)));
  if (checks.some((check) => check.status === 'fail')) return { url, ready: false, checks };
  if (!input.adminToken) {
    checks.push(skipped('admin_token', 'no adminToken given: the bootstrap needs one'));
    return { url, ready: false, checks };
  }
  checks.push(...(await tokenChecks(deps, target, input.adminToken)));
  return { url, ready: !checks.some((check) => check.status === 'fail'), checks };
}
