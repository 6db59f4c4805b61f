// The one table of what each failure means to a GitLab administrator (or to this service's operator,
// e.g. upkeep_disabled, or to a caller of its API, e.g. validation_failed): per error code (and per
// `reason` where a code has several causes) a title and the advice (what is wrong, what to do, where
// in GitLab's admin area, in this service's configuration or in its API). Problem
// details, lookup's `problem`, the OpenAPI examples and the README's "Troubleshooting" section
// (scripts/troubleshooting.ts) all read it.
import { errorCatalog, type ErrorCode } from './errors.js';

export interface Diagnosis {
  title: string;
  advice: string;
}

interface DiagnosisEntry {
  advice: string;
  /** Causes of one code that need different fixes; the problem's `reason` names one. */
  reasons?: Record<string, Diagnosis>;
}

const EGRESS = 'allow-list the egress IPs this service reports at GET /meta (in the firewall, proxy or CDN in front of GitLab)';
const NEW_ADMIN_TOKEN =
  'create a personal access token with scope `api` as an administrator (and `admin_mode` when Admin Mode is on): Avatar > Edit profile > Access tokens, then run the bootstrap again with it';

export const unreachableReasons = ['dns', 'refused', 'reset', 'network'] as const;
export type UnreachableReason = (typeof unreachableReasons)[number];
export const tlsReasons = ['unknown_ca', 'incomplete_chain', 'expired', 'hostname_mismatch', 'self_signed'] as const;
export type TlsReason = (typeof tlsReasons)[number];

/**
 * Advice per code; codes absent here name the fix in each occurrence's detail (method_not_allowed,
 * database_unavailable, bot_username_taken, bot_account_unusable and its reasons: bootstrap/bot-account.ts)
 * or are for this service's operator to look into (internal_error: the log line with the request id).
 */
export const diagnoses = {
  invalid_url: { advice: 'Type the address you open GitLab at in the browser, e.g. https://git.example.com or https://example.com/gitlab (no user name, query or fragment; a host name of at most 253 characters, 63 per label).' },
  url_not_allowed: {
    advice: 'Use the https:// address of GitLab on a public IP address; a GitLab on a private network or over plain http:// needs this service to run with ALLOW_PRIVATE_NETWORKS=true or ALLOW_HTTP=true (ask its operator).',
  },
  not_gitlab: {
    advice: 'Check the address: use the address GitLab answers at (Admin area > Settings > General shows it as the external URL), not the address of a project or page; a GitLab under a path needs that path, e.g. https://example.com/gitlab. suggestedUrl names a GitLab found nearby.',
  },
  gitlab_redirected: {
    advice: 'The address answers with a redirect, which this service never follows: use the address in `location` instead (usually the new domain or the https:// address GitLab moved to).',
  },
  gitlab_blocked: {
    advice: `A proxy, firewall or bot challenge (a CDN "checking your browser" page, a WAF) answered instead of GitLab: ${EGRESS}, or exempt /api/v4, /oauth and /.well-known from the challenge.`,
  },
  gitlab_version_unsupported: { advice: 'Upgrade GitLab to 16.0 or later (Admin area > Overview > Dashboard shows the version), then run the bootstrap again.' },
  token_invalid: { advice: `GitLab does not know the token: ${NEW_ADMIN_TOKEN}.` },
  token_expired: { advice: `The token is past its expiry date: ${NEW_ADMIN_TOKEN}.` },
  token_revoked: { advice: `The token was revoked or deactivated: ${NEW_ADMIN_TOKEN}.` },
  token_not_admin: { advice: `The token's user is not an administrator (Admin area > Overview > Users shows who is): ${NEW_ADMIN_TOKEN}.` },
  token_missing_scope: { advice: `The token lacks a scope listed in missingScopes: ${NEW_ADMIN_TOKEN}.` },
  admin_mode_scope_required: {
    advice: `Admin Mode is on (Admin area > Settings > General > Sign-in restrictions), so admin calls need the admin_mode scope: ${NEW_ADMIN_TOKEN}.`,
  },
  gitlab_unreachable: {
    advice: `No connection to GitLab could be made; ${EGRESS}.`,
    reasons: {
      dns: { title: "GitLab's host name does not resolve", advice: 'The host name has no DNS record reachable from this service: check its spelling, and that the name is public (not only in an internal DNS).' },
      refused: { title: 'GitLab refused the connection', advice: `Nothing accepts connections at that port: check the port in the URL and that GitLab's web server (nginx) runs; ${EGRESS}.` },
      reset: { title: 'The connection to GitLab was cut', advice: `The connection was reset while talking to GitLab, usually by a firewall or load balancer: ${EGRESS}.` },
      network: { title: 'GitLab cannot be reached over the network', advice: `No route to GitLab's address: ${EGRESS}, and check that the address is reachable from the internet.` },
    },
  },
  gitlab_tls_error: {
    advice: "GitLab's HTTPS certificate cannot be verified: fix the certificate on GitLab (nginx['ssl_certificate'] in /etc/gitlab/gitlab.rb) or paste the CA that signs it as caCertificate.",
    reasons: {
      unknown_ca: { title: "GitLab's certificate is signed by an unknown CA", advice: 'The certificate is signed by a private certificate authority: paste the PEM of that CA (the root, or the intermediate that issued the certificate) as caCertificate.' },
      incomplete_chain: {
        title: 'GitLab sends its certificate without the intermediate certificates',
        advice: "GitLab sends only its own certificate, not the chain up to a trusted CA: put the full chain (certificate followed by its intermediates) into nginx['ssl_certificate'] in /etc/gitlab/gitlab.rb, or paste the PEM of the CA that issued GitLab's certificate (the intermediate is enough) as caCertificate.",
      },
      expired: { title: "GitLab's certificate has expired (or is not valid yet)", advice: "Renew GitLab's certificate (Let's Encrypt: letsencrypt['enable'] in /etc/gitlab/gitlab.rb, then gitlab-ctl reconfigure) and check the server's clock." },
      hostname_mismatch: { title: "GitLab's certificate is for another host name", advice: "The certificate does not name the host in the URL: use the host name the certificate is issued for, or issue a certificate that names this host (subjectAltName)." },
      self_signed: { title: 'GitLab uses a self-signed certificate', advice: 'GitLab presents a self-signed certificate: paste that certificate (PEM) as caCertificate, or install one from a trusted CA.' },
    },
  },
  gitlab_error: { advice: 'GitLab answered with an error: check GitLab\'s health (Admin area > Monitoring > Health check) and its logs (gitlab-ctl tail), then try again.' },
  gitlab_rate_limited: { advice: 'GitLab is throttling requests (Admin area > Settings > Network > User and IP rate limits): wait retryAfter seconds, or raise the limits or exempt the egress IPs from GET /meta.' },
  gitlab_timeout: { advice: `GitLab did not answer in time: check that it is up and not overloaded; if a firewall silently drops the connection, ${EGRESS}.` },
  webhook_url_blocked: {
    advice:
      "GitLab refuses webhook URLs on a local network by default: an administrator allows them in Admin area > Settings > Network > Outbound requests (tick \"Allow requests to the local network from webhooks and integrations\", or add this service's host to the local IP/domain allowlist), then install again.",
  },
  project_access_insufficient: { advice: "Installing the bot needs the Maintainer role (or Owner) on the project: ask a project Maintainer to install it, or to give you the Maintainer role (Project > Manage > Members)." },
  upkeep_disabled: {
    advice:
      'This process was started with UPKEEP_ENABLED=false, so it runs no upkeep and cannot queue a sweep: set UPKEEP_ENABLED=true and restart it (the upkeep runs each job once across all replicas, so any number of them may run it), or send the request to a replica that runs the upkeep.',
  },
  validation_failed: { advice: "Correct what the detail (and `errors`, when present) names and send the request again; the OpenAPI document (GET /openapi.json, or the pages at /docs) gives each field's rules." },
  invalid_json: { advice: 'Send the body as one JSON object with Content-Type: application/json (a route whose body is optional also takes no body and no Content-Type).' },
  not_found: { advice: 'Check the path and the method against the OpenAPI document (GET /openapi.json, or the pages at /docs).' },
  unauthenticated: {
    advice: "Log in (again) through the instance's loginUrl, which GET /instances/lookup?url=<GitLab URL> gives, then send the gc_session cookie it sets or Authorization: Bearer <session token>.",
    reasons: {
      application_gone: {
        title: "GitLab no longer accepts the instance's OAuth application",
        advice: 'The OAuth application was deleted or its secret replaced on GitLab: an administrator repairs the instance by running the bootstrap again (POST /instances/bootstrap); then log in again.',
      },
    },
  },
  instance_not_found: { advice: 'Look the instance up by its GitLab URL (GET /instances/lookup?url=<GitLab URL>): its instanceId is the id to use here.' },
  internal_unauthorized: {
    advice: "This service's operator lists the accepted tokens in INTERNAL_API_TOKENS (comma-separated, each `name:token` or a bare token, 16 characters at least) and restarts the service to apply a change; send one as `Authorization: Bearer <token>` (of a `name:token` entry, the part after `name:`).",
  },
  user_not_found: {
    advice: "Use the user's `id` as GET /me answers it (the frontend passes it on; an instanceId or GitLab's own user id is not it): a user exists once they have logged in through GET /auth/gitlab/start, one per GitLab instance, and ids belong to this service's database, so after a new database (another DATA_DIR or DATABASE_URL) every user logs in again and has a new id.",
  },
  token_exchange_failed: { advice: "GitLab refused the login's authorization code: start the login again; if it keeps failing, run the bootstrap again to repair the OAuth application (Admin area > Applications)." },
} as const satisfies Partial<Record<ErrorCode, DiagnosisEntry>>;

export type DiagnosedCode = keyof typeof diagnoses;

const entryOf = (code: ErrorCode): DiagnosisEntry | undefined => (diagnoses as Partial<Record<ErrorCode, DiagnosisEntry>>)[code];

/** Title and advice of a code (its reason's when one is given and known); undefined when the table has no advice. */
export function diagnosisOf(code: ErrorCode, reason?: string): Diagnosis | undefined {
  const entry = entryOf(code);
  if (!entry) return undefined;
  const specific = reason ? entry.reasons?.[reason] : undefined;
  return specific ?? { title: errorCatalog[code].title, advice: entry.advice };
}

/** The problem title of a code and reason: the reason's own when it has one, else the catalogue's. */
export function titleOf(code: ErrorCode, reason?: string): string {
  return diagnosisOf(code, reason)?.title ?? errorCatalog[code].title;
}

/** A detail for whoever must act (a GitLab admin, the operator, an API caller): what happened in this occurrence, then what to do about it (the table's advice). */
export function adviseDetail(code: ErrorCode, occurrence: string, reason?: string): string {
  const diagnosis = diagnosisOf(code, reason);
  if (!diagnosis || occurrence.includes(diagnosis.advice)) return occurrence;
  return `${occurrence.replace(/[.\s]+$/, '')}. ${diagnosis.advice}`;
}
