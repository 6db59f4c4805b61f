// The layering of ARCHITECTURE.md as import rules; `npm run lint` fails on any violation.
/** @type {import('dependency-cruiser').IConfiguration} */
const layer = (name) => `^src/${name}(/|\\.ts$)`;

module.exports = {
  forbidden: [
    {
      name: 'routes-skip-services',
      comment: 'Routes and plugins translate HTTP and call services; they never reach the database or GitLab themselves.',
      severity: 'error',
      from: { path: [layer('routes'), layer('plugins')] },
      to: { path: [layer('db'), layer('gitlab')], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'services-see-no-http',
      comment: 'Services know nothing of Fastify, plugins, routes or response schemas.',
      severity: 'error',
      from: { path: [layer('services'), layer('db'), layer('gitlab'), layer('domain')] },
      to: { path: [layer('routes'), layer('plugins'), layer('schemas'), '^node_modules/(fastify|@fastify/)', '^fastify$'] },
    },
    {
      name: 'db-is-the-bottom',
      comment: 'Repositories hold SQL only: no service logic, no GitLab.',
      severity: 'error',
      from: { path: layer('db') },
      to: { path: [layer('services'), layer('gitlab'), layer('errors')] },
    },
    {
      name: 'gitlab-client-is-standalone',
      comment: 'The GitLab client knows no database and no service.',
      severity: 'error',
      from: { path: layer('gitlab') },
      to: { path: [layer('db'), layer('services'), layer('domain')] },
    },
    {
      name: 'sql-only-in-db',
      comment: 'Kysely (SQL) is imported for values only under src/db; elsewhere only its types.',
      severity: 'error',
      from: { path: '^src/', pathNot: [layer('db'), '^src/app\\.ts$'] },
      to: { path: '^node_modules/kysely/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'schemas-are-leaves',
      comment: 'Request/response models depend on nothing but TypeBox and each other (and the error catalogue and its diagnoses).',
      severity: 'error',
      from: { path: layer('schemas') },
      to: { path: '^src/', pathNot: [layer('schemas'), '^src/errors\\.ts$', '^src/diagnoses\\.ts$'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] },
  },
};
