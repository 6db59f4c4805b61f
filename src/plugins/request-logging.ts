// Fastify's request logging (the line per request); the logger itself and its redaction are src/logger.ts.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * Fastify's request logging in one line per request instead of two: the request (method, redacted
 * URL, id, address), the status and the time, written when the response is finished.
 */
export class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
