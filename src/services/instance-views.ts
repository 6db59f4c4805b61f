// How instances and their events are shown to internal services: ids as numbers, dates as ISO strings,
// no secret column at all.
import type { Instance, InstanceEvent } from '../db/types.js';
import type { InstanceDetailsBody, InstanceEventBody } from '../schemas/internal.js';

const numberOrNull = (value: string | null) => (value === null ? null : Number(value));

export function instanceDetails(instance: Instance): InstanceDetailsBody {
  return {
    id: instance.id,
    url: instance.url,
    status: instance.status,
    gitlabVersion: instance.gitlab_version,
    bot: instance.bot_user_id && instance.bot_username ? { userId: Number(instance.bot_user_id), username: instance.bot_username } : null,
    oauthApplicationId: numberOrNull(instance.oauth_application_id),
    botTokenExpiresAt: instance.bot_token_expires_at?.toISOString() ?? null,
    lastError: instance.last_error_code ? { step: instance.last_error_step ?? 'unknown', code: instance.last_error_code, detail: instance.last_error_detail } : null,
    createdAt: instance.created_at.toISOString(),
    updatedAt: instance.updated_at.toISOString(),
  };
}

export function instanceEvent(event: InstanceEvent): InstanceEventBody {
  return {
    id: String(event.id),
    step: event.step,
    outcome: event.outcome,
    actor: event.actor,
    detail: event.detail,
    errorCode: event.error_code,
    createdAt: event.created_at.toISOString(),
  };
}
