// Every migration in migrations/, in the order applied, under the name Kysely records (the file name
// without its extension). Listed by hand so that the bundled server carries them: no directory read and
// no import per file at start-up. A test (test/unit/migrations.test.ts) fails when a file is missing here.
import type { Migration } from 'kysely';
import * as m20261125090000 from './20261125090000_create_instances.js';
import * as m20261125100000 from './20261125100000_create_users_and_sessions.js';
import * as m20261125110000 from './20261125110000_add_instance_openid_issuer.js';
import * as m20261125120000 from './20261125120000_create_rate_limit_windows.js';
import * as m20261125130000 from './20261125130000_add_bot_token_issued_at.js';
import * as m20261201010000 from './20261201010000_notify_instance_changes.js';
import * as m20261201120000 from './20261201120000_add_credential_leases.js';
import * as m20261202020000 from './20261202020000_add_bot_standby_token.js';
import * as m20261202030000 from './20261202030000_add_instance_mode.js';
import * as m20261202050000 from './20261202050000_add_instance_bootstrap_step.js';
import * as m20261202060000 from './20261202060000_create_instance_aliases.js';
import * as m20261202080000 from './20261202080000_add_instance_problem.js';
import * as m20261203030000 from './20261203030000_add_instance_token_lifetime_and_verification.js';
import * as m20261204010000 from './20261204010000_create_upkeep.js';
import * as m20261204160000 from './20261204160000_create_installations.js';
import * as m20261205010000 from './20261205010000_notify_user_changes.js';

export const migrations: Record<string, Migration> = {
  '20261125090000_create_instances': m20261125090000,
  '20261125100000_create_users_and_sessions': m20261125100000,
  '20261125110000_add_instance_openid_issuer': m20261125110000,
  '20261125120000_create_rate_limit_windows': m20261125120000,
  '20261125130000_add_bot_token_issued_at': m20261125130000,
  '20261201010000_notify_instance_changes': m20261201010000,
  '20261201120000_add_credential_leases': m20261201120000,
  '20261202020000_add_bot_standby_token': m20261202020000,
  '20261202030000_add_instance_mode': m20261202030000,
  '20261202050000_add_instance_bootstrap_step': m20261202050000,
  '20261202060000_create_instance_aliases': m20261202060000,
  '20261202080000_add_instance_problem': m20261202080000,
  '20261203030000_add_instance_token_lifetime_and_verification': m20261203030000,
  '20261204010000_create_upkeep': m20261204010000,
  '20261204160000_create_installations': m20261204160000,
  '20261205010000_notify_user_changes': m20261205010000,
};
