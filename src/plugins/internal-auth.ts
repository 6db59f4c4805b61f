// Authentication of the internal routes: `Authorization: Bearer <one of INTERNAL_API_TOKENS>`, compared
// in constant time. With no token configured every call is refused. Internal route files call
// registerInternalAuth(scope) inside their own (encapsulated) plugin.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerTokenOf, sameSecret } from '../crypto/tokens.js';
import { AppError } from '../errors.js';

/** A hook that accepts exactly the configured tokens; every configured token is compared, whatever matches. */
function internalTokenCheck(tokens: readonly string[]) {
  return async function requireInternalToken(request: FastifyRequest): Promise<void> {
    if (tokens.length === 0) throw new AppError('internal_unauthorized', 'Internal routes are disabled: INTERNAL_API_TOKENS is not set');
    const presented = bearerTokenOf(request.headers.authorization);
    if (!presented) throw new AppError('internal_unauthorized', 'An internal API bearer token is required');
    let matched = false;
    for (const token of tokens) matched = sameSecret(presented, token) || matched;
    if (!matched) throw new AppError('internal_unauthorized', 'The internal API token is not valid');
  };
}

/** Guards every route of `scope` (call it inside the route plugin, which Fastify encapsulates). */
export function registerInternalAuth(scope: FastifyInstance): void {
  scope.addHook('onRequest', internalTokenCheck(scope.deps.config.internalApiTokens));
}
