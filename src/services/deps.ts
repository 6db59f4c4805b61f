// What every service takes first: the dependencies buildApp assembles once. The request logger is not
// among them: it is passed with each call, so log lines carry the request id.
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { InstanceLookupCache } from '../cache/instance-lookup-cache.js';
import type { UserCache } from '../cache/user-cache.js';
import type { WebhookFeedWaiters } from '../cache/webhook-feed-waiters.js';
import type { Config } from '../config.js';
import type { Sealer } from '../crypto/sealer.js';
import type { DB } from '../db/types.js';
import type { GitlabApi, GitlabTarget } from '../gitlab/api.js';
import type { GitlabHttp, GitlabLog } from '../gitlab/http.js';
import type { BootstrapCapacity } from './bootstrap/capacity.js';

/** What lookup makes of the text a user typed before it reads anything (ServiceDeps.recognisedUrls). */
export interface RecognisedUrl {
  /** The normalised URL (normalizeInstanceUrl). */
  url: string;
  /** The OAuth redirect URI of the instance's application (instanceCallbackUrl): known before registration. */
  callbackUrl: string;
}

/** The current time; tests inject one they can move. */
export type Clock = () => Date;

export interface ServiceDeps {
  db: Kysely<DB>;
  /** The public lookup's read of an instance by URL, through the per-process cache. */
  instanceLookups: InstanceLookupCache;
  /** recogniseInstanceUrl with its answers kept (bounded): what lookup makes of the text a user typed. */
  recognisedUrls: (input: string) => Readonly<RecognisedUrl>;
  /** The reads of a live session and of a user's token state, through the per-process cache. */
  userCache: UserCache;
  config: Config;
  sealer: Sealer;
  /** The typed GitLab REST calls. */
  gitlab: GitlabApi;
  /** The guarded transport under them (address policy, OAuth fetch adapter). */
  gitlabHttp: GitlabHttp;
  clock: Clock;
  /** Long-polling webhook feed readers of this process, woken by stored events (LISTEN/NOTIFY). */
  webhookFeed: WebhookFeedWaiters;
  /** This process's cap on concurrent bootstraps (BOOTSTRAP_MAX_CONCURRENT). */
  bootstraps: BootstrapCapacity;
}

/** The per-request logger a service logs to (Fastify's request.log satisfies it). */
export type RequestLog = Pick<Logger, 'info' | 'warn' | 'error'>;

/** The one way to address an instance's GitLab: its URL, the CA it trusts, and the request's logger. */
export function gitlabTargetOf(instance: { url: string; caCertificate: string | null }, log: GitlabLog): GitlabTarget {
  return { url: instance.url, caCertificate: instance.caCertificate, log };
}

/** gitlabTargetOf for calls that may create or rotate a credential: those wait GITLAB_CREDENTIAL_TIMEOUT_MS. */
export function credentialTargetOf(deps: Pick<ServiceDeps, 'config'>, instance: { url: string; caCertificate: string | null }, log: GitlabLog): GitlabTarget {
  return { ...gitlabTargetOf(instance, log), credentialTimeoutMs: deps.config.gitlabCredentialTimeoutMs };
}
