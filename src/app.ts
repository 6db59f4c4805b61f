// buildApp(config, deps): the whole service, registered in plain sight, so tests build the real thing.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cookie from '@fastify/cookie';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { sealerFromConfig } from './crypto/keys.js';
import { openDatabase, type Database } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { createNotificationListener } from './db/notifications.js';
import { createGitlabApi } from './gitlab/api.js';
import { createGitlabHttp } from './gitlab/http.js';
import type { LookupFunction } from './gitlab/address-guard.js';
import { createInstanceLookupCache } from './cache/instance-lookup-cache.js';
import { createUserCache } from './cache/user-cache.js';
import { createWebhookFeedWaiters } from './cache/webhook-feed-waiters.js';
import { createLogger } from './logger.js';
import dependenciesPlugin from './plugins/dependencies.js';
import type { Clock, ServiceDeps } from './services/deps.js';
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.js';
import lifecyclePlugin from './plugins/lifecycle.js';
import { createMetrics } from './metrics/registry.js';
import metricsPlugin from './plugins/metrics.js';
import openapiPlugin from './plugins/openapi.js';
import { OneLinePerRequest } from './plugins/request-logging.js';
import sessionAuthPlugin from './plugins/session-auth.js';
import { sharedSerializers } from './plugins/shared-serializers.js';
import { bodiesUncoerced } from './plugins/validators.js';
import authRoutes from './routes/auth.js';
import healthRoutes from './routes/health.js';
import instancesRoutes from './routes/instances.js';
import internalInstancesRoutes from './routes/internal-instances.js';
import internalUsersRoutes from './routes/internal-users.js';
import meRoutes from './routes/me.js';
import metaRoutes from './routes/meta.js';
import repositoriesRoutes from './routes/repositories.js';
import { webhookFeedRoutes, webhookIntake } from './routes/webhooks.js';
import { createBootstrapCapacity } from './services/bootstrap/capacity.js';
import { keptRecognition } from './services/instances.service.js';
import { instancesByStatus } from './services/metrics.service.js';
import { createUpkeep } from './services/upkeep/scheduler.js';
import { jobStoreDb } from './db/upkeep.repo.js';
import upkeepPlugin from './plugins/upkeep.js';
import internalUpkeepRoutes from './routes/internal-upkeep.js';

export type { Clock };

export interface AppDeps {
  /** An opened, migrated database; when absent the app opens (and migrates, and closes) its own. */
  database?: Database;
  logger?: Logger;
  clock?: Clock;
  /** A custom DNS resolver for the GitLab client (tests resolve names to chosen addresses). */
  lookup?: LookupFunction;
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

/**
 * Everything the services use, built once: the caches (and the LISTEN connection they share), the metrics,
 * the GitLab client, the upkeep scheduler; `close`, which stops them in order before the database, and
 * `abandon`, which stops what this started when the app is never finished (the upkeep has not started).
 * Throws what sealerFromConfig throws (an unusable key) before anything is started.
 */
function assembleServices(config: Config, deps: AppDeps, logger: Logger, database: Database, ownsDatabase: boolean) {
  const sealer = sealerFromConfig(config, logger);
  const notifications = createNotificationListener(database, logger, { heartbeatMs: 5000, maxBackoffMs: 5000 });
  const instanceLookups = createInstanceLookupCache(database, notifications, { maxEntries: config.lookupCacheSize, maxAgeMs: config.lookupCacheMaxAgeMs });
  const userCache = createUserCache(database, notifications, { maxEntries: config.userCacheSize, maxAgeMs: config.userCacheMaxAgeMs });
  const webhookFeed = createWebhookFeedWaiters(notifications, { maxWaiters: config.webhookFeedMaxWaiters });
  // A write through this process to what a cache keeps empties that cache at once.
  const db = [instanceLookups.plugin, userCache.plugin].reduce((withPlugins, plugin) => (plugin ? withPlugins.withPlugin(plugin) : withPlugins), database.db);
  const metrics = createMetrics(() => instancesByStatus({ db }));
  const gitlabHttp = createGitlabHttp({
    onCall: metrics.gitlabCall,
    allowHttp: config.allowHttp,
    allowPrivateNetworks: config.allowPrivateNetworks,
    timeoutMs: config.gitlabTimeoutMs,
    maxConcurrentPerInstance: config.gitlabMaxConcurrentPerInstance,
    maxWaitPerInstanceMs: config.gitlabQueueWaitMs,
    logger,
    ...(deps.lookup ? { lookup: deps.lookup } : {}),
  });
  // Built once: every service takes exactly these.
  const serviceDeps: ServiceDeps = {
    db,
    instanceLookups,
    recognisedUrls: keptRecognition({ config, gitlabHttp }),
    userCache,
    config,
    sealer,
    gitlab: createGitlabApi(gitlabHttp),
    gitlabHttp,
    clock: deps.clock ?? (() => new Date()),
    bootstraps: createBootstrapCapacity(config.bootstrapMaxConcurrent),
    webhookFeed,
  };
  // Scheduled rotation, re-verification and clean-up, once across all replicas (UPKEEP_ENABLED=false: none here).
  const upkeep = config.upkeep.enabled ? createUpkeep(serviceDeps, jobStoreDb(database.db), logger, metrics.upkeepRun) : null;
  const abandon = async () => {
    await instanceLookups.close();
    await userCache.close();
    await webhookFeed.close();
    await notifications.close();
    await gitlabHttp.close();
  };
  const close = async () => {
    // The listeners stop before the database closes; running upkeep jobs get half the shutdown deadline.
    await upkeep?.stop(config.shutdownTimeoutMs / 2);
    await abandon();
    if (ownsDatabase) await database.close();
  };
  return { serviceDeps, metrics, upkeep, webhookFeed, close, abandon };
}

type Services = ReturnType<typeof assembleServices>;

async function assembleApp(config: Config, deps: AppDeps, logger: Logger, database: Database, ownsDatabase: boolean) {
  const services = assembleServices(config, deps, logger, database, ownsDatabase);
  try {
    return await assembleFastify(config, logger, services);
  } catch (error) {
    // Start-up failed: stop the LISTEN connection and timers started above (buildApp closes a database it opened).
    await services.abandon();
    throw error;
  }
}

/** The Fastify app over `services`: plugins, hooks and routes registered in plain sight. */
async function assembleFastify(config: Config, logger: Logger, services: Services) {
  const { serviceDeps, metrics, upkeep, webhookFeed, close } = services;
  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestIdOf,
    logController: new OneLinePerRequest(logger),
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    forceCloseConnections: 'idle',
    clientErrorHandler,
    frameworkErrors,
    schemaController: { compilersFactory: { buildSerializer: sharedSerializers(), buildValidator: bodiesUncoerced() } },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(dependenciesPlugin, { deps: serviceDeps, close });
  // A long-polling feed reader answers at once when the server closes, instead of holding the shutdown.
  app.addHook('preClose', (done) => {
    webhookFeed.release();
    done();
  });
  // Sync hooks: an async hook costs a promise and a microtask turn on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

  await app.register(upkeepPlugin, { upkeep });
  await app.register(errorsPlugin);
  await app.register(lifecyclePlugin);
  await app.register(cors, { origin: config.frontendUrl ? [new URL(config.frontendUrl).origin] : false, credentials: true });
  // No onRequest hook: cookies are parsed by the routes that read them (session-auth.ts, cookiesOf).
  await app.register(cookie, { hook: false });
  await app.register(sessionAuthPlugin);
  await app.register(openapiPlugin);
  await app.register(metricsPlugin, { metrics });
  const routes = { healthRoutes, metaRoutes, instancesRoutes, authRoutes, meRoutes, internalInstancesRoutes, internalUsersRoutes, internalUpkeepRoutes, repositoriesRoutes, webhookIntake, webhookFeedRoutes };
  // Named (fastify-plugin, encapsulation kept): Fastify finds an unnamed plugin's name by scanning
  // require.cache (every module loaded), twice a registration.
  for (const [name, plugin] of Object.entries(routes)) await app.register(fp(plugin, { name, encapsulate: true }));
  return app;
}

export type App = Awaited<ReturnType<typeof assembleFastify>>;
export type { FastifyInstance };
