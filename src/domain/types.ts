// The domain types every layer above the database speaks: camelCase, mapped from the snake_case rows
// by the repositories (src/db/rows.ts), so no service, route or test sees a column name.
import type { Selectable } from 'kysely';
import type { InstallationsTable, InstanceEventsTable, InstancesTable, LoginStatesTable, UpkeepRunsTable, UsersTable, WebhookEventsTable } from '../db/types.js';

/** "bot_token_id" → "botTokenId", as a type. */
export type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
/** A row type with its keys in camelCase. */
export type Camelized<T> = { [K in keyof T as CamelCase<K & string>]: T[K] };

export type { EventOutcome, InstanceMode, InstanceStatus } from '../db/types.js';

/** An instance (GitLab ids of its resources as the decimal strings the database returns). */
export type Instance = Camelized<Selectable<InstancesTable>>;
/** What a bootstrap writes onto its leased instance. */
export type InstanceChanges = Partial<Omit<Instance, 'id' | 'url' | 'createdAt'>>;
export type InstanceEvent = Camelized<Selectable<InstanceEventsTable>>;
export type NewInstanceEvent = Omit<InstanceEvent, 'id' | 'createdAt'>;
export type User = Camelized<Selectable<UsersTable>>;
export type LoginState = Camelized<Selectable<LoginStatesTable>>;
export type NewLoginState = Omit<LoginState, 'id' | 'consumedAt'>;
/** One run of an upkeep job (the sweep, or one instance's check). */
export type UpkeepRun = Camelized<Selectable<UpkeepRunsTable>>;
/** The bot installed on one GitLab project of an instance (project and hook ids as decimal strings). */
export type Installation = Camelized<Selectable<InstallationsTable>>;
/** One webhook delivery GitLab made to an installation, as stored. */
export type WebhookEvent = Camelized<Selectable<WebhookEventsTable>>;
