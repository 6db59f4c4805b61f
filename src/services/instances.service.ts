// Reading instances: the public lookup (through the lookup cache), and the internal views (one instance,
// all, an audit trail).
import type { InstanceLookupRow } from '../db/instance-lookup.repo.js';
import { titleOf } from '../diagnoses.js';
import { countInstallations } from '../db/installations.repo.js';
import { findInstanceById, listInstanceEvents, listInstances } from '../db/instances.repo.js';
import type { Instance, InstanceEvent } from '../domain/types.js';
import { instanceCallbackUrl } from '../auth-paths.js';
import { boundedMemo } from '../cache/bounded-memo.js';
import { AppError, errorCatalog, type ErrorCode } from '../errors.js';
import type { ServiceDeps } from './deps.js';
import { normalizeInstanceUrl } from './instance-url.js';
import { instanceProblem, loginsBroken, type InstanceProblem } from './instance-health.js';

export { instanceProblem, type InstanceProblem } from './instance-health.js';

/** The instance, or instance_not_found: the one answer for an unknown instance id. */
export function foundInstance(instance: Instance | undefined, id: string): Instance {
  if (!instance) throw new AppError('instance_not_found', `No instance ${id}`);
  return instance;
}

export type VisibleStatus = 'unregistered' | 'bootstrapping' | 'failed' | 'ready' | 'degraded';

/** What lookup makes of the text a user typed before it reads anything. */
export interface RecognisedUrl {
  /** The normalised URL (normalizeInstanceUrl). */
  url: string;
  /** The OAuth redirect URI of the instance's application (instanceCallbackUrl): known before registration. */
  callbackUrl: string;
}

export interface InstanceLookup extends RecognisedUrl {
  status: VisibleStatus;
  next: 'bootstrap' | 'wait' | 'login';
  /** Set once a bootstrap has started (not for unregistered). */
  instanceId?: string;
  /** bootstrapping: the step the running bootstrap is at. */
  step?: string;
  /** failed and degraded: what is wrong, as a code the frontend explains and our own title (never GitLab's text). */
  problem?: InstanceProblem | { code: ErrorCode; step: string; title: string };
}

/** A bootstrap whose lease ran out died with its process: it is failed, not still running. */
function visibleStatus(instance: InstanceLookupRow, now: Date): VisibleStatus {
  if (instance.status === 'removed') return 'unregistered';
  if (instance.status === 'bootstrapping' && (!instance.bootstrapLeaseUntil || instance.bootstrapLeaseUntil <= now)) return 'failed';
  return instance.status;
}

// A degraded instance still logs users in, unless GitLab refuses its OAuth application: then a bootstrap repairs it.
const nextStep = { unregistered: 'bootstrap', failed: 'bootstrap', bootstrapping: 'wait', ready: 'login', degraded: 'login' } as const;

const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(errorCatalog, code);

/** The progress or the problem lookup shows for a registered instance in a visible status. */
function progressOf(instance: InstanceLookupRow, status: VisibleStatus): Pick<InstanceLookup, 'step' | 'problem'> {
  if (status === 'bootstrapping') return instance.bootstrapStep ? { step: instance.bootstrapStep } : {};
  if (status !== 'failed' || !instance.lastErrorCode || !isErrorCode(instance.lastErrorCode)) return {};
  const step = instance.lastErrorStep ?? instance.bootstrapStep ?? 'unknown';
  return { problem: { code: instance.lastErrorCode, step, title: titleOf(instance.lastErrorCode) } };
}

/**
 * `input` normalised, checked against what the URL alone shows to be forbidden, and the redirect URI of
 * an application on it. Depends on `input` and the configuration alone (no DNS query, no database), so
 * ServiceDeps.recognisedUrls keeps its answers. Throws invalid_url, and url_not_allowed (step url) for
 * http:// without ALLOW_HTTP or a non-public IP literal.
 */
export function recogniseInstanceUrl(deps: Pick<ServiceDeps, 'config' | 'gitlabHttp'>, input: string): RecognisedUrl {
  const url = normalizeInstanceUrl(input);
  deps.gitlabHttp.assertUrlAllowed(url);
  return { url, callbackUrl: instanceCallbackUrl(deps.config.publicUrl, url) };
}

/**
 * What one kept answer of recognisedUrls counts against RECOGNISED_URLS_MAX_SIZE: its characters, and 64
 * for the entry itself (the LRU's slots, the answer's object), so that ~10 000 typical URLs fit.
 */
const recognisedSize = (input: string, { url, callbackUrl }: RecognisedUrl) => input.length + url.length + callbackUrl.length + 64;

/** About 2 MB of memory a process at most (one-byte strings: URLs are ASCII once normalised; what a user types mostly is). */
const RECOGNISED_URLS_MAX_SIZE = 2 * 1024 * 1024;

/** recogniseInstanceUrl with its answers kept within RECOGNISED_URLS_MAX_SIZE (boundedMemo): ServiceDeps.recognisedUrls. */
export function keptRecognition(deps: Pick<ServiceDeps, 'config' | 'gitlabHttp'>): (input: string) => RecognisedUrl {
  return boundedMemo((input) => recogniseInstanceUrl(deps, input), { maxSize: RECOGNISED_URLS_MAX_SIZE, sizeOf: recognisedSize });
}

/**
 * What is known of the instance at a URL the user typed: one indexed read (through the lookup cache),
 * no DNS query, no GitLab call. Throws what recogniseInstanceUrl throws.
 */
export async function lookupInstance(deps: ServiceDeps, input: string): Promise<InstanceLookup> {
  const { url, callbackUrl } = deps.recognisedUrls(input);
  const instance = await deps.instanceLookups.find(url);
  if (!instance) return { url, callbackUrl, status: 'unregistered', next: 'bootstrap' };
  const now = deps.clock();
  const degraded = instanceProblem(instance, now);
  if (degraded) return { url, callbackUrl, status: 'degraded', next: loginsBroken(instance) ? 'bootstrap' : nextStep.degraded, instanceId: instance.id, problem: degraded };
  const status = visibleStatus(instance, now);
  if (status === 'unregistered') return { url, callbackUrl, status, next: 'bootstrap' };
  return { url, callbackUrl, status, next: nextStep[status], instanceId: instance.id, ...progressOf(instance, status) };
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

/** How many installations (projects the bot is installed on) an instance has, and how many are broken (the upkeep's hook check marks them). */
export function installationCounts(deps: ServiceDeps, instanceId: string): Promise<{ total: number; broken: number }> {
  return countInstallations(deps.db, instanceId);
}
