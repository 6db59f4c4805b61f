// Reading instances as the public routes present them.
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { InstanceLookups } from '../cache/instance-lookup-cache.js';
import type { InstanceLookupRow } from '../db/instance-lookup.repo.js';
import type { Instance } from '../db/types.js';
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
function visibleStatus(instance: InstanceLookupRow, now: Date): LookupResultBody['status'] {
  if (instance.status === 'removed') return 'unregistered';
  if (instance.status === 'bootstrapping' && (!instance.bootstrapLeaseUntil || instance.bootstrapLeaseUntil <= now)) return 'failed';
  return instance.status;
}

const nextStep = { unregistered: 'bootstrap', failed: 'bootstrap', bootstrapping: 'wait', ready: 'login' } as const;

/** What GET /instances/lookup answers for `input` (normalised first); reads through the lookup cache. */
export async function lookupInstance(lookups: InstanceLookups, config: Config, input: string, now: Date): Promise<LookupResultBody> {
  const url = normalizeInstanceUrl(input);
  const instance = await lookups.find(url);
  const status = instance ? visibleStatus(instance, now) : 'unregistered';
  return {
    url,
    status,
    next: nextStep[status],
    ...(instance && status !== 'unregistered' ? { instanceId: instance.id } : {}),
    ...(instance && status === 'ready' ? { loginUrl: loginUrlOf(config, instance.id) } : {}),
  };
}
