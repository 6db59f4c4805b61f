// The pino logger: JSON lines, with every header and field that can carry a secret redacted by path.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type DestinationStream, type Logger } from 'pino';

const secretFields = ['adminToken', 'botToken', 'token', 'accessToken', 'refreshToken', 'clientSecret', 'secret', 'password', 'codeVerifier', 'privateToken'];

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["private-token"]',
  'res.headers["set-cookie"]',
  ...secretFields.flatMap((field) => [field, `*.${field}`, `body.${field}`, `req.body.${field}`]),
];

const secretQueryParameter = /code|state|token|secret|verifier/i;

/** The request path with the values of secret-looking query parameters (OAuth code, state) removed. */
function redactedUrl(url: string): string {
  const [path = '', query] = url.split('?', 2) as (string | undefined)[];
  if (query === undefined) return url;
  const params = new URLSearchParams(query);
  for (const key of params.keys()) if (secretQueryParameter.test(key)) params.set(key, '[redacted]');
  return `${path}?${params.toString()}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  id: string;
  ip?: string;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: {
        err: pino.stdSerializers.err,
        req: (request: LoggedRequest) => ({ method: request.method, url: redactedUrl(request.url), requestId: request.id, remoteAddress: request.ip }),
      },
    },
    // Asynchronous stdout: lines written while a write is in flight go out together (one writev
    // instead of one write each under load); pino flushes what is left when the process exits.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

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
