// Kysely table types: the one description of the schema that the repositories query.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** bigint columns come back from pg as strings. */
type BigIntColumn = ColumnType<string, number | string, number | string>;

export type InstanceStatus = 'bootstrapping' | 'failed' | 'ready' | 'removed';

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
  oauth_application_id: BigIntColumn | null;
  oauth_client_id: string | null;
  oauth_client_secret_sealed: string | null;
  oauth_scopes: string | null;
  oauth_redirect_uri: string | null;
  last_error_step: string | null;
  last_error_code: string | null;
  last_error_detail: string | null;
  bootstrap_lease_until: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export type EventOutcome = 'succeeded' | 'failed' | 'repaired' | 'skipped';

export interface InstanceEventsTable {
  id: Generated<BigIntColumn>;
  instance_id: string;
  step: string;
  outcome: EventOutcome;
  actor: string;
  detail: string | null;
  error_code: string | null;
  created_at: Timestamp;
}

export interface DB {
  instances: InstancesTable;
  instance_events: InstanceEventsTable;
}

export type Instance = Selectable<InstancesTable>;
export type NewInstance = Insertable<InstancesTable>;
export type InstanceUpdate = Updateable<InstancesTable>;
export type InstanceEvent = Selectable<InstanceEventsTable>;
export type NewInstanceEvent = Insertable<InstanceEventsTable>;
