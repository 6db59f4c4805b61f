// application/problem+json (RFC 9457): the body of every error answer.
import Type, { type Static } from 'typebox';
import { ref } from './ref.js';
import { errorCatalog, type ErrorCode } from '../errors.js';
import { problemExample } from './examples.js';

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URI naming the problem type', examples: ['urn:gitlab-connect:problem:invalid_url'] }),
    title: Type.String({ description: 'Short summary of the problem type' }),
    status: Type.Integer({ description: 'HTTP status code' }),
    detail: Type.String({ description: 'What went wrong in this occurrence, safe to show to the user' }),
    code: Type.String({ enum: Object.keys(errorCatalog), description: 'Stable machine-readable error code' }),
    step: Type.Optional(Type.String({ description: 'The bootstrap step that failed' })),
    missingScopes: Type.Optional(Type.Array(Type.String(), { description: 'Scopes the token (admin or bot) lacks' })),
    retryAfter: Type.Optional(Type.Integer({ description: 'Seconds to wait before retrying' })),
    instanceId: Type.Optional(Type.String({ description: 'instance_already_registered: the instance this GitLab is registered as' })),
    canonicalUrl: Type.Optional(Type.String({ description: 'instance_already_registered: the URL it is registered under' })),
    reason: Type.Optional(
      Type.String({
        description:
          'Why, for codes with several causes: `dns`, `refused`, `reset`, `network` (gitlab_unreachable); `unknown_ca`, `incomplete_chain`, `expired`, `hostname_mismatch`, `self_signed` (gitlab_tls_error); `ldap_blocked`, `terms_not_accepted`, `user_cap_reached`, … (bot_account_unusable); `application_gone` (unauthenticated)',
      }),
    ),
    location: Type.Optional(Type.String({ description: 'gitlab_redirected: where the URL redirects to; use it instead' })),
    suggestedUrl: Type.Optional(Type.String({ description: 'not_gitlab: a nearby address where a GitLab answers' })),
    errors: Type.Optional(
      Type.Array(
        Type.Object({ field: Type.String({ description: 'JSON pointer or parameter name' }), message: Type.String({ description: 'What is wrong with it' }) }, { additionalProperties: false }),
        { description: 'The fields that failed validation' },
      ),
    ),
    requestId: Type.Optional(Type.String({ description: 'The request id, for support' })),
  },
  { $id: 'Problem', additionalProperties: false, description: 'An RFC 9457 problem' },
);

export type ProblemBody = Static<typeof Problem>;

const problemRef = ref(Problem);

/** What any route that calls GitLab may answer when GitLab fails it. */
export const GITLAB_FAILURES = ['gitlab_unreachable', 'gitlab_tls_error', 'gitlab_blocked', 'gitlab_redirected', 'gitlab_error', 'gitlab_rate_limited', 'gitlab_timeout'] as const satisfies readonly ErrorCode[];

/** What the checks of manually given credentials (register, PUT credentials) may refuse them with. */
export const MANUAL_CREDENTIAL_FAILURES = ['bot_token_invalid', 'bot_token_expired', 'bot_token_revoked', 'bot_token_missing_scope', 'bot_token_is_admin', 'oauth_client_invalid'] as const satisfies readonly ErrorCode[];

/** A response map entry per status for the codes a route can answer with. */
export function problemResponses(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'internal_error' as const]) {
    const { status } = errorCatalog[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, statusCodes]) => [
      status,
      {
        description: `Problem: ${statusCodes.join(', ')}`,
        content: {
          'application/problem+json': {
            schema: problemRef,
            examples: Object.fromEntries(statusCodes.map((code) => [code, { summary: errorCatalog[code].title, value: problemExample(code) }])),
          },
        },
      },
    ]),
  );
}
