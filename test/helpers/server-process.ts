// The real entry point as a child process, for the tests that start, signal or kill it: `src/server.ts` run
// by tsx on a free port, its output collected.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** A cold embedded database start takes minutes on a loaded 2-core machine: bound the waits generously. */
export const slow = { timeout: 600_000 };

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => { resolve(port); });
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns `src/server.ts` with `env` over this environment (less DATABASE_URL); its stdout and stderr are collected. */
export function startServer(env: Record<string, string>): Started {
  // Coverage off in the child (an empty NODE_V8_COVERAGE; left out, Node would copy it in): the child
  // compiles src/ with tsx, tap's processes with tap's loader, and c8 merges V8 ranges per file before
  // source-mapping, so mixing the two compiled forms garbles the figures of every shared file.
  const inherited = { ...process.env };
  delete inherited.DATABASE_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env: { ...inherited, NODE_V8_COVERAGE: '', ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += String(chunk)));
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  return { child, output: () => output, exited };
}

/** Polls /healthz every 100 ms; a cold start (tsx compiling, PGlite initialising) on a loaded machine may take a minute. */
export async function waitForHealthy(port: number, started: Started): Promise<void> {
  for (let attempt = 0; attempt < 1800; attempt++) {
    if (started.child.exitCode !== null) throw new Error(`server exited: ${started.output()}`);
    const healthy = await fetch(`http://127.0.0.1:${String(port)}/healthz`).then((response) => response.ok, () => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server did not become healthy: ${started.output()}`);
}
