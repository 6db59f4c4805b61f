// The entry point: read the environment, build the app, listen, and shut down within a deadline.
// On SIGTERM readiness turns 503 at once, the listener keeps serving for SHUTDOWN_DRAIN_MS (a load
// balancer notices), then closes; in-flight work gets until SHUTDOWN_TIMEOUT_MS after the signal.
import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { buildApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { DatabaseLockedError } from './db/database.js';

/** A second SIGINT this soon after the first is the same Ctrl-C: npm relays to its child what the terminal already sent it. */
const REPEATED_SIGINT_MS = 2000;

/**
 * Installs the signal and fatal-error handlers; close-with-grace exits 0 when done, 1 on error or deadline.
 * SIGINT is handled here: under `npm start` one Ctrl-C arrives twice (from the terminal and relayed by
 * npm), and close-with-grace exits at once on a second signal; a repeat within REPEATED_SIGINT_MS is
 * ignored, a later one (Ctrl-C pressed again) still exits at once. A SIGINT while a shutdown that
 * began otherwise (SIGTERM, a fatal error) runs does not start a second one: that one's deadline holds.
 */
function shutDownOnSignals(app: App, config: Config): void {
  let firstSigintAt: number | undefined;
  let shutdownBegun = false;
  const { close } = closeWithGrace(
    {
      delay: config.shutdownTimeoutMs,
      skip: ['SIGINT'],
      logger: { error: (message: unknown) => { app.log.error({ err: message instanceof Error ? message : undefined }, String(message)); } },
      onTimeout: (delay) => { app.log.error({ delayMs: delay }, 'shutdown deadline passed: abandoning in-flight work and exiting'); },
    },
    async ({ signal, err }) => {
      shutdownBegun = true;
      if (err) app.log.fatal({ err }, 'fatal error: shutting down');
      app.lifecycle.startDraining();
      // An operator's Ctrl-C (SIGINT, or close() below) has no load balancer to wait for.
      const drainMs = signal === 'SIGTERM' ? config.shutdownDrainMs : 0;
      app.log.info({ signal: signal ?? (firstSigintAt === undefined ? undefined : 'SIGINT'), drainMs, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: readiness answers 503');
      await sleep(drainMs);
      app.log.info('closing the listener and finishing in-flight requests');
      await app.close();
      app.log.info('shut down');
    },
  );
  process.on('SIGINT', () => {
    const now = performance.now();
    if (firstSigintAt === undefined) {
      firstSigintAt = now;
      if (!shutdownBegun) close();
    } else if (now - firstSigintAt > REPEATED_SIGINT_MS) {
      app.log.error('second SIGINT, exiting');
      process.exit(1);
    }
  });
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
