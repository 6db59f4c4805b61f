// What `npm start` runs (built to dist/src/server.js): the server bundle (dist/src/server.bundle.cjs, all of
// src/server.ts and its dependencies in one CommonJS file) loaded through a V8 code cache beside it, so a
// start does not parse and compile the 5 MB bundle again, nor the functions the start-up runs. Node 20
// has no compile cache of its own (module.enableCompileCache is Node 22): this is the one `vm.Script`
// offers (https://nodejs.org/api/vm.html#scriptcreatecacheddata). The cache is written once the start-up
// has compiled what it needs, when there is none or V8 rejected it (another bundle or Node version);
// where dist/ is read-only it is never written and the server starts as fast as without it.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const directory = dirname(fileURLToPath(import.meta.url));
const bundle = join(directory, 'server.bundle.cjs');
const cacheFile = `${bundle}.cache`;
/** After this long the start-up is over (it takes a few hundred milliseconds): its functions are compiled. */
const WRITE_CACHE_AFTER_MS = 3000;

/** The cache's bytes, or undefined when there is none yet (or it cannot be read). */
function readCache(): Buffer | undefined {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

/** Writes the cache whole or not at all (a temporary file renamed), ignoring a read-only directory. */
function writeCache(data: Buffer): void {
  const temporary = `${cacheFile}.${String(process.pid)}`;
  try {
    writeFileSync(temporary, data);
    renameSync(temporary, cacheFile);
  } catch {
    rmSync(temporary, { force: true });
  }
}

const cachedData = readCache();
const script = new vm.Script(Module.wrap(readFileSync(bundle, 'utf8')), {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});
if (!cachedData || script.cachedDataRejected === true) {
  setTimeout(() => { writeCache(script.createCachedData()); }, WRITE_CACHE_AFTER_MS).unref();
}
const bundleModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, directory);
