// "Only its own resources" (contract): every OAuth application and bot token this service creates on
// GitLab carries a marker naming this deployment (a digest of PUBLIC_URL) and the instance record, and
// the clean-up of leftovers deletes or revokes only what bears this instance's own marker. Another
// deployment (another PUBLIC_URL) or another instance record on the same GitLab has another marker, so
// its resources are never touched. Resources of an instance set up before markers existed carry none:
// they are recognised by the ids stored for the instance, and never cleaned up by name.
import { createHash } from 'node:crypto';

/** Hex digits of sha256(PUBLIC_URL) kept: enough to tell deployments apart, short enough for any name. */
const DEPLOYMENT_DIGEST_LENGTH = 12;
/** The host shown in an application's name is cut to this, so the name stays far below GitLab's 255. */
const MAX_HOST_IN_NAME = 80;

/** The deployment's id: the first hex digits of sha256 of `publicUrl` (PUBLIC_URL as configured). */
export function deploymentId(publicUrl: string): string {
  return createHash('sha256').update(publicUrl).digest('hex').slice(0, DEPLOYMENT_DIGEST_LENGTH);
}

/**
 * `[gc:<deployment>:<instance id>]`: at most 53 characters (12 hex digits and a UUID), so every name
 * carrying it stays under the 255 characters GitLab stores for a token or application name
 * (personal_access_tokens.name and oauth_applications.name are `character varying`, Rails' 255 in the
 * forms that show them; app/models/personal_access_token.rb validates presence only).
 */
export function resourceMarker(publicUrl: string, instanceId: string): string {
  return `[gc:${deploymentId(publicUrl)}:${instanceId}]`;
}

/** The name of a bot token: GitLab copies it onto the rotated token (app/services/personal_access_tokens/rotate_service.rb create_token_params). */
export function botTokenName(publicUrl: string, instanceId: string): string {
  return `gitlab-connect ${resourceMarker(publicUrl, instanceId)}`;
}

/** The name of the instance's OAuth application, shown to users on GitLab's consent page: the service's host, then the marker. */
export function oauthApplicationName(publicUrl: string, instanceId: string): string {
  return `gitlab-connect (${new URL(publicUrl).host.slice(0, MAX_HOST_IN_NAME)}) ${resourceMarker(publicUrl, instanceId)}`;
}

/** Does a GitLab token or application name carry this instance's own marker? */
export function carriesMarker(name: string, publicUrl: string, instanceId: string): boolean {
  return name.includes(resourceMarker(publicUrl, instanceId));
}
