// `npm run build`: bundles the server and the migrate CLI with esbuild into dist/ (dist/src/server.js,
// dist/src/db/migrate-cli.js), each one file holding our code, the migrations and the dependencies: Node
// then loads one module instead of ~1 900 (TypeBox alone is ~700 files), which is most of the start-up.
// Type checking stays with `tsc --noEmit` (npm run lint, npm test). Plain .mjs: it runs before anything is
// compiled.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

/**
 * Packages left out of the bundle and loaded from node_modules at run time: each reads files of its own
 * beside its code (PGlite its WebAssembly and data files, Swagger UI its static assets, pino its transport
 * workers), or is an optional native add-on that is not installed (pg-native, which pg tries and skips).
 */
export const EXTERNAL_PACKAGES = ['@electric-sql/pglite', '@fastify/swagger-ui', 'pino', 'pg-native'];

/**
 * Builds a clean dist/. Resolves when both bundles are written; rejects with esbuild's error (its messages
 * already printed) when a source does not compile or an import does not resolve.
 */
export async function build() {
  const esbuild = await import('esbuild');
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/server.ts', 'src/db/migrate-cli.ts'],
    outbase: '.',
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    // The CommonJS packages inside an ES module bundle call require(): give them Node's.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    // Class and function names as written: pino logs an error's constructor name, and esbuild would rename
    // clashing ones (pg's DatabaseError became DatabaseError2).
    keepNames: true,
    logLevel: 'warning',
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
