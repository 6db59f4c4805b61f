// The command `npm start` runs, read from package.json, for what starts the built server outside npm
// (the tests' child processes, the bench, the image's CMD, which a test compares).
import { readFileSync } from 'node:fs';

const manifestPath = new URL('../../package.json', import.meta.url);

/**
 * The node flags `npm start` runs the server with: those of package.json's start script, which reads
 * `exec node <flags> dist/src/server.js`. Throws when it reads otherwise.
 */
export function startNodeFlags(): string[] {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { scripts: { start: string } };
  const flags = /^exec node ((?:--\S+ )*)dist\/src\/server\.js$/.exec(manifest.scripts.start)?.[1];
  if (flags === undefined) throw new Error(`package.json's start script no longer reads "exec node <flags> dist/src/server.js": ${manifest.scripts.start}`);
  return flags.split(' ').filter(Boolean);
}
