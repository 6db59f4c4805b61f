// The service configuration: one TypeBox schema is both the validation and the type of every
// environment variable. Only this file and server.ts read process.env.
import { isIP } from 'node:net';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { callbackUrlOf } from './auth-paths.js';

const Bool = (description: string) =>
  Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'false', description });

const base64Key = '^[A-Za-z0-9+/]{43}=$';

export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'port to listen on' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'address to listen on' }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$', description: "this service's external base URL" })),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection string' })),
  DATA_DIR: Type.String({ minLength: 1, default: './data', description: 'embedded database and development key' }),
  ENCRYPTION_KEY: Type.Optional(Type.String({ pattern: base64Key, description: '32 random bytes, base64' })),
  PREVIOUS_ENCRYPTION_KEYS: Type.Optional(Type.String({ pattern: `^${base64Key.slice(1, -1)}(,${base64Key.slice(1, -1)})*$`, description: 'comma-separated retired keys that still decrypt' })),
  INTERNAL_API_TOKENS: Type.Optional(
    Type.String({
      pattern: '^[^,\\s]{16,}(,[^,\\s]{16,})*$',
      description: "comma-separated bearer tokens, each 'name:token' or a bare token (named token-1, token-2… by position); tokens 16 characters at least",
    }),
  ),
  EGRESS_IPS: Type.String({ default: '', description: 'comma-separated CIDRs' }),
  FRONTEND_URL: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+/?$', description: "the frontend's origin" })),
  BOT_USERNAME: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$', default: 'review-bot', description: 'bot username on each instance' }),
  OAUTH_SCOPES: Type.String({ pattern: '^[a-z_]+( [a-z_]+)*$', default: 'api read_user openid email', description: 'space-separated OAuth scopes' }),
  ALLOW_PRIVATE_NETWORKS: Bool('allow GitLab URLs on non-public addresses'),
  ALLOW_HTTP: Bool('allow http:// GitLab URLs'),
  GITLAB_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000, description: 'per-request timeout towards GitLab' }),
  GITLAB_CREDENTIAL_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 60000, description: 'timeout of GitLab calls that change a credential (token rotation and creation): long enough for a slow GitLab to finish' }),
  LEASE_MS: Type.Integer({ minimum: 200, maximum: 600000, default: 30000, description: 'a refresh, rotation or bootstrap lease lapses this long after its holder stopped renewing it' }),
  LEASE_HEARTBEAT_MS: Type.Integer({ minimum: 50, maximum: 300000, default: 10000, description: 'how often a lease holder renews its lease (well under LEASE_MS)' }),
  GITLAB_MAX_CONCURRENT_PER_INSTANCE: Type.Integer({ minimum: 1, maximum: 64, default: 6, description: 'concurrent GitLab calls per instance per process; more wait their turn' }),
  GITLAB_QUEUE_WAIT_MS: Type.Integer({ minimum: 0, maximum: 60000, default: 5000, description: 'longest wait for a turn at the per-instance cap before 503 gitlab_rate_limited' }),
  BOOTSTRAP_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10000, default: 10, description: 'bootstrap calls per client (IPv4 address or IPv6 /64) per minute' }),
  BOOTSTRAP_MAX_CONCURRENT: Type.Integer({ minimum: 1, maximum: 1000, default: 4, description: 'bootstraps running at once per process; beyond it 503 gitlab_rate_limited with Retry-After' }),
  LOGIN_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 10000, default: 60, description: 'login starts per client (IPv4 address or IPv6 /64) per minute' }),
  BOT_TOKEN_ROTATE_DAYS: Type.Integer({ minimum: 1, maximum: 300, default: 30, description: 'rotate the bot token when it expires within this many days' }),
  UPKEEP_INTERVAL_SECONDS: Type.Integer({ minimum: 5, maximum: 86400, default: 21600, description: 'how often the upkeep re-verifies every ready instance, rotates due bot tokens and cleans up (5 at least, for tests)' }),
  UPKEEP_ENABLED: Type.Union([Type.Literal('true'), Type.Literal('false')], { default: 'true', description: 'false: this process runs no upkeep jobs (another replica on the same database does)' }),
  UPKEEP_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 2, description: 'upkeep jobs (instance checks) one process runs at once' }),
  UPKEEP_JOB_TIMEOUT_SECONDS: Type.Integer({ minimum: 5, maximum: 3600, default: 300, description: 'an upkeep job running longer (its process killed or stuck) is given up and retried by any process' }),
  SESSION_TTL_HOURS: Type.Integer({ minimum: 1, maximum: 8760, default: 168, description: 'lifetime of a login session in hours' }),
  TRUST_PROXY: Type.String({
    pattern: '^(true|false|[0-9a-fA-F:./]+(,[0-9a-fA-F:./]+)*)$',
    default: 'false',
    description: "whose X-Forwarded-For to believe for the client address: 'false', 'true' (any), or the proxies' addresses/CIDRs",
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600000, default: 10000, description: "PostgreSQL's statement_timeout; the client gives up 2 s later" }),
  SHUTDOWN_DRAIN_MS: Type.Integer({ minimum: 0, maximum: 120000, default: 3000, description: 'after SIGTERM, how long readiness answers 503 before the listener closes' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 600000, default: 20000, description: 'after a signal, the deadline for drain and in-flight work before the process exits' }),
  LOOKUP_CACHE_SIZE: Type.Integer({ minimum: 0, maximum: 1000000, default: 10000, description: 'instance URLs the lookup cache keeps per process; 0 turns it off' }),
  LOOKUP_CACHE_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 300, description: 'a cached lookup is re-read after this long even when no change was announced' }),
  USER_CACHE_SIZE: Type.Integer({ minimum: 0, maximum: 1000000, default: 10000, description: 'sessions, and users (their token state), the user cache keeps per process, each; 0 turns it off' }),
  USER_CACHE_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, maximum: 86400, default: 300, description: 'a cached session or user is re-read after this long even when no change was announced' }),
  WEBHOOK_EVENT_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: 7, description: 'stored webhook events older than this many days are deleted by the upkeep' }),
  WEBHOOK_FEED_MAX_WAITERS: Type.Integer({ minimum: 0, maximum: 100000, default: 1000, description: 'long-polling feed readers waiting at once per process; beyond it a reader is answered at once (429 rate_limited)' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  NODE_ENV: Type.Optional(Type.String()),
});

export type Env = Static<typeof EnvSchema>;

/** What a valid value looks like, for variables whose schema alone (a pattern) would only show a regular expression. */
const VALID_VALUES: Partial<Record<keyof Env, string>> = {
  PUBLIC_URL: 'must be an http(s) URL without query or fragment, e.g. https://connect.example.com',
  DATABASE_URL: 'must be a PostgreSQL connection string, e.g. postgres://user:password@db.example.com:5432/gitlab_connect',
  ENCRYPTION_KEY: 'must be 32 random bytes in base64, e.g. from openssl rand -base64 32',
  PREVIOUS_ENCRYPTION_KEYS: 'must be comma-separated keys, each 32 random bytes in base64 (openssl rand -base64 32)',
  INTERNAL_API_TOKENS: "must be comma-separated tokens of 16 characters at least, each 'name:token' or a bare token",
  FRONTEND_URL: 'must be an origin: scheme, host and port only, e.g. https://app.example.com',
  BOT_USERNAME: 'must be a GitLab username: letters, digits, _ . and -, not starting with . or -, at most 255 characters',
  OAUTH_SCOPES: 'must be GitLab scopes separated by single spaces, e.g. api read_user openid email',
  TRUST_PROXY: 'must be true, false, or comma-separated proxy addresses or CIDRs, e.g. 10.0.0.0/8',
};

/** The one-line message for an invalid variable: what is valid, from VALID_VALUES or the schema's literals and bounds. */
function whatIsValid(variable: string, fallback: string): string {
  const explicit = VALID_VALUES[variable as keyof Env];
  if (explicit) return explicit;
  const schema = (EnvSchema.properties as Partial<Record<string, { anyOf?: { const?: unknown }[]; type?: string; minimum?: number; maximum?: number }>>)[variable];
  const literals = schema?.anyOf?.map((member) => member.const).filter((value): value is string => typeof value === 'string');
  if (literals?.length) return `must be ${literals.length === 2 ? literals.join(' or ') : `one of ${literals.join(', ')}`}`;
  if (schema?.type === 'integer') return `must be a whole number from ${String(schema.minimum)} to ${String(schema.maximum)}`;
  return fallback;
}

export class ConfigError extends Error {}

function parseCidrs(list: string, variable: string): string[] {
  const cidrs = list.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const cidr of cidrs) {
    const [address, prefix, extra] = cidr.split('/') as (string | undefined)[];
    const family = isIP(address ?? '');
    const maxPrefix = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) throw new ConfigError(`${variable}: "${cidr}" is not an IP address or CIDR`);
  }
  return cidrs;
}

/** Fastify's trustProxy: a boolean, or the proxies' addresses. */
function parseTrustProxy(value: string): boolean | string[] {
  if (value === 'true' || value === 'false') return value === 'true';
  return parseCidrs(value, 'TRUST_PROXY');
}

/** An internal caller: the name the audit trail records, and its bearer token. */
export interface InternalCaller {
  name: string;
  token: string;
}

const NAMED_TOKEN = /^([A-Za-z0-9_.-]{1,64}):(.*)$/;

/** INTERNAL_API_TOKENS entries: `name:token`, or a bare token named `token-<position>` (a bare token must not look like `name:…`). */
export function parseInternalCallers(list: string | undefined): InternalCaller[] {
  const callers = (list?.split(',') ?? []).map((entry, index) => {
    const named = NAMED_TOKEN.exec(entry);
    if (!named) return { name: `token-${String(index + 1)}`, token: entry };
    if (named[2].length < 16) throw new ConfigError(`INTERNAL_API_TOKENS: the token named "${named[1]}" is shorter than 16 characters`);
    return { name: named[1], token: named[2] };
  });
  const names = callers.map((caller) => caller.name);
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated) throw new ConfigError(`INTERNAL_API_TOKENS: the name "${repeated}" is given twice`);
  return callers;
}

/** The environment's variables checked against EnvSchema, defaults filled in (an empty value counts as unset); throws a ConfigError naming the first bad one. */
function validatedEnv(env: Record<string, string | undefined>): Env {
  const known = Object.fromEntries(Object.keys(EnvSchema.properties).filter((key) => env[key] !== undefined && env[key] !== '').map((key) => [key, env[key]]));
  const parsed: unknown = Value.Default(EnvSchema, Value.Convert(EnvSchema, known));
  const firstError = Value.Errors(EnvSchema, parsed).at(0);
  if (firstError) {
    const variable = firstError.instancePath.replace(/^\//, '') || 'environment';
    throw new ConfigError(`${variable}: ${whatIsValid(variable, firstError.message)}`);
  }
  return parsed as Env;
}

/** Validates the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  const valid = validatedEnv(env);
  const production = valid.NODE_ENV === 'production';
  if (valid.LEASE_HEARTBEAT_MS * 2 > valid.LEASE_MS) throw new ConfigError('LEASE_HEARTBEAT_MS: must be at most half of LEASE_MS');
  if (production && !valid.ENCRYPTION_KEY) throw new ConfigError('ENCRYPTION_KEY: required when NODE_ENV=production');
  const publicUrl = (valid.PUBLIC_URL ?? `http://localhost:${String(valid.PORT)}`).replace(/\/+$/, '');
  return {
    port: valid.PORT,
    host: valid.HOST,
    publicUrl,
    callbackUrl: callbackUrlOf(publicUrl),
    databaseUrl: valid.DATABASE_URL,
    dataDir: valid.DATA_DIR,
    encryptionKey: valid.ENCRYPTION_KEY,
    previousEncryptionKeys: valid.PREVIOUS_ENCRYPTION_KEYS?.split(',') ?? [],
    internalApiTokens: parseInternalCallers(valid.INTERNAL_API_TOKENS).map((caller) => caller.token),
    internalCallers: parseInternalCallers(valid.INTERNAL_API_TOKENS),
    egressIps: parseCidrs(valid.EGRESS_IPS, 'EGRESS_IPS'),
    frontendUrl: valid.FRONTEND_URL?.replace(/\/$/, ''),
    botUsername: valid.BOT_USERNAME,
    oauthScopes: valid.OAUTH_SCOPES.split(' '),
    allowPrivateNetworks: valid.ALLOW_PRIVATE_NETWORKS === 'true',
    allowHttp: valid.ALLOW_HTTP === 'true',
    gitlabTimeoutMs: valid.GITLAB_TIMEOUT_MS,
    gitlabCredentialTimeoutMs: valid.GITLAB_CREDENTIAL_TIMEOUT_MS,
    leaseMs: valid.LEASE_MS,
    leaseHeartbeatMs: valid.LEASE_HEARTBEAT_MS,
    gitlabMaxConcurrentPerInstance: valid.GITLAB_MAX_CONCURRENT_PER_INSTANCE,
    gitlabQueueWaitMs: valid.GITLAB_QUEUE_WAIT_MS,
    bootstrapRateLimitPerMinute: valid.BOOTSTRAP_RATE_LIMIT_PER_MINUTE,
    bootstrapMaxConcurrent: valid.BOOTSTRAP_MAX_CONCURRENT,
    loginRateLimitPerMinute: valid.LOGIN_RATE_LIMIT_PER_MINUTE,
    botTokenRotateDays: valid.BOT_TOKEN_ROTATE_DAYS,
    sessionTtlHours: valid.SESSION_TTL_HOURS,
    upkeep: {
      enabled: valid.UPKEEP_ENABLED === 'true',
      intervalSeconds: valid.UPKEEP_INTERVAL_SECONDS,
      concurrency: valid.UPKEEP_CONCURRENCY,
      jobTimeoutSeconds: valid.UPKEEP_JOB_TIMEOUT_SECONDS,
    },
    trustProxy: parseTrustProxy(valid.TRUST_PROXY),
    databaseStatementTimeoutMs: valid.DATABASE_STATEMENT_TIMEOUT_MS,
    shutdownDrainMs: valid.SHUTDOWN_DRAIN_MS,
    shutdownTimeoutMs: valid.SHUTDOWN_TIMEOUT_MS,
    lookupCacheSize: valid.LOOKUP_CACHE_SIZE,
    lookupCacheMaxAgeMs: valid.LOOKUP_CACHE_MAX_AGE_SECONDS * 1000,
    userCacheSize: valid.USER_CACHE_SIZE,
    userCacheMaxAgeMs: valid.USER_CACHE_MAX_AGE_SECONDS * 1000,
    webhookEventRetentionDays: valid.WEBHOOK_EVENT_RETENTION_DAYS,
    webhookFeedMaxWaiters: valid.WEBHOOK_FEED_MAX_WAITERS,
    logLevel: valid.LOG_LEVEL,
    production,
  };
}

export type Config = ReturnType<typeof loadConfig>;
