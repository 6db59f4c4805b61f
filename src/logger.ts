// The pino logger: JSON lines. Secrets stay out in two ways: the request serializer writes no headers
// and no body (only method, redacted URL, id, address), and every field that can carry a secret is
// redacted by path wherever a log call passes it, at the top level or one object down (except on the
// line of a request that succeeded, which holds only what these serializers build: request-logging.ts).
import pino, { type DestinationStream, type Logger } from 'pino';

const secretFields = ['adminToken', 'botToken', 'token', 'accessToken', 'refreshToken', 'clientSecret', 'secret', 'password', 'codeVerifier', 'privateToken'];

const REDACTED_PATHS = secretFields.flatMap((field) => [field, `*.${field}`]);

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
        // Fastify's own for a reply, here so that a line logged outside Fastify's logger (the access line) has it too.
        res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      },
    },
    // Asynchronous stdout: lines written while a write is in flight go out together (one writev
    // instead of one write each under load); pino flushes what is left when the process exits.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
