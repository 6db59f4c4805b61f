// npm run sandbox: the fake GitLab and the service wired together, one instance bootstrapped, a user
// logged in, and everything a frontend developer needs printed with a ready curl per route. Ctrl-C stops both.
import { loginThroughFake, startSandbox, type Sandbox } from './sandbox/sandbox.js';

const sandbox = await startSandbox({
  port: Number(process.env.PORT ?? 3000),
  gitlabPort: Number(process.env.GITLAB_PORT ?? 8929),
  frontendUrl: process.env.FRONTEND_URL ?? 'http://localhost:5173',
  logLevel: process.env.LOG_LEVEL ?? 'warn',
  // npm run sandbox -- --manual: manual onboarding (the admin's own bot and application, registered).
  mode: process.argv.includes('--manual') ? 'manual' : 'automated',
});
const sessionToken = await loginThroughFake(sandbox.loginUrl);
const me = (await (await fetch(`${sandbox.serviceUrl}/me`, { headers: { authorization: `Bearer ${sessionToken}` } })).json()) as { user: { id: string } };

/** List, install, make the fake GitLab deliver (its hook test API, as the "Test" button does), read the feed, uninstall. */
function repositoryCurls(s: Sandbox, session: string): string[] {
  const url = s.serviceUrl;
  const user = `-H 'authorization: Bearer ${session}'`;
  const installation = `${url}/repositories/${String(s.project.id)}/installation`;
  const hookTest = `${s.gitlabUrl}/api/v4/projects/${String(s.project.id)}/hooks/<hookId>/test/merge_requests_events`;
  return [
    `curl -s ${url}/repositories ${user}    # ${s.project.pathWithNamespace}, which ${s.gitlabUser.username} maintains`,
    `curl -s -X PUT ${installation} ${user}    # 201 installed (200 when run again); note installation.hookId`,
    `curl -s -X POST ${hookTest} -H 'PRIVATE-TOKEN: ${s.adminToken}'    # the fake delivers a merge request event: 201`,
    `curl -s '${url}/internal/webhook-events?limit=10' -H 'authorization: Bearer ${s.internalToken}'    # the delivered event, and nextCursor`,
    `curl -s -X DELETE ${installation} ${user}    # 204`,
  ];
}

function curls(s: Sandbox, session: string, userId: string): string[] {
  const url = s.serviceUrl;
  const internal = `-H 'authorization: Bearer ${s.internalToken}'`;
  const json = `-H 'content-type: application/json'`;
  return [
    `curl -s ${url}/healthz`,
    `curl -s ${url}/readyz`,
    `curl -s ${url}/meta`,
    `curl -s '${url}/instances/lookup?url=${encodeURIComponent(s.gitlabUrl)}'`,
    `curl -s -X POST ${url}/instances/bootstrap ${json} -d '{"url":"${s.gitlabUrl}","adminToken":"${s.adminToken}"}'`,
    `curl -s -i '${s.loginUrl}'    # or open it in a browser: the fake GitLab logs you in as alice`,
    `curl -s ${url}/me -H 'authorization: Bearer ${session}'    # or the gc_session cookie`,
    ...repositoryCurls(s, session),
    `curl -s ${url}/internal/instances ${internal}`,
    `curl -s ${url}/internal/instances/${s.instanceId} ${internal}`,
    `curl -s ${url}/internal/instances/${s.instanceId}/events ${internal}`,
    `curl -s -X POST ${url}/internal/instances/${s.instanceId}/bot-token ${internal}`,
    `curl -s -X POST ${url}/internal/users/${userId}/gitlab-token ${internal}`,
    `curl -s ${url}/metrics ${internal}`,
    `curl -s -X POST ${url}/auth/logout -H 'authorization: Bearer ${session}'`,
    `curl -s -X DELETE ${url}/internal/instances/${s.instanceId} ${internal} ${json} -d '{"adminToken":"${s.adminToken}"}'`,
  ];
}

process.stdout.write(
  [
    '',
    'gitlab-connect sandbox (throw-away: an embedded database in a temp directory, gone on Ctrl-C)',
    `  service         ${sandbox.serviceUrl}   (API docs: ${sandbox.serviceUrl}/docs)`,
    `  fake GitLab     ${sandbox.gitlabUrl}   (logs every browser in as ${sandbox.gitlabUser.username})`,
    `  instance id     ${sandbox.instanceId}`,
    `  loginUrl        ${sandbox.loginUrl}`,
    `  internal token  ${sandbox.internalToken}   (INTERNAL_API_TOKENS name: sandbox)`,
    `  admin token     ${sandbox.adminToken}   (the fake GitLab's administrator)`,
    ...(sandbox.manual
      ? [`  manual          bot token ${sandbox.manual.botToken}, OAuth client ${sandbox.manual.clientId} / ${sandbox.manual.clientSecret} (registered with POST /instances/register)`]
      : []),
    `  session token   ${sessionToken}   (${sandbox.gitlabUser.username}, user id ${me.user.id})`,
    `  project         ${sandbox.project.pathWithNamespace} (GitLab project id ${String(sandbox.project.id)}, ${sandbox.gitlabUser.username} is Maintainer; one open merge request)`,
    `  FRONTEND_URL    ${process.env.FRONTEND_URL ?? 'http://localhost:5173'}`,
    '',
    'Try:',
    ...curls(sandbox, sessionToken, me.user.id).map((line) => `  ${line}`),
    '',
    'Ctrl-C stops the service and the fake GitLab.',
    '',
  ].join('\n'),
);

// `on`, not `once`, and only the first signal acts: under `npm run sandbox` one Ctrl-C arrives twice (from
// the terminal and relayed by npm), and a second, unhandled SIGINT would kill the process before
// sandbox.close() has deleted the throw-away database.
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void sandbox.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
