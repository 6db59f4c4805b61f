// The entry point: read the environment, build the app, listen, and shut down within a deadline.
// On SIGTERM readiness turns 503 at once, the listener keeps serving for SHUTDOWN_DRAIN_MS (a load
// balancer notices), then closes; in-flight work gets until SHUTDOWN_TIMEOUT_MS after the signal.
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { buildApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DatabaseLockedError } from './db/database.js';

/** Installs the signal and fatal-error handlers; close-with-grace exits 0 when done, 1 on error or deadline. */
function shutDownOnSignals(app: App, config: Config): void {
  closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      logger: { error: (message: unknown) => { app.log.error({ err: message instanceof Error ? message : undefined }, String(message)); } },
      onTimeout: (delay) => { app.log.error({ delayMs: delay }, 'shutdown deadline passed: abandoning in-flight work and exiting'); },
    },
    async ({ signal, err }) => {
      if (err) app.log.fatal({ err }, 'fatal error: shutting down');
      app.lifecycle.startDraining();
      // An operator's Ctrl-C (SIGINT) has no load balancer to wait for.
      const drainMs = signal === 'SIGTERM' ? config.shutdownDrainMs : 0;
      app.log.info({ signal, drainMs, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: readiness answers 503');
      await sleep(drainMs);
      app.log.info('closing the listener and finishing in-flight requests');
      await app.close();
      app.log.info('shut down');
    },
  );
}

async function main() {
  const config = loadConfig(process.env);
  const app = await buildApp(config);
  shutDownOnSignals(app, config);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DatabaseLockedError) {
    process.stderr.write(`gitlab-connect: ${error.message}\n`);
  } else {
    process.stderr.write(`gitlab-connect: start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
});
