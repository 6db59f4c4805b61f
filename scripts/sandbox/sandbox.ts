// A throw-away sandbox: the fake GitLab and the service wired to it on an embedded database in a temp
// directory, with one bootstrapped instance, a GitLab user who approves logins and a project that user
// maintains (one open merge request, for the hook test that makes the fake deliver). Used by
// `npm run sandbox`, `npm run postman` and the browser test.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createProject, startFakeGitlab, type FakeGitlab } from '../../test/fake-gitlab/index.js';
import { instanceCallbackUrl } from '../../src/auth-paths.js';

/** The internal token of every sandbox (a loopback-only throw-away service), named `sandbox` in the audit trail. */
export const SANDBOX_INTERNAL_TOKEN = 'sandbox-internal-token-0123456789';

export interface SandboxOptions {
  /** The service's port; 0 (default) picks a free one. */
  port?: number;
  /** The fake GitLab's port; 0 (default) picks a free one. */
  gitlabPort?: number;
  /** FRONTEND_URL of the service (CORS with credentials, where logins land by default). */
  frontendUrl?: string;
  logLevel?: string;
  /** manual: the admin's own bot and OAuth application are made on the fake and registered (POST /instances/register) instead of bootstrapped. */
  mode?: 'automated' | 'manual';
}

export interface Sandbox {
  /** The service's base URL, on `localhost` (a different site from the fake GitLab on 127.0.0.1). */
  serviceUrl: string;
  gitlabUrl: string;
  fake: FakeGitlab;
  instanceId: string;
  loginUrl: string;
  internalToken: string;
  adminToken: string;
  /** manual mode: what the admin made on the fake and sent to POST /instances/register. */
  manual?: { botToken: string; clientId: string; clientSecret: string };
  /** The GitLab user the fake logs in when a browser reaches its authorize page. */
  gitlabUser: { id: number; username: string };
  /** A project gitlabUser maintains, with an open merge request: install on it, then test its hook. */
  project: { id: number; pathWithNamespace: string };
  close(): Promise<void>;
}

/** A free TCP port on loopback (the service's PUBLIC_URL must be known before it listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => { resolve(port); });
    });
  });
}

/** Manual onboarding on the fake, as an admin does it by hand: a regular bot user with an api token, and an instance-wide application. */
function manualCredentials(fake: FakeGitlab, callbackUrl: string, scopes: string[]) {
  const { token, application } = fake.seedManualSetup({ redirectUri: callbackUrl, scopes });
  return { botToken: token, clientId: application.uid, clientSecret: application.secret };
}

/**
 * The fake's people and project: its administrator, alice (who approves logins) and alice's project
 * with an open merge request, hooks to the local network allowed.
 */
function seedFake(fake: FakeGitlab) {
  const admin = fake.seedAdmin();
  const person = fake.createUser({ username: 'alice', name: 'Alice Example', email: 'alice@example.com' });
  fake.setBrowserUser(person.id);
  const project = createProject(fake, {
    name: 'sandbox-project', namespace: person.username, members: { [person.id]: 40 },
    mergeRequests: [{ title: 'Try the review bot', sourceBranch: 'feature', targetBranch: 'main', authorId: person.id }],
  });
  // The installed hook points at the service on localhost: GitLab delivers there only once an admin allows
  // "requests to the local network from webhooks and integrations" (see api-projects.ts createHook).
  fake.allowLocalRequestsFromWebHooks = true;
  return { admin, person, project };
}

/** Starts the fake GitLab and the service, bootstraps the fake as an instance; throws when the bootstrap fails. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const fake = await startFakeGitlab({ host: '127.0.0.1', port: options.gitlabPort ?? 0 });
  const { admin, person, project } = seedFake(fake);
  const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-sandbox-'));
  const port = options.port || (await freePort());
  const serviceUrl = `http://localhost:${String(port)}`;
  const config = loadConfig({
    PORT: String(port),
    HOST: 'localhost',
    PUBLIC_URL: serviceUrl,
    DATA_DIR: dataDir,
    INTERNAL_API_TOKENS: `sandbox:${SANDBOX_INTERNAL_TOKEN}`,
    ALLOW_HTTP: 'true',
    ALLOW_PRIVATE_NETWORKS: 'true',
    BOOTSTRAP_RATE_LIMIT_PER_MINUTE: '1000',
    ...(options.frontendUrl ? { FRONTEND_URL: options.frontendUrl } : {}),
  });
  const app = await buildApp(config, { logger: pino({ level: options.logLevel ?? 'warn' }) });
  const close = async () => {
    await app.close();
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await app.listen({ port, host: config.host });
    const manual = options.mode === 'manual' ? manualCredentials(fake, instanceCallbackUrl(serviceUrl, fake.url), config.oauthScopes) : undefined;
    const response = await fetch(`${serviceUrl}/instances/${manual ? 'register' : 'bootstrap'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(manual ? { url: fake.url, botToken: manual.botToken, oauthApplication: { clientId: manual.clientId, clientSecret: manual.clientSecret } } : { url: fake.url, adminToken: admin.token }),
    });
    const result = (await response.json()) as { instanceId: string; loginUrl: string };
    if (!response.ok) throw new Error(`the sandbox bootstrap answered ${String(response.status)}: ${JSON.stringify(result)}`);
    return {
      serviceUrl,
      gitlabUrl: fake.url,
      fake,
      instanceId: result.instanceId,
      loginUrl: result.loginUrl,
      internalToken: SANDBOX_INTERNAL_TOKEN,
      adminToken: admin.token,
      ...(manual ? { manual } : {}),
      gitlabUser: { id: person.id, username: person.username },
      project: { id: project.id, pathWithNamespace: project.pathWithNamespace },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * A login as a browser does it, redirects followed by hand: loginUrl → the fake's authorize → callback.
 * Returns the session token from the callback's Set-Cookie; throws when a step answers otherwise.
 */
export async function loginThroughFake(loginUrl: string): Promise<string> {
  const start = await fetch(loginUrl, { redirect: 'manual' });
  const binding = /gc_login=([^;]+)/.exec(start.headers.get('set-cookie') ?? '')?.[1];
  const authorize = await fetch(start.headers.get('location') ?? '', { redirect: 'manual' });
  const callback = await fetch(authorize.headers.get('location') ?? '', { redirect: 'manual', headers: { cookie: `gc_login=${String(binding)}` } });
  const session = /gc_session=([^;]+)/.exec(callback.headers.get('set-cookie') ?? '')?.[1];
  if (!session) throw new Error(`the sandbox login did not end with a session (callback answered ${String(callback.status)})`);
  return session;
}
