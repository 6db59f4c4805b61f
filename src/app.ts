// buildApp(config, deps): the whole service, registered in plain sight, so tests build the real thing.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { sealerFromConfig } from './crypto/keys.js';
import type { Sealer } from './crypto/sealer.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import type { DB } from './db/types.js';
import { createGitlabApi, type GitlabApi } from './gitlab/api.js';
import { createGitlabHttp, type GitlabHttp } from './gitlab/http.js';
import type { LookupFunction } from './gitlab/address-guard.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics/registry.js';
import errorsPlugin from './plugins/errors.js';
import metricsPlugin from './plugins/metrics.js';
import openapiPlugin from './plugins/openapi.js';
import sessionAuthPlugin from './plugins/session-auth.js';
import authRoutes from './routes/auth.js';
import healthRoutes from './routes/health.js';
import instancesRoutes from './routes/instances.js';
import internalInstancesRoutes from './routes/internal-instances.js';
import internalUsersRoutes from './routes/internal-users.js';
import meRoutes from './routes/me.js';
import metaRoutes from './routes/meta.js';
import { instancesByStatus } from './services/metrics.service.js';

export type Clock = () => Date;

export interface AppDeps {
  /** An opened, migrated database; when absent the app opens (and migrates, and closes) its own. */
  database?: Database;
  logger?: Logger;
  clock?: Clock;
  /** A custom DNS resolver for the GitLab client (tests resolve names to chosen addresses). */
  lookup?: LookupFunction;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Kysely<DB>;
    database: Database;
    sealer: Sealer;
    clock: Clock;
    gitlabHttp: GitlabHttp;
    gitlab: GitlabApi;
  }
}

const REQUEST_ID = /^[\w.:@-]{1,128}$/;

function requestIdOf(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export async function buildApp(config: Config, deps: AppDeps = {}) {
  const logger = deps.logger ?? createLogger(config.logLevel);
  if (deps.database) return assembleApp(config, deps, logger, deps.database, false);
  const database = await openDatabase(config, logger);
  try {
    await migrateToLatest(database.db as Kysely<unknown>);
    return await assembleApp(config, deps, logger, database, true);
  } catch (error) {
    // Start-up failed: release the pool (and the embedded database's lock file) we opened.
    await database.close();
    throw error;
  }
}

async function assembleApp(config: Config, deps: AppDeps, logger: Logger, database: Database, ownsDatabase: boolean) {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestIdOf,
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);
  app.decorate('database', database);
  app.decorate('db', database.db);
  app.decorate('sealer', sealerFromConfig(config, logger));
  app.decorate('clock', deps.clock ?? (() => new Date()));
  const metrics = createMetrics(() => instancesByStatus(database.db));
  const gitlabHttp = createGitlabHttp({
    onCall: metrics.gitlabCall,
    allowHttp: config.allowHttp,
    allowPrivateNetworks: config.allowPrivateNetworks,
    timeoutMs: config.gitlabTimeoutMs,
    logger,
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  });
  app.decorate('gitlabHttp', gitlabHttp);
  app.decorate('gitlab', createGitlabApi(gitlabHttp));
  app.addHook('onClose', () => gitlabHttp.close());
  if (ownsDatabase) app.addHook('onClose', () => database.close());
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(errorsPlugin);
  await app.register(cors, { origin: config.frontendUrl ? [new URL(config.frontendUrl).origin] : false, credentials: true });
  await app.register(cookie);
  await app.register(sessionAuthPlugin);
  await app.register(openapiPlugin);
  await app.register(metricsPlugin, { metrics });
  await app.register(healthRoutes);
  await app.register(metaRoutes);
  await app.register(instancesRoutes);
  await app.register(authRoutes);
  await app.register(meRoutes);
  await app.register(internalInstancesRoutes);
  await app.register(internalUsersRoutes);
  return app;
}

export type App = Awaited<ReturnType<typeof assembleApp>>;
export type { FastifyInstance };
