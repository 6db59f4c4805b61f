// Reading instances as the public routes present them.
import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { findInstanceByUrl } from '../db/instances.repo.js';
import type { DB, Instance } from '../db/types.js';
import type { LookupResultBody } from '../schemas/instances.js';
import { normalizeInstanceUrl } from './instance-url.js';

/** The instance, or instance_not_found: the one answer for an unknown instance id. */
export function foundInstance(instance: Instance | undefined, id: string): Instance {
  if (!instance) throw new AppError('instance_not_found', `No instance ${id}`);
  return instance;
}

export function loginUrlOf(config: Config, instanceId: string): string {
  return `${config.publicUrl}/auth/gitlab/start?instance=${encodeURIComponent(instanceId)}`;
}

/** A bootstrap whose lease ran out died with its process: it is failed, not still running. */
function visibleStatus(instance: Instance, now: Date): LookupResultBody['status'] {
  if (instance.status === 'removed') return 'unregistered';
  if (instance.status === 'bootstrapping' && (!instance.bootstrap_lease_until || instance.bootstrap_lease_until <= now)) return 'failed';
  return instance.status;
}

const nextStep = { unregistered: 'bootstrap', failed: 'bootstrap', bootstrapping: 'wait', ready: 'login' } as const;

export async function lookupInstance(db: Kysely<DB>, config: Config, input: string, now: Date): Promise<LookupResultBody> {
  const url = normalizeInstanceUrl(input);
  const instance = await findInstanceByUrl(db, url);
  const status = instance ? visibleStatus(instance, now) : 'unregistered';
  return {
    url,
    status,
    next: nextStep[status],
    ...(instance && status !== 'unregistered' ? { instanceId: instance.id } : {}),
    ...(instance && status === 'ready' ? { loginUrl: loginUrlOf(config, instance.id) } : {}),
  };
}
