// The process's shutdown state, read by readiness: once draining, /readyz answers 503 so a load
// balancer stops sending traffic while the listener still serves what arrives.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface Lifecycle {
  /** True from the first shutdown signal on. */
  readonly draining: boolean;
  /** Marks the process as shutting down; idempotent. */
  startDraining(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

export function createLifecycle(): Lifecycle {
  let draining = false;
  return {
    get draining() {
      return draining;
    },
    startDraining() {
      draining = true;
    },
  };
}

export default fp(
  function lifecyclePlugin(app: FastifyInstance): Promise<void> {
    app.decorate('lifecycle', createLifecycle());
    return Promise.resolve();
  },
  { name: 'lifecycle' },
);
