// The catalogue of every error the service answers with, and the typed error that services throw.
// The error plugin turns an AppError into application/problem+json (RFC 9457); `code` is the stable
// field the frontend switches on.

export const errorCatalog = {
  invalid_url: { status: 400, title: 'The URL cannot be a GitLab instance URL' },
  validation_failed: { status: 400, title: 'The request is not valid' },
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  invalid_return_to: { status: 400, title: 'returnTo is not an allowed address' },
  invalid_state: { status: 400, title: 'The login state is unknown, expired, used or from another browser' },
  oauth_denied: { status: 400, title: 'The login was refused on GitLab' },
  malformed_request: { status: 400, title: 'The HTTP request is malformed' },
  unauthenticated: { status: 401, title: 'No valid session' },
  internal_unauthorized: { status: 401, title: 'Missing or unknown internal API token' },
  webhook_unauthorized: { status: 401, title: 'Unknown installation or wrong webhook secret token' },
  cross_site_request: { status: 403, title: 'Cross-site request refused' },
  project_access_insufficient: { status: 403, title: 'Maintainer access to the project is required' },
  project_not_found: { status: 404, title: 'No such project, or the user cannot see it' },
  not_found: { status: 404, title: 'No such route' },
  instance_not_found: { status: 404, title: 'No such instance' },
  user_not_found: { status: 404, title: 'No such user' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  bootstrap_in_progress: { status: 409, title: 'A bootstrap of this instance is already running' },
  instance_already_registered: { status: 409, title: 'This GitLab is already registered (under this or another URL)' },
  instance_not_ready: { status: 409, title: 'The instance is not set up yet' },
  bot_token_unusable: { status: 409, title: 'The bot token no longer works; run the bootstrap again to repair it' },
  reauthorization_required: { status: 409, title: 'The user must log in again' },
  upkeep_disabled: { status: 409, title: 'This process runs no upkeep (UPKEEP_ENABLED=false)' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported content type' },
  url_not_allowed: { status: 422, title: 'This URL is not allowed' },
  webhook_url_blocked: { status: 422, title: "GitLab refuses this service's webhook URL (requests to the local network are not allowed)" },
  not_gitlab: { status: 422, title: 'The URL does not point to a GitLab instance' },
  gitlab_redirected: { status: 422, title: 'The URL answers with a redirect to another address' },
  gitlab_version_unsupported: { status: 422, title: 'The GitLab version is too old' },
  token_invalid: { status: 422, title: 'The admin token is not valid' },
  token_expired: { status: 422, title: 'The admin token has expired' },
  token_revoked: { status: 422, title: 'The admin token was revoked' },
  bot_username_taken: { status: 422, title: 'BOT_USERNAME is held by a user or group this service did not create' },
  instance_identity_changed: { status: 422, title: 'The URL now reaches another GitLab' },
  bot_account_unusable: { status: 422, title: 'The bot account cannot be used, and no API call can repair it' },
  token_not_admin: { status: 422, title: 'The token does not belong to an administrator' },
  token_missing_scope: { status: 422, title: 'The admin token lacks a required scope' },
  bot_token_invalid: { status: 422, title: 'The bot token is not valid' },
  bot_token_expired: { status: 422, title: 'The bot token has expired' },
  bot_token_revoked: { status: 422, title: 'The bot token was revoked' },
  bot_token_missing_scope: { status: 422, title: 'The bot token lacks a required scope' },
  bot_token_is_admin: { status: 422, title: 'The bot token belongs to an administrator' },
  oauth_client_invalid: { status: 422, title: "GitLab refuses the OAuth application's client id or secret" },
  admin_mode_scope_required: { status: 422, title: 'Admin Mode is on: the token needs the admin_mode scope' },
  client_error: { status: 400, title: 'The request cannot be served (the status says why)' },
  rate_limited: { status: 429, title: 'Too many requests' },
  request_headers_too_large: { status: 431, title: 'The request headers are too large' },
  internal_error: { status: 500, title: 'Internal error' },
  gitlab_unreachable: { status: 502, title: 'GitLab cannot be reached' },
  gitlab_tls_error: { status: 502, title: "GitLab's TLS certificate cannot be verified" },
  gitlab_error: { status: 502, title: 'GitLab answered with an error' },
  gitlab_blocked: { status: 502, title: 'A proxy, firewall or bot challenge answered instead of GitLab' },
  token_exchange_failed: { status: 502, title: 'GitLab refused the authorization code' },
  not_ready: { status: 503, title: 'The service is not ready' },
  database_unavailable: { status: 503, title: 'The database cannot be reached' },
  service_busy: { status: 503, title: 'This service is at its limit of concurrent bootstraps; retry shortly' },
  gitlab_rate_limited: { status: 503, title: 'GitLab is rate limiting this service' },
  gitlab_timeout: { status: 504, title: 'GitLab did not answer in time' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** Extra problem members: only safe, documented fields (never a secret). */
export interface ProblemExtras {
  step?: string;
  missingScopes?: string[];
  retryAfter?: number;
  /** Why, for codes with several causes: bot_account_unusable (ldap_blocked, terms_not_accepted, user_cap_reached, …), gitlab_unreachable and gitlab_tls_error (see src/diagnoses.ts). */
  reason?: string;
  /** instance_already_registered: the registered instance and its URL. */
  instanceId?: string;
  canonicalUrl?: string;
  errors?: { field: string; message: string }[];
  /** gitlab_redirected: where the URL redirects to (origin and path). */
  location?: string;
  /** not_gitlab: a nearby address where a GitLab answers. */
  suggestedUrl?: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extras: ProblemExtras;

  /** `status` defaults to the catalogue's; only `client_error` carries another 4xx of its own. */
  constructor(code: ErrorCode, detail: string, extras: ProblemExtras = {}, status: number = errorCatalog[code].status) {
    super(detail);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.extras = extras;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * `value`, or throws a plain Error (answered 500 internal_error) naming `what` when it is null or undefined:
 * for state an earlier step guarantees, so a miss is a bug, never a client's or GitLab's fault.
 */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`${what} is missing`);
  return value;
}
