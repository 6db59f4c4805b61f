// Entry point of the fake GitLab: starts the server and hands tests its state, helpers and request log.
import type { AddressInfo } from 'node:net';
import { createServer } from './server.js';
import { FakeState } from './state.js';
import type { FakeGitlabOptions } from './types.js';

export type * from './types.js';
export type { FakeCounters } from './state.js';
export { ALL_SCOPES, PAT_SCOPES } from './state.js';
export { createProject, triggerEvent, type FakeProject, type FakeHook, type FakeMergeRequest, type DeliveryAttempt } from './api-projects.js';
export { createTestCertificates, createTlsVariants, type TestCertificates, type TlsVariants } from './tls.js';
export { floodApplications, gzipBomb, gzipBombFault, secretEchoFault, secretSpellings } from './malicious.js';

/** The running fake: everything FakeState offers plus the base URL and close(). */
export interface FakeGitlab extends FakeState {
  close(): Promise<void>;
}

/** Strips slashes so '/gitlab/' and 'gitlab' both mean '/gitlab'; '' and '/' mean no root. */
function normalizeRoot(root: string | undefined): string {
  const trimmed = (root ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed ? `/${trimmed}` : '';
}

/** Ports a fake of this process has listened on: each fake's URL is new to the process. */
const portsUsed = new Set<number>();

/**
 * Listens on `port`, or on a port the OS picks that no earlier fake of this process had: the OS may hand
 * a closed fake's port out again, and a test database (one per test process) would then already hold an
 * instance at that URL (seen: instances_url_key violated in a login test). Answers the port.
 */
async function listenOnFreshPort(server: ReturnType<typeof createServer>, host: string, port: number | undefined): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port ?? 0, host, () => { resolve(); });
    });
    const { port: bound } = server.address() as AddressInfo;
    if (port !== undefined || !portsUsed.has(bound) || attempt === 20) {
      portsUsed.add(bound);
      return bound;
    }
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }
}

export async function startFakeGitlab(options: FakeGitlabOptions = {}): Promise<FakeGitlab> {
  const relativeRoot = normalizeRoot(options.relativeRoot);
  const fake = new FakeState(options) as FakeGitlab;
  const server = createServer(fake, { relativeRoot, tls: options.tls, ...(options.front ? { front: options.front } : {}) });
  const host = options.host ?? '127.0.0.1';
  const port = await listenOnFreshPort(server, host, options.port);
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  fake.url = `${options.tls ? 'https' : 'http'}://${hostInUrl}:${String(port)}${relativeRoot}`;
  fake.close = () => new Promise<void>((resolve, reject) => {
    // Held requests end with their (already dropped) sockets.
    for (const fault of fake.faults) fault.release();
    server.close((error) => { if (error) reject(error); else resolve(); });
    // Keep-alive sockets of clients under test must not hold the test open.
    server.closeAllConnections();
  });
  return fake;
}
