// The services' dependencies (database, config, sealer, GitLab client, clock), assembled once by
// buildApp and offered to routes and plugins as `app.deps`; closes what buildApp opened for them.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServiceDeps } from '../services/deps.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** What every service takes first. */
    deps: ServiceDeps;
  }
}

export interface DependenciesOptions {
  deps: ServiceDeps;
  /** Releases what the dependencies hold (the GitLab client's connections, a database the app opened). */
  close: () => Promise<void>;
}

export default fp(
  function dependenciesPlugin(app: FastifyInstance, options: DependenciesOptions): Promise<void> {
    app.decorate('deps', options.deps);
    app.addHook('onClose', options.close);
    return Promise.resolve();
  },
  { name: 'dependencies' },
);
