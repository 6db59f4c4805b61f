// What `npm start` runs (built to dist/src/server.js): the server bundle (dist/src/server.bundle.cjs, all of
// src/server.ts and its dependencies in one CommonJS file) loaded through a V8 code cache beside it, so a
// start does not parse and compile the 3.7 MB bundle again, nor the functions the start-up runs. Node 20
// has no compile cache of its own (module.enableCompileCache is Node 22): this is the one `vm.Script`
// offers (https://nodejs.org/api/vm.html#scriptcreatecacheddata). The cache is written once the start-up
// has compiled what it needs, when there is none usable (see cacheKey) or V8 rejected it; where dist/ is
// read-only it is never written and the server starts as fast as without it.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { crc32 } from 'node:zlib';

const directory = dirname(fileURLToPath(import.meta.url));
const bundle = join(directory, 'server.bundle.cjs');
const cacheFile = `${bundle}.cache`;
/** After this long the start-up is over (it takes a few hundred milliseconds): its functions are compiled. */
const WRITE_CACHE_AFTER_MS = 3000;

/**
 * What a cache is valid for. V8 itself checks little before it uses a cache (release builds skip the
 * checksum, and the "source hash" is the source's length): a damaged cache can crash the process, and one
 * of a same-length bundle runs the old code. So a cache is used only when this key and the CRC-32 of its
 * bytes, both in its header, match: the bundle's CRC-32 and length, Node's and V8's versions, and the
 * flags V8 was started with (a cache made under other flags is rejected anyway). CRC-32 (zlib's, Node >=
 * 20.15), not a cryptographic hash: it guards against damage and a rebuilt bundle, not against someone who
 * can write dist/ (and so the code itself); it costs ~1 ms for both files where SHA-256 cost ~12 ms of
 * every start.
 */
function cacheKey(bundleBytes: Buffer): string {
  return JSON.stringify([crc32(bundleBytes), bundleBytes.length, process.version, process.versions.v8, process.execArgv, process.env.NODE_OPTIONS ?? '']);
}

/** The cache's V8 bytes when its header matches `key` and its bytes their CRC-32; else undefined. */
function readCache(key: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  const newline = file.indexOf(10);
  if (newline < 0) return undefined;
  const data = file.subarray(newline + 1);
  let header: unknown;
  try {
    header = JSON.parse(file.subarray(0, newline).toString('utf8'));
  } catch {
    return undefined;
  }
  const { key: stored, crc32: checksum } = (header ?? {}) as { key?: unknown; crc32?: unknown };
  return stored === key && checksum === crc32(data) ? data : undefined;
}

/** Writes header and bytes whole or not at all (a temporary file, flushed to disk, then renamed); ignores a read-only directory. */
function writeCache(key: string, data: Buffer): void {
  const temporary = `${cacheFile}.${String(process.pid)}`;
  try {
    const descriptor = openSync(temporary, 'w');
    try {
      writeSync(descriptor, `${JSON.stringify({ key, crc32: crc32(data) })}\n`);
      writeSync(descriptor, data);
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporary, cacheFile);
  } catch {
    rmSync(temporary, { force: true });
  }
}

const bytes = readFileSync(bundle);
const source = bytes.toString('utf8');
// Hashed as read: hashing the string would encode it to UTF-8 again.
const key = cacheKey(bytes);
const cachedData = readCache(key);
const script = new vm.Script(Module.wrap(source), {
  filename: bundle,
  ...(cachedData ? { cachedData } : {}),
});
if (!cachedData || script.cachedDataRejected === true) {
  setTimeout(() => { writeCache(key, script.createCachedData()); }, WRITE_CACHE_AFTER_MS).unref();
}
const bundleModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(bundleModule.exports, bundleModule.exports, createRequire(bundle), bundleModule, bundle, directory);
