// How the routes present what services return: dates as ISO strings, GitLab ids as numbers, no secret.
import type { Config } from '../config.js';
import type { Installation, Instance, InstanceEvent } from '../domain/types.js';
import type { Deprovisioned } from '../services/deprovision.service.js';
import type { InstanceProblem } from '../services/instances.service.js';
import { instanceNotices } from '../services/instance-health.js';
import { botTokenNextRotation } from '../services/upkeep/instance-tasks.js';
import type { InstanceDetailsBody, InstanceEventBody } from '../schemas/internal.js';

const numberOrNull = (value: string | null) => (value === null ? null : Number(value));

/** An instance for the internal routes; `problem` is what makes it degraded at `now` (instanceProblem). */
export function instanceDetails(instance: Instance, problem: InstanceProblem | undefined, config: Config): InstanceDetailsBody {
  return {
    id: instance.id,
    url: instance.url,
    status: problem ? 'degraded' : instance.status,
    mode: instance.mode,
    problem: problem ?? null,
    health: {
      checkedAt: instance.checkedAt?.toISOString() ?? null,
      nextCheckAt: instance.status === 'ready' ? (instance.nextCheckAt?.toISOString() ?? null) : null,
      problems: problem ? [problem] : [],
      notices: instanceNotices(instance),
    },
    gitlabVersion: instance.gitlabVersion,
    bot: instance.botUserId && instance.botUsername ? { userId: Number(instance.botUserId), username: instance.botUsername } : null,
    oauthApplicationId: numberOrNull(instance.oauthApplicationId),
    botTokenExpiresAt: instance.botTokenExpiresAt?.toISOString() ?? null,
    botTokenRotatesAt: instance.status === 'ready' ? (botTokenNextRotation(config, instance)?.toISOString() ?? null) : null,
    lastError: instance.lastErrorCode ? { step: instance.lastErrorStep ?? 'unknown', code: instance.lastErrorCode, detail: instance.lastErrorDetail } : null,
    createdAt: instance.createdAt.toISOString(),
    updatedAt: instance.updatedAt.toISOString(),
  };
}

export function instanceEvent(event: InstanceEvent): InstanceEventBody {
  return {
    id: String(event.id),
    step: event.step,
    outcome: event.outcome,
    actor: event.actor,
    detail: event.detail,
    errorCode: event.errorCode,
    createdAt: event.createdAt.toISOString(),
  };
}

/** An installation as the repository routes show it (never its token hash). */
export function installationView(publicUrl: string, installation: Installation) {
  return {
    id: installation.id,
    projectId: Number(installation.projectId),
    pathWithNamespace: installation.pathWithNamespace,
    hookId: numberOrNull(installation.hookId),
    webhookUrl: `${publicUrl}/webhooks/gitlab/${installation.id}`,
    membershipAddedByUs: installation.membershipAddedByUs,
    brokenReason: installation.brokenReason,
    createdAt: installation.createdAt.toISOString(),
    updatedAt: installation.updatedAt.toISOString(),
  };
}

/** A removal's answer (DeprovisionResult): the instance is `removed`; leftovers' expiry as RFC 3339. */
export function deprovisionView(removed: Deprovisioned) {
  const { leftOnGitlab } = removed;
  return {
    instanceId: removed.instanceId,
    status: 'removed' as const,
    gitlab: removed.gitlab,
    leftOnGitlab: leftOnGitlab && { ...leftOnGitlab, botTokenExpiresAt: leftOnGitlab.botTokenExpiresAt?.toISOString() ?? null },
  };
}
