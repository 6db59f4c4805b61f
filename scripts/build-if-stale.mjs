// Compiles TypeScript to dist/ only when a source is newer than the last build, so `npm start` runs
// plain JavaScript and costs one directory walk (~20 ms) when dist/ is up to date. Runs as `prepare`
// (after npm install), `prestart` and `pretest`, and from tests that spawn the built server. Concurrent runs
// (several test files at once) take turns on a lock file, and each looks again once it holds the lock, so
// one compiles and the others find dist/ up to date. Plain .mjs on purpose: it must run before anything
// is compiled.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';

const root = fileURLToPath(new URL('../', import.meta.url));
const stamp = join(root, 'dist', '.build-stamp');
const inputs = ['src', 'migrations', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/** The newest modification time (ms) under `path`, a file or a directory. */
function newestMtime(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function typescriptCompiler() {
  try {
    return createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return undefined;
  }
}

/** Whether dist/ is older than a source (or was never built). */
function stale() {
  const present = inputs.map((input) => join(root, input)).filter((path) => existsSync(path));
  return !existsSync(stamp) || statSync(stamp).mtimeMs < Math.max(...present.map(newestMtime));
}

/** Compiles src/ and migrations/ into a clean dist/, then writes the stamp; exits the process when tsc fails. */
async function build() {
  const tsc = typescriptCompiler();
  if (!tsc) {
    process.stderr.write('build: dist/ is stale and TypeScript is not installed (run npm install)\n');
    process.exit(1);
  }
  process.stderr.write('build: compiling TypeScript to dist/\n');
  // A clean build: a migration deleted from migrations/ must not linger in dist/migrations.
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  // Asynchronous, so that the lock's refresh timer keeps it fresh however long tsc takes.
  const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 2, 2] });
  const status = await new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  if (status !== 0) process.exit(status);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

async function main() {
  // An image's runtime stage installs without sources or dev dependencies: there is nothing to build.
  if (!existsSync(join(root, 'src')) || !stale()) return;
  // A build takes some 20 s of CPU; a holder killed mid-way leaves a lock that turns stale after 60 s.
  const release = await lockfile.lock(root, { lockfilePath: join(root, '.build.lock'), stale: 60_000, retries: { retries: 600, minTimeout: 100, maxTimeout: 1000 } });
  try {
    if (stale()) await build();
  } finally {
    await release();
  }
}

await main();
