// Authentication of the internal routes: `Authorization: Bearer <one of INTERNAL_API_TOKENS>`, compared
// in constant time. With no token configured every call is refused. Internal route files call
// registerInternalAuth(scope) inside their own (encapsulated) plugin; the matched token's name is the
// request's `internalCaller`, which the audit trail records.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { InternalCaller } from '../config.js';
import { bearerTokenOf, sameSecret } from '../crypto/tokens.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The INTERNAL_API_TOKENS name of the token this internal request presented. */
    internalCaller?: string;
  }
}

/** A hook that accepts exactly the configured tokens; every configured token is compared, whatever matches. */
function internalTokenCheck(callers: readonly InternalCaller[]) {
  // A Promise (the onRequest hook has no `done`); a throw in the executor rejects it, as in an async function.
  return (request: FastifyRequest): Promise<void> => new Promise((resolve) => {
    if (callers.length === 0) throw new AppError('internal_unauthorized', 'Internal routes are disabled: INTERNAL_API_TOKENS is not set');
    const presented = bearerTokenOf(request.headers.authorization);
    if (!presented) throw new AppError('internal_unauthorized', 'An internal API bearer token is required');
    let matched: string | undefined;
    for (const caller of callers) if (sameSecret(presented, caller.token)) matched ??= caller.name;
    if (!matched) throw new AppError('internal_unauthorized', 'The internal API token is not valid');
    request.internalCaller = matched;
    resolve();
  });
}

/** The audit trail's actor for an internal request: the token's name and the client address. */
export function internalActorOf(request: FastifyRequest): string {
  return `internal API caller ${request.internalCaller ?? 'unknown'} from ${request.ip}`;
}

/** Guards every route of `scope` (call it inside the route plugin, which Fastify encapsulates). */
export function registerInternalAuth(scope: FastifyInstance): void {
  // Declared on the request before any is made, so every request of the scope has the same shape.
  scope.decorateRequest('internalCaller', undefined);
  scope.addHook('onRequest', internalTokenCheck(scope.deps.config.internalCallers));
}
