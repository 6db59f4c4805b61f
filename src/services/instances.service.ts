// Reading instances: the public lookup (through the lookup cache), and the internal views (one instance,
// all, an audit trail).
import { instanceCallbackUrl } from '../auth-paths.js';
import type { InstanceLookupRow } from '../db/instance-lookup.repo.js';
import { findInstanceById, listInstanceEvents, listInstances } from '../db/instances.repo.js';
import type { Instance, InstanceEvent } from '../domain/types.js';
import { AppError } from '../errors.js';
import type { ServiceDeps } from './deps.js';
import { normalizeInstanceUrl } from './instance-url.js';
import { instanceProblem, type InstanceProblem } from './manual-bot-token.js';

export { instanceProblem, type InstanceProblem } from './manual-bot-token.js';

/** The instance, or instance_not_found: the one answer for an unknown instance id. */
export function foundInstance(instance: Instance | undefined, id: string): Instance {
  if (!instance) throw new AppError('instance_not_found', `No instance ${id}`);
  return instance;
}

export type VisibleStatus = 'unregistered' | 'bootstrapping' | 'failed' | 'ready' | 'degraded';

export interface InstanceLookup {
  /** The normalised URL. */
  url: string;
  /** The OAuth redirect URI this instance's application has (or will have): known before registration. */
  callbackUrl: string;
  status: VisibleStatus;
  next: 'bootstrap' | 'wait' | 'login';
  /** Set once a bootstrap has started (not for unregistered). */
  instanceId?: string;
  /** degraded: what is wrong, for the admin to fix. */
  problem?: InstanceProblem;
}

/** A bootstrap whose lease ran out died with its process: it is failed, not still running. */
function visibleStatus(instance: InstanceLookupRow, now: Date): VisibleStatus {
  if (instance.status === 'removed') return 'unregistered';
  if (instance.status === 'bootstrapping' && (!instance.bootstrapLeaseUntil || instance.bootstrapLeaseUntil <= now)) return 'failed';
  return instance.status;
}

// A degraded instance (its bot token about to expire) still logs users in.
const nextStep = { unregistered: 'bootstrap', failed: 'bootstrap', bootstrapping: 'wait', ready: 'login', degraded: 'login' } as const;

/** What is known of the instance at a URL the user typed; throws invalid_url. No GitLab call. */
export async function lookupInstance(deps: ServiceDeps, input: string): Promise<InstanceLookup> {
  const url = normalizeInstanceUrl(input);
  const instance = await deps.instanceLookups.find(url);
  const now = deps.clock();
  const problem = instance && instanceProblem(instance, now);
  const status = problem ? 'degraded' : instance ? visibleStatus(instance, now) : 'unregistered';
  const callbackUrl = instanceCallbackUrl(deps.config.publicUrl, url);
  return { url, status, next: nextStep[status], callbackUrl, ...(instance && status !== 'unregistered' ? { instanceId: instance.id } : {}), ...(problem ? { problem } : {}) };
}

/** One instance; throws instance_not_found. */
export async function getInstance(deps: ServiceDeps, id: string): Promise<Instance> {
  return foundInstance(await findInstanceById(deps.db, id), id);
}

/** Every instance, oldest first. */
export function listAllInstances(deps: ServiceDeps): Promise<Instance[]> {
  return listInstances(deps.db);
}

/** An instance's events, oldest first; throws instance_not_found. */
export async function instanceEvents(deps: ServiceDeps, id: string): Promise<InstanceEvent[]> {
  const instance = await getInstance(deps, id);
  return listInstanceEvents(deps.db, instance.id);
}
