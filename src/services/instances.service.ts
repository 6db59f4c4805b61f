// Reading instances: the public lookup (through the lookup cache), and the internal views (one instance,
// all, an audit trail).
import type { InstanceLookupRow } from '../db/instance-lookup.repo.js';
import { titleOf } from '../diagnoses.js';
import { countInstallations } from '../db/installations.repo.js';
import { findInstanceById, listInstanceEvents, listInstances } from '../db/instances.repo.js';
import type { Instance, InstanceEvent } from '../domain/types.js';
import { instanceCallbackUrl, loginUrlOf } from '../auth-paths.js';
import { boundedMemo } from '../cache/bounded-memo.js';
import { AppError, errorCatalog, type ErrorCode } from '../errors.js';
import type { RecognisedUrl, ServiceDeps } from './deps.js';
import { normalizeInstanceUrl } from './instance-url.js';
import { instanceProblem, loginsBroken, type InstanceProblem } from './instance-health.js';

export { instanceProblem, type InstanceProblem } from './instance-health.js';

/** The instance, or instance_not_found: the one answer for an unknown instance id. */
export function foundInstance(instance: Instance | undefined, id: string): Instance {
  if (!instance) throw new AppError('instance_not_found', `No instance ${id}`);
  return instance;
}

export type VisibleStatus = 'unregistered' | 'bootstrapping' | 'failed' | 'ready' | 'degraded';

export interface InstanceLookup extends RecognisedUrl {
  status: VisibleStatus;
  next: 'bootstrap' | 'wait' | 'login';
  /** Set once a bootstrap has started (not for unregistered). */
  instanceId?: string;
  /** bootstrapping: the step the running bootstrap is at. */
  step?: string;
  /** failed and degraded: what is wrong, as a code the frontend explains and our own title (never GitLab's text). */
  problem?: InstanceProblem | { code: ErrorCode; step: string; title: string };
  /** next login: the absolute URL of GET /auth/gitlab/start for this instance (loginUrlOf). */
  loginUrl?: string;
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

/** Sets the progress (`step`) or the problem lookup shows for a registered instance in a visible status, if any. */
function addProgress(answer: InstanceLookup, instance: InstanceLookupRow, status: VisibleStatus): void {
  if (status === 'bootstrapping') {
    if (instance.bootstrapStep) answer.step = instance.bootstrapStep;
    return;
  }
  if (status !== 'failed' || !instance.lastErrorCode || !isErrorCode(instance.lastErrorCode)) return;
  const step = instance.lastErrorStep ?? instance.bootstrapStep ?? 'unknown';
  answer.problem = { code: instance.lastErrorCode, step, title: titleOf(instance.lastErrorCode) };
}

/**
 * `input` normalised, checked against what the URL alone shows to be forbidden, and the redirect URI of
 * an application on it; frozen, since keptRecognition hands the same answer to every caller. Depends on
 * `input` and the configuration alone (no DNS query, no database, no clock). Throws invalid_url, and
 * url_not_allowed (step url) for http:// without ALLOW_HTTP or a non-public IP literal.
 */
function recogniseInstanceUrl(deps: Pick<ServiceDeps, 'config' | 'gitlabHttp'>, input: string): Readonly<RecognisedUrl> {
  const url = normalizeInstanceUrl(input);
  deps.gitlabHttp.assertUrlAllowed(url);
  return Object.freeze({ url, callbackUrl: instanceCallbackUrl(deps.config.publicUrl, url) });
}

/**
 * What one kept answer counts against RECOGNISED_URLS_MAX_SIZE, in bytes: two a character (the most a
 * JavaScript string takes: a character beyond Latin-1 makes the whole string two bytes a character),
 * and 320 for the entry itself (the LRU's slots, the answer object, the strings' headers and the callback
 * URL's unflattened parts: 310–330 measured). An upper bound: an ASCII entry takes about half its count.
 */
const recognisedSize = (input: string, { url, callbackUrl }: Readonly<RecognisedUrl>) => 2 * (input.length + url.length + callbackUrl.length) + 320;

/** 4 MiB of heap a process at most: ~6 000 typical URLs (an entry of a 30-character input counts ~650). */
const RECOGNISED_URLS_MAX_SIZE = 4 * 1024 * 1024;

/**
 * recogniseInstanceUrl with its answers kept within RECOGNISED_URLS_MAX_SIZE (boundedMemo):
 * ServiceDeps.recognisedUrls. Always on (LOOKUP_CACHE_SIZE bounds the lookup cache, not this): an answer
 * depends on nothing that changes while the process runs, so it can never be stale.
 */
export function keptRecognition(deps: Pick<ServiceDeps, 'config' | 'gitlabHttp'>): (input: string) => Readonly<RecognisedUrl> {
  return boundedMemo((input) => recogniseInstanceUrl(deps, input), { maxSize: RECOGNISED_URLS_MAX_SIZE, sizeOf: recognisedSize });
}

/**
 * What is known of the instance at a URL the user typed: one indexed read (through the lookup cache),
 * no DNS query, no GitLab call; with `loginUrl` when the next step is login. Throws what
 * recogniseInstanceUrl throws. The answer is built in place rather than spread from parts: a spread of
 * objects of varying shapes cost ~12 µs of a cached lookup's ~85 (bench, interleaved A/B).
 */
export async function lookupInstance(deps: ServiceDeps, input: string): Promise<InstanceLookup> {
  const { url, callbackUrl } = deps.recognisedUrls(input);
  const instance = await deps.instanceLookups.find(url);
  if (!instance) return { url, callbackUrl, status: 'unregistered', next: 'bootstrap' };
  const now = deps.clock();
  const degraded = instanceProblem(instance, now);
  const status = degraded ? 'degraded' : visibleStatus(instance, now);
  if (status === 'unregistered') return { url, callbackUrl, status, next: 'bootstrap' };
  const next = degraded && loginsBroken(instance) ? 'bootstrap' : nextStep[status];
  const answer: InstanceLookup = { url, callbackUrl, status, next, instanceId: instance.id };
  if (degraded) answer.problem = degraded;
  else addProgress(answer, instance, status);
  if (next === 'login') answer.loginUrl = loginUrlOf(deps.config.publicUrl, instance.id);
  return answer;
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
