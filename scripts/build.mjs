// `npm run build`: bundles the server and the migrate CLI with esbuild into dist/ (dist/src/server.js, the
// loader of dist/src/server.bundle.cjs; dist/src/db/migrate-cli.js), each bundle one file holding our code,
// the migrations and the dependencies: Node then loads one module instead of ~1 900 (TypeBox alone is
// ~700 files), which is most of the start-up.
// Type checking stays with `tsc --noEmit` (npm run lint, npm test). Plain .mjs: it runs before anything is
// compiled.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/**
 * Packages left out of the bundle and loaded from node_modules at run time: PGlite reads its WebAssembly
 * and data files beside its code, and pg-native is pg's optional native add-on, not installed (pg tries it
 * only when asked). Everything else is in the bundle and so in its code cache: loading Swagger UI and pino
 * from node_modules (compiled at every start) cost ~100 ms of a start-up. Bundled, pino cannot start a
 * transport (`pino.transport()` looks for its worker file beside the bundle): the service logs to stdout.
 */
export const EXTERNAL_PACKAGES = ['@electric-sql/pglite', 'pg-native'];

/**
 * Swagger UI's files, which the bundled @fastify/swagger-ui reads relative to its own code (`__dirname`,
 * the bundle's directory dist/src, once bundled): its static assets from `__dirname/../static` and its logo
 * from `__dirname/static/logo.svg`. Copied to those places; about 2.5 MB.
 */
function copySwaggerUiFiles() {
  const swaggerUi = dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui'));
  cpSync(join(swaggerUi, 'static'), join(root, 'dist', 'static'), { recursive: true });
  cpSync(join(swaggerUi, 'static', 'logo.svg'), join(root, 'dist', 'src', 'static', 'logo.svg'));
}

/**
 * pg decides at load time whether it runs in a Cloudflare Worker by constructing a `Response` (pg's
 * lib/stream.js, isCloudflareRuntime): on Node 20, which has no `navigator`, that loads Node's built-in
 * fetch (its copy of undici), ~40 ms of every start, for a question whose answer the bundle already knows
 * (platform: 'node'); Node 22 has `navigator` and never gets that far. This esbuild plugin makes the
 * bundled lib/stream.js take Node's sockets directly; the build fails if pg's code no longer reads as
 * expected.
 */
const pgOnNode = {
  name: 'pg-on-node',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const check = 'if (isCloudflareRuntime()) {';
      if (!source.includes(check)) throw new Error(`pg's ${path} no longer holds "${check}": review the pg-on-node plugin in scripts/build.mjs`);
      return { contents: source.replace(check, 'if (false) {'), loader: 'js' };
    });
  },
};

/**
 * esbuild's `keepNames` follows every function and class it emits with `__name(fn, "name")`, which
 * defines the `name` property anew; inside a function body that runs on every call, for every nested
 * function: Fastify's hook runner alone defines three on each request (`next`, `handleResolve`,
 * `handleReject`). Where the bundle's identifier is the name as written, the function already has that
 * name (a declaration's own name, or the name JavaScript gives a function or class assigned to a
 * variable: ECMA-262, NamedEvaluation), so the call changes nothing and is dropped here: ~45 µs of CPU a
 * cached lookup (a third of what the service's own code spent). Calls that restore a name esbuild changed
 * (pg's `DatabaseError`, renamed `DatabaseError2` in the bundle) stay. Rewrites `file` in place and returns
 * how many calls it dropped; throws when it finds none (esbuild no longer writes them this way: review this
 * step).
 */
export function dropRestatedNames(file) {
  let dropped = 0;
  const source = readFileSync(file, 'utf8').replace(/__name\(([A-Za-z_$][\w$]*),"\1"\);?/g, () => {
    dropped++;
    return '';
  });
  if (dropped === 0) throw new Error(`no __name(x,"x") call in ${file}: review dropRestatedNames in scripts/build.mjs`);
  writeFileSync(file, source);
  return dropped;
}

/**
 * Builds a clean dist/: the server as one CommonJS bundle (dist/src/server.bundle.cjs), which
 * dist/src/server.js (src/start.ts) loads through a V8 code cache, and the migrate CLI as one ES module.
 * Resolves when every file is written; rejects with esbuild's error (its messages already printed) when a
 * source does not compile or an import does not resolve.
 */
export async function build() {
  const esbuild = await import('esbuild');
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const common = {
    absWorkingDir: root,
    outbase: '.',
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    // Class and function names as written: pino logs an error's constructor name, and esbuild would rename
    // clashing ones (pg's DatabaseError became DatabaseError2). The calls that change nothing are dropped
    // from the server bundle afterwards (dropRestatedNames).
    keepNames: true,
    logLevel: 'warning',
    plugins: [pgOnNode],
  };
  await esbuild.build({
    ...common,
    // CommonJS: what vm.Script compiles, and so what a code cache can hold (src/start.ts).
    entryPoints: { 'src/server.bundle': 'src/server.ts' },
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    define: { 'import.meta.dirname': '__dirname' },
    // import() becomes require(): a script compiled from a V8 code cache has no dynamic import callback
    // on Node 20 ("A dynamic import callback was not specified"), and PGlite, the one package the server
    // imports lazily, ships CommonJS too.
    supported: { 'dynamic-import': false },
    // Without comments and indentation the bundle is ASCII and about half the size: each start reads,
    // hashes and hands V8 all of it (src/start.ts), and a non-ASCII byte (a few in packages' comments)
    // makes the source a two-byte string. Names are kept (keepNames, no identifier minification).
    minifyWhitespace: true,
    // The packages' license notices go beside it (server.bundle.cjs.LEGAL.txt), not inside.
    legalComments: 'external',
  });
  dropRestatedNames(join(root, 'dist', 'src', 'server.bundle.cjs'));
  copySwaggerUiFiles();
  await esbuild.build({
    ...common,
    entryPoints: { 'src/server': 'src/start.ts', 'src/db/migrate-cli': 'src/db/migrate-cli.ts' },
    format: 'esm',
    // The CommonJS packages inside an ES module bundle call require(): give them Node's.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
}

/** Prints why a build failed: esbuild has printed its own messages (its error carries `errors`); anything else has not. */
export function reportBuildFailure(error) {
  const detail = Array.isArray(error?.errors) ? 'esbuild says why above' : (error?.code === 'ERR_MODULE_NOT_FOUND' ? 'esbuild, a dev dependency, is not installed (run npm install, without --omit=dev)' : String(error?.message ?? error));
  process.stderr.write(`build: the bundle failed: ${detail}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build().catch((error) => {
    reportBuildFailure(error);
    process.exit(1);
  });
}
