// Liveness, readiness (503 while the database is unreachable, recovered when it returns), /meta, /docs.
import t from 'tap';
import pino from 'pino';
import { buildApp } from '../../src/app.js';
import { openPostgres } from '../../src/db/database.js';
import { buildTestApp, testConfig } from '../helpers/app.js';
import { proxyDatabase } from '../helpers/tcp-proxy.js';

t.test('healthz and readyz answer on a reachable database', async (t) => {
  const { app } = await buildTestApp(t);
  t.same((await app.inject('/healthz')).json(), { status: 'ok' });
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready' });
});

t.test('readyz is a 503 problem while the database cannot be reached; healthz stays up', async (t) => {
  const logger = pino({ level: 'silent' });
  const database = openPostgres('postgres://postgres@127.0.0.1:1/none', logger, 1);
  const app = await buildApp(testConfig(), { database, logger });
  t.teardown(async () => {
    await app.close();
    await database.close();
  });
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 503);
  t.match(ready.headers['content-type'], /^application\/problem\+json/);
  t.match(ready.json(), { code: 'not_ready', status: 503 });
  t.equal((await app.inject('/healthz')).statusCode, 200);
});

const serverUrl = process.env.TEST_DATABASE_URL;
t.test('readyz recovers when PostgreSQL comes back', { skip: serverUrl ? false : 'needs TEST_DATABASE_URL (a PostgreSQL server)' }, async (t) => {
  const { proxy, url: viaProxy } = await proxyDatabase(serverUrl!);
  const logger = pino({ level: 'silent' });
  const database = openPostgres(viaProxy, logger, 2);
  const app = await buildApp(testConfig(), { database, logger });
  t.teardown(async () => {
    await app.close();
    await database.close();
    await proxy.close();
  });
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready through the proxy');
  await proxy.stop();
  t.equal((await app.inject('/readyz')).statusCode, 503, 'not ready while the database is gone');
  await proxy.start();
  t.equal((await app.inject('/readyz')).statusCode, 200, 'ready again without a restart');
});

t.test('meta reports the configuration the frontend shows', async (t) => {
  const { app } = await buildTestApp(t, { EGRESS_IPS: '203.0.113.7/32', OAUTH_SCOPES: 'api openid' });
  t.same((await app.inject('/meta')).json(), {
    egressIps: ['203.0.113.7/32'],
    callbackUrl: 'http://connect.test/auth/gitlab/callback',
    minimumGitlabVersion: '16.0',
    adminTokenScopes: ['api'],
    oauthScopes: ['api', 'openid'],
    version: '0.1.0',
  });
});

t.test('docs serves the interactive API page', async (t) => {
  const { app } = await buildTestApp(t);
  const page = await app.inject('/docs/');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
});

t.test('the index names the service and links onwards (where a login lands without FRONTEND_URL)', async (t) => {
  const { app } = await buildTestApp(t);
  const index = await app.inject('/');
  t.equal(index.statusCode, 200);
  t.same(index.json(), { service: 'gitlab-connect', version: '0.1.0', links: { me: '/me', docs: '/docs', openapi: '/openapi.json' } });
});
