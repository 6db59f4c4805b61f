// Bundles the server into dist/ (scripts/build.mjs) only when a source is newer than the last build, so
// `npm start` runs plain JavaScript and costs one directory walk (a few ms; ~0.1 s with starting node) when dist/ is up to date. Runs as `prepare`
// (after npm install), `prestart` and `pretest`, and from tests that spawn the built server. Concurrent runs
// (several test files at once) take turns on a lock file, and each looks again once it holds the lock, so
// one builds and the others find dist/ up to date. Plain .mjs on purpose: it must run before anything
// is compiled.
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import lockfile from 'proper-lockfile';

const root = fileURLToPath(new URL('../', import.meta.url));
const stamp = join(root, 'dist', '.build-stamp');
// esbuild reads tsconfig.json too (target, verbatimModuleSyntax).
const inputs = ['src', 'migrations', 'scripts/build.mjs', 'tsconfig.json', 'package-lock.json'];

/** The newest modification time (ms) under `path`, a file or a directory. */
function newestMtime(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Whether dist/ is older than a source (or was never built). */
function stale() {
  const present = inputs.map((input) => join(root, input)).filter((path) => existsSync(path));
  return !existsSync(stamp) || statSync(stamp).mtimeMs < Math.max(...present.map(newestMtime));
}

/** Bundles src/ and migrations/ into a clean dist/ (scripts/build.mjs), then writes the stamp; exits the process when the build fails. */
async function build() {
  process.stderr.write('build: bundling the server into dist/\n');
  const { build: bundle, reportBuildFailure } = await import('./build.mjs');
  await bundle().catch((error) => {
    reportBuildFailure(error);
    process.exit(1);
  });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

async function main() {
  // An image's runtime stage installs without sources or dev dependencies: there is nothing to build.
  if (!existsSync(join(root, 'src')) || !stale()) return;
  // A build takes about a second; a holder killed mid-way leaves a lock that turns stale after 60 s.
  const release = await lockfile.lock(root, { lockfilePath: join(root, '.build.lock'), stale: 60_000, retries: { retries: 600, minTimeout: 100, maxTimeout: 1000 } });
  try {
    if (stale()) await build();
  } finally {
    await release();
  }
}

await main();
