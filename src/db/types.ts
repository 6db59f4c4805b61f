// Kysely table types: the one description of the schema that the repositories query.
import type { ColumnType, Generated, Kysely, Transaction, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** bigint columns come back from pg as strings. */
type BigIntColumn = ColumnType<string, number | string, number | string>;

export type InstanceStatus = 'bootstrapping' | 'failed' | 'ready' | 'removed';
export type InstanceMode = 'automated' | 'manual';

export interface InstancesTable {
  id: Generated<string>;
  url: string;
  status: InstanceStatus;
  gitlab_version: string | null;
  ca_certificate: string | null;
  bot_user_id: BigIntColumn | null;
  bot_username: string | null;
  bot_token_id: BigIntColumn | null;
  bot_token_sealed: string | null;
  bot_token_expires_at: Timestamp | null;
  bot_token_issued_at: Timestamp | null;
  /** The standby bot token: never served, the only one a rotation touches (then promoted). Null on one-token instances. */
  bot_standby_token_id: BigIntColumn | null;
  bot_standby_token_sealed: string | null;
  bot_standby_token_expires_at: Timestamp | null;
  bot_standby_token_issued_at: Timestamp | null;
  oauth_application_id: BigIntColumn | null;
  oauth_client_id: string | null;
  oauth_client_secret_sealed: string | null;
  oauth_scopes: string | null;
  oauth_redirect_uri: string | null;
  /** automated: set up with an admin token, its GitLab resources ours; manual: credentials the admin gave. */
  mode: ColumnType<InstanceMode, InstanceMode | undefined, InstanceMode>;
  /** A manual bot token that cannot rotate itself makes the instance degraded from then on (14 days before it expires). */
  bot_token_warn_at: Timestamp | null;
  /** GitLab's OpenID issuer (external_url); ID tokens are checked against it. */
  openid_issuer: string | null;
  /** A credential found dead after set-up: the instance is degraded with this problem (never a secret). */
  problem_code: string | null;
  problem_step: string | null;
  problem_detail: string | null;
  /** When the last live check (POST /internal/instances/:id/check) ran. */
  checked_at: Timestamp | null;
  /** When the upkeep checks the instance next (set when the sweep enqueues its check). */
  next_check_at: Timestamp | null;
  /** The instance's maximum token lifetime in days (EE setting read at the bootstrap); null: GitLab's 365. */
  bot_token_lifetime_days: number | null;
  /** When an internal route last verified the served bot token live (GET /personal_access_tokens/self). */
  bot_token_verified_at: Timestamp | null;
  /** When an internal route last verified the OAuth client at GitLab's token endpoint. */
  oauth_client_verified_at: Timestamp | null;
  last_error_step: string | null;
  last_error_code: string | null;
  last_error_detail: string | null;
  bootstrap_lease_until: Timestamp | null;
  /** The step a running bootstrap is at (lookup's progress); null when none runs. */
  bootstrap_step: string | null;
  /** Who holds the bootstrap lease (a random id per run): writes are fenced on it. */
  bootstrap_lease_holder: string | null;
  /** The bot token's rotation lease (credential-refresh.ts). */
  credential_lease_holder: string | null;
  credential_lease_until: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type EventOutcome = 'succeeded' | 'failed' | 'repaired' | 'skipped';

export interface InstanceEventsTable {
  /** bigserial: node-postgres returns it as a decimal string, PGlite as a number or bigint. */
  id: Generated<string | number | bigint>;
  instance_id: string;
  step: string;
  outcome: EventOutcome;
  actor: string;
  detail: string | null;
  error_code: string | null;
  created_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  instance_id: string;
  gitlab_user_id: BigIntColumn;
  username: string;
  name: string;
  email: string | null;
  avatar_url: string | null;
  access_token_sealed: string | null;
  refresh_token_sealed: string | null;
  access_token_expires_at: Timestamp | null;
  /** When GitLab issued the current access token (by our clock): with the expiry, its lifetime. */
  access_token_obtained_at: Timestamp | null;
  reauthorization_required: Generated<boolean>;
  /** The token refresh's lease (credential-refresh.ts). */
  credential_lease_holder: string | null;
  credential_lease_until: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  /** sha256 (hex) of the session token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  instance_id: string;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  created_at: Timestamp;
}

export interface LoginStatesTable {
  id: Generated<string>;
  /** sha256 (hex) of the OAuth state parameter. */
  state_hash: string;
  instance_id: string;
  /** sha256 (hex) of the random value in the short-lived browser binding cookie. */
  browser_binding_hash: string;
  code_verifier_sealed: string;
  nonce: string | null;
  return_to: string | null;
  expires_at: Timestamp;
  consumed_at: Timestamp | null;
  created_at: Timestamp;
}

export interface RateLimitWindowsTable {
  key: string;
  window_start: Timestamp;
  hits: ColumnType<number, number | undefined, number>;
}

export interface InstanceAliasesTable {
  url: string;
  instance_id: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** One run of an upkeep job: the sweep (instance_id null) or one instance's check. */
export interface UpkeepRunsTable {
  /** bigserial, as instance_events.id. */
  id: Generated<string | number | bigint>;
  job: string;
  instance_id: string | null;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  /** running, succeeded, failed, skipped. */
  outcome: ColumnType<string, string | undefined, string>;
  /** What the run did, per task: rows deleted, rotated or not, the check's finding. */
  counts: ColumnType<Record<string, number | string>, string | undefined, string>;
  error: string | null;
}

export interface InstallationsTable {
  id: Generated<string>;
  instance_id: string;
  project_id: BigIntColumn;
  path_with_namespace: string;
  hook_id: BigIntColumn | null;
  /** sha256 (hex) of the hook's secret token; the token itself is never stored. */
  hook_token_hash: string | null;
  membership_added_by_us: Generated<boolean>;
  installed_by: string | null;
  /** What the user must do when the upkeep could not repair the hook; null when working. */
  broken_reason: string | null;
  checked_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookEventsTable {
  /** bigserial: a decimal string from node-postgres. */
  id: Generated<string>;
  installation_id: string;
  instance_id: string;
  project_id: BigIntColumn;
  event_kind: string;
  delivery_key: string;
  webhook_uuid: string | null;
  event_uuid: string | null;
  idempotency_key: string | null;
  body: string;
  body_bytes: number;
  received_at: Timestamp;
  /** xid8 of the inserting transaction, as a decimal string. */
  tx: Generated<string>;
}

export interface DB {
  upkeep_runs: UpkeepRunsTable;
  installations: InstallationsTable;
  webhook_events: WebhookEventsTable;
  instances: InstancesTable;
  instance_aliases: InstanceAliasesTable;
  instance_events: InstanceEventsTable;
  users: UsersTable;
  sessions: SessionsTable;
  login_states: LoginStatesTable;
  rate_limit_windows: RateLimitWindowsTable;
}

export type InstanceUpdate = Updateable<InstancesTable>;

/** What every repository function takes first: the database, or a transaction on it. */
export type Executor = Kysely<DB> | Transaction<DB>;
