// The layering of ARCHITECTURE.md as import rules; `npm run lint` fails on any violation.
/** @type {import('dependency-cruiser').IConfiguration} */
const layer = (name) => `^src/${name}(/|\\.ts$)`;

module.exports = {
  forbidden: [
    {
      name: 'routes-skip-services',
      comment: 'Routes and plugins translate HTTP and call services; they never reach the database, its caches or GitLab themselves.',
      severity: 'error',
      from: { path: [layer('routes'), layer('plugins')] },
      to: { path: [layer('db'), layer('cache'), layer('gitlab')], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'services-see-no-http',
      comment: 'Services (and everything below them, and the leaves) know nothing of Fastify, plugins, routes or response schemas.',
      severity: 'error',
      from: { path: [layer('services'), layer('cache'), layer('metrics'), layer('db'), layer('gitlab'), layer('domain'), layer('crypto'), '^src/(config|time|errors|diagnoses|auth-paths|logger|version)\\.ts$'] },
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
      name: 'caches-sit-on-db',
      comment: 'The per-process caches read through repositories and are read by services; they hold no logic of their own.',
      severity: 'error',
      from: { path: layer('cache') },
      to: { path: [layer('services'), layer('gitlab')] },
    },
    {
      name: 'metrics-are-recorded-by-the-app',
      comment: 'The registry is built by app.ts and read by plugins/metrics.ts; the GitLab client reports its calls through a callback, never an import.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/app\\.ts$', layer('plugins'), layer('metrics')] },
      to: { path: layer('metrics') },
    },
    {
      name: 'metrics-are-a-leaf',
      comment: 'The metrics registry records what it is told (GitLab call reports are its only input type).',
      severity: 'error',
      from: { path: layer('metrics') },
      to: { path: [layer('db'), layer('services'), layer('cache')] },
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
      from: { path: '^src/', pathNot: layer('db') },
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
      name: 'start-is-standalone',
      comment: 'src/start.ts loads the built bundle of src/server.ts; importing src/ would bundle it twice.',
      severity: 'error',
      from: { path: '^src/start\\.ts$' },
      to: { path: '^src/' },
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
