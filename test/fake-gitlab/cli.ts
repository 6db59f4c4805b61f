// Runs the fake GitLab stand-alone as a sandbox (frontend team, curl): seeds an admin and a browser user.
import { startFakeGitlab } from './index.js';

// tap runs every .ts file under test/ by default; this one is a server, not a test, so it bows out there.
if (process.env.TAP === '1') {
  process.stdout.write('1..0 # SKIP fake GitLab sandbox CLI, not a test\n');
  process.exit(0);
}

const port = Number(process.env.PORT ?? 8929);
const fake = await startFakeGitlab({
  host: process.env.HOST ?? '127.0.0.1',
  port,
  relativeRoot: process.env.RELATIVE_ROOT ?? '',
  adminMode: ['1', 'true', 'yes'].includes((process.env.ADMIN_MODE ?? '').toLowerCase()),
  ...(process.env.VERSION ? { version: process.env.VERSION } : {}),
});

// With Admin Mode on, the seeded token also carries admin_mode so the sandbox works out of the box.
const admin = fake.seedAdmin({ scopes: fake.adminMode ? ['api', 'admin_mode'] : ['api'] });
const person = fake.createUser({ username: 'alice', name: 'Alice Example', email: 'alice@example.com' });
fake.setBrowserUser(person.id);

process.stdout.write([
  `fake GitLab ${fake.version} listening on ${fake.url}${fake.adminMode ? ' (Admin Mode on)' : ''}`,
  `admin token (user ${admin.user.username}): ${admin.token}`,
  `browser user approving OAuth logins: ${person.username} (id ${String(person.id)})`,
  '',
].join('\n'));

const stop = (): void => {
  void fake.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
