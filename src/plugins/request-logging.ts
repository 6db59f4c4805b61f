// Fastify's request logging (the line per request); the logger itself and its redaction are src/logger.ts.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/**
 * Fastify's request logging in one line per request instead of two: the request (method, redacted
 * URL, id, address), the status and the time, written when the response is finished.
 *
 * The line of a request that succeeded goes through `accessLog`: `logger` without path redaction
 * (`redact: []`), because every field of that line is one the serializers of src/logger.ts build (no
 * header, no body, secret query values already replaced), and redaction's wildcard paths (`*.token`)
 * would copy `req` and `res` on every request to look for fields they cannot hold (~15 µs of CPU a
 * request). A failed request's line carries the error and goes through the request's own, redacted logger.
 * The access line writes the request id as `reqId`, Fastify's default label (the app sets no other); it
 * does not see a route's own `logLevel` or `logSerializers`, which no route sets.
 */
export class OneLinePerRequest extends LogController {
  private readonly accessLog: Logger;

  constructor(logger: Logger) {
    super();
    this.accessLog = logger.child({}, { redact: [] });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else this.accessLog.info({ reqId: request.id, req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
