// The container files stay in step with the code: every variable that docker-compose.yml and the
// Dockerfile set is one the configuration schema knows, the start order is postgres → migrate → service,
// and the migrate CLI that the migrate service runs applies the migrations once, then finds none pending.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { EnvSchema } from '../../src/config.js';
import { buildOnce, childEnv } from '../helpers/server-process.js';
import { startNodeFlags } from '../helpers/start-command.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const knownVariables = Object.keys(EnvSchema.properties);

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string> | string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  ports?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService>; name?: string };
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
/** Dockerfile instructions, one per entry, with line continuations joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\r?\n/g, ' ')
  .split(/\r?\n/)
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

function environmentNames(service: ComposeService): string[] {
  const environment = service.environment ?? {};
  return Array.isArray(environment) ? environment.map((entry) => entry.split('=')[0]) : Object.keys(environment);
}

t.test('docker-compose.yml runs postgres, then migrate, then the service', async (t) => {
  const { postgres, migrate, 'gitlab-connect': service } = compose.services;
  t.ok(['postgres', 'migrate', 'gitlab-connect'].every((name) => name in compose.services), 'postgres, migrate and gitlab-connect services exist');
  t.equal(compose.name, undefined, 'no top-level name: (docker-compose 1.29 refuses it)');
  t.match(postgres.image, /^postgres:15/);
  t.match(JSON.stringify(postgres.healthcheck?.test), /pg_isready/, 'postgres has a pg_isready healthcheck');
  t.ok(postgres.volumes?.some((volume) => volume.endsWith(':/var/lib/postgresql/data')), 'postgres keeps its data in a volume');
  t.same(migrate.depends_on, { postgres: { condition: 'service_healthy' } }, 'migrate waits for a healthy postgres');
  t.same(service.depends_on, { migrate: { condition: 'service_completed_successfully' } }, 'the service waits for migrate to succeed');
  t.same(migrate.command, ['node', 'dist/src/db/migrate-cli.js']);
  t.ok(existsSync(join(root, 'src/db/migrate-cli.ts')), 'the migrate command is built from src/db/migrate-cli.ts');
  t.equal(migrate.image, service.image, 'migrate runs the same image as the service');
  t.ok(service.ports?.includes('3000:3000'));
});

t.test('every variable compose gives the service and migrate is one the configuration knows', async (t) => {
  for (const name of ['gitlab-connect', 'migrate']) {
    const names = environmentNames(compose.services[name]);
    t.ok(names.includes('DATABASE_URL') && names.includes('ENCRYPTION_KEY'), `${name} gets DATABASE_URL and ENCRYPTION_KEY`);
    for (const variable of names) t.ok(knownVariables.includes(variable), `${name}: ${variable} is in EnvSchema`);
  }
  const service = compose.services['gitlab-connect'].environment as Record<string, string>;
  t.equal(service.ENCRYPTION_KEY, '${ENCRYPTION_KEY:?set ENCRYPTION_KEY}', 'the key comes from the environment, never from the file');
  t.match(service.DATABASE_URL, /@postgres:5432\//, 'the service talks to the postgres service');
});

/** The variable names of the README's configuration table (its rows start with a backticked name). */
function readmeVariables(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1].split(/^## /m)[0];
  return [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
}

/** Set by the image (HOST, PORT, NODE_ENV) or meaningless with the compose postgres (DATA_DIR). */
const NOT_FROM_COMPOSE = ['HOST', 'PORT', 'NODE_ENV', 'DATA_DIR'];

t.test("every variable of the README's configuration table passes through compose, with the README's default", async (t) => {
  const variables = readmeVariables();
  t.same([...variables].sort(), [...knownVariables].sort(), 'the README table lists exactly the configuration schema');
  const service = compose.services['gitlab-connect'].environment as Record<string, string>;
  for (const variable of variables.filter((name) => !NOT_FROM_COMPOSE.includes(name))) {
    t.ok(variable in service, `compose passes ${variable} through`);
    if (variable === 'DATABASE_URL') continue;
    t.match(service[variable], new RegExp(`^\\$\\{${variable}[:?-]`), `${variable} is read from the environment`);
    const fallback = /:-(.*)\}$/.exec(service[variable] ?? '')?.[1];
    const schemaDefault = (EnvSchema.properties as Record<string, { default?: unknown }>)[variable].default;
    if (fallback !== undefined && fallback !== '' && schemaDefault !== undefined && variable !== 'PUBLIC_URL') t.equal(fallback, String(schemaDefault as string | number | boolean), `${variable}'s compose default is the service's`);
  }
  for (const name of NOT_FROM_COMPOSE) t.notOk(name in service, `${name} is left to the image`);
});

t.test('engines, the Dockerfile Node image and the dependencies agree on the Node version', async (t) => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
  t.equal(manifest.engines.node, '>=20.19', 'Node 20.19 and later');
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };
  const needNewer = Object.entries(lock.packages)
    // A range whose every alternative starts at Node 21 or later refuses Node 20 (`>=22 || >=20.19 <21` accepts it).
    .filter(([path, entry]) => path && entry.engines?.node?.split('||').every((part) => /^\s*>=?\s*v?(2[1-9]|[3-9]\d)/.test(part)))
    .map(([path, entry]) => `${path} ${String(entry.engines!.node)}`);
  t.same(needNewer, [], 'no installed package asks for a Node newer than 20');
  for (const stage of instructions.filter((line) => /^FROM\s/i.test(line))) t.match(stage, /^FROM node:(2[0-9])-slim\b/, 'the image runs a Node the engines accept');
});

t.test('the Dockerfile: two stages, known ENV names, a healthcheck, a non-root user, the built entry point', async (t) => {
  const stages = instructions.filter((line) => /^FROM\s/i.test(line));
  t.equal(stages.length, 2, 'a build stage and a runtime stage');
  t.match(stages[1], /^FROM node:(22|24)-slim\b/i, 'runtime on a current Node LTS slim image');
  const envNames = instructions
    .filter((line) => /^ENV\s/i.test(line))
    .flatMap((line) => {
      const words = line.replace(/^ENV\s+/i, '').split(/\s+/);
      return words[0].includes('=') ? words.filter((word) => word.includes('=')).map((word) => word.split('=')[0]) : [words[0]];
    });
  t.same(envNames.sort(), ['HOST', 'NODE_ENV', 'PORT']);
  for (const name of envNames) t.ok(knownVariables.includes(name), `ENV ${name} is in EnvSchema`);
  const healthcheck = instructions.find((line) => /^HEALTHCHECK\s/i.test(line));
  t.match(healthcheck, /\/healthz/, 'HEALTHCHECK probes /healthz');
  t.notMatch(healthcheck, /curl|wget/, 'no curl or wget in a slim image');
  const users = instructions.filter((line) => /^USER\s/i.test(line));
  t.ok(users.length > 0, 'a USER instruction');
  t.notMatch(users.at(-1), /^USER\s+(root|0)\b/i, 'the last USER is not root');
  const startCommand = ['node', ...startNodeFlags(), 'dist/src/server.js'];
  t.ok(instructions.includes(`CMD [${startCommand.map((word) => JSON.stringify(word)).join(', ')}]`), 'runs the built server with node, not tsx, as npm start does');
  t.notMatch(instructions.filter((line) => /^(CMD|ENTRYPOINT)\s/i.test(line)).join('\n'), /tsx/);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the migrate CLI as the compose file's migrate service does (`node dist/src/db/migrate-cli.js`). */
function runMigrateCli(env: Record<string, string>): Promise<Run> {
  buildOnce();
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['dist/src/db/migrate-cli.js'], { cwd: root, env: childEnv(env) }, (_error, stdout, stderr) => { resolve({ code: child.exitCode, stdout, stderr }); });
  });
}

/** An empty database the CLI has to migrate: on TEST_DATABASE_URL's server, else an embedded one in a temp dir. */
async function emptyDatabaseEnv(t: Test): Promise<Record<string, string>> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'gitlab-connect-migrate-'));
    t.teardown(() => { rmSync(dataDir, { recursive: true, force: true }); });
    return { DATA_DIR: dataDir };
  }
  // Not createTestDatabase: its databases are cloned from an already migrated template.
  const name = `gitlab_connect_test_migrate_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  t.teardown(async () => {
    const cleanup = new pg.Client({ connectionString: serverUrl });
    await cleanup.connect();
    await cleanup.query(`drop database if exists "${name}" with (force)`);
    await cleanup.end();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { DATABASE_URL: url.toString() };
}

t.test('every package the bundle leaves out is a production dependency, and the image build gets the build script', async (t) => {
  // The runtime stage installs production dependencies only; the bundle loads its externals from them.
  const buildScript = new URL('../../scripts/build.mjs', import.meta.url).href;
  const { EXTERNAL_PACKAGES } = (await import(buildScript)) as { EXTERNAL_PACKAGES: string[] };
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  // pg-native is pg's optional native add-on: pg tries it only when asked, and it is not installed.
  for (const name of EXTERNAL_PACKAGES.filter((name) => name !== 'pg-native')) t.ok(name in manifest.dependencies, `${name} is in dependencies`);
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
  t.ok(ignored.includes('!scripts/build.mjs') || !ignored.includes('scripts'), 'scripts/build.mjs, which the Dockerfile copies, is not excluded from the build context');
});

t.test('the server bundle takes Node\'s sockets without pg\'s Cloudflare check (which loads Node\'s built-in fetch)', async (t) => {
  buildOnce();
  const bundle = readFileSync(join(root, 'dist', 'src', 'server.bundle.cjs'), 'utf8');
  t.ok(bundle.includes('if(false){return getCloudflareStreamFuncs()}'), 'pg\'s lib/stream.js as the pg-on-node plugin of scripts/build.mjs leaves it');
  t.notOk(bundle.includes('new Response(null,{cf:'), 'no Response is constructed to ask');
});

t.test('the server bundle keeps no keepNames call that restates a name, and keeps those that restore one', async (t) => {
  buildOnce();
  const bundle = readFileSync(join(root, 'dist', 'src', 'server.bundle.cjs'), 'utf8');
  // Tested as booleans: a failed match would print the 3.5 MB bundle.
  t.notOk(/__name\(([A-Za-z_$][\w$]*),"\1"\)/.test(bundle), 'dropped by scripts/build.mjs (dropRestatedNames)');
  t.ok(/var DatabaseError\d+=class extends Error\{static\{__name\(this,"DatabaseError"\)\}/.test(bundle), 'pg\'s DatabaseError, renamed in the bundle, is still named as pg wrote it');
});

t.test('the migrate CLI (the compose file\'s migrate command) applies the migrations, then reports none pending', async (t) => {
  const env = { ...(await emptyDatabaseEnv(t)), LOG_LEVEL: 'warn' };
  const first = await runMigrateCli(env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^migrate: applied 20261125090000_create_instances$/m, 'prints the applied migration');
  const second = await runMigrateCli(env);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /^migrate: no pending migrations/m);
  t.notMatch(second.stdout, /applied/);
});

t.test('npm run migrate fails in one line when the database cannot be reached', async (t) => {
  const run = await runMigrateCli({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
  t.equal(run.code, 1);
  t.match(run.stderr, /^gitlab-connect migrate: [^\n]+\n$/);
});
