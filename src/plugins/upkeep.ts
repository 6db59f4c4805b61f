// The upkeep scheduler (services/upkeep/scheduler.ts) started with the app (when it is ready) and offered to
// the internal routes as `app.upkeep` (null where UPKEEP_ENABLED=false). buildApp stops it on close,
// before the database closes, waiting for running jobs up to a deadline.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Upkeep } from '../services/upkeep/scheduler.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The upkeep's scheduler in this process; null when this process runs none. */
    upkeep: Upkeep | null;
  }
}

export interface UpkeepOptions {
  upkeep: Upkeep | null;
}

export default fp(
  function upkeepPlugin(app: FastifyInstance, options: UpkeepOptions): Promise<void> {
    app.decorate('upkeep', options.upkeep);
    const { upkeep } = options;
    if (upkeep) app.addHook('onReady', () => upkeep.start());
    return Promise.resolve();
  },
  { name: 'upkeep', dependencies: ['dependencies'] },
);
