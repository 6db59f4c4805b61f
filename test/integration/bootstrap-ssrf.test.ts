// POST /instances/bootstrap with ALLOW_PRIVATE_NETWORKS=false: no spelling of a loopback, private or
// link-local address, and no name resolving to one, gets a single request to the fake GitLab.
import dns, { type LookupAddress } from 'node:dns';
import t from 'tap';
import type { LookupFunction } from '../../src/gitlab/address-guard.js';
import { buildTestApp } from '../helpers/app.js';
import { expectNoInstance, expectProblem } from '../helpers/bootstrap.js';
import { postBootstrap, startTestGitlab } from '../helpers/gitlab.js';

const PUBLIC_HTTP_ENV = { ALLOW_HTTP: 'true', ALLOW_PRIVATE_NETWORKS: 'false' };

/** Made-up names and what they resolve to; everything else goes to the system resolver. */
const NAMES: Partial<Record<string, LookupAddress[]>> = {
  'gitlab.internal.test': [{ address: '10.0.0.1', family: 4 }],
  'rebind.test': [{ address: '127.0.0.1', family: 4 }],
  // One public and one loopback answer: a single bad address must be enough to refuse the name.
  'mixed.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};

type Callback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup's signature: (hostname, [options,] callback), options a family number or an object. */
const testLookup = ((hostname: string, options: unknown, callback?: unknown) => {
  const cb = (typeof options === 'function' ? options : callback) as Callback;
  const opts = (typeof options === 'object' && options !== null ? options : {}) as dns.LookupOptions;
  const known = NAMES[hostname.toLowerCase()];
  if (!known) {
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) cb(err, []);
      else if (opts.all) cb(null, addresses);
      else cb(null, addresses[0].address, addresses[0].family);
    });
    return;
  }
  queueMicrotask(() => {
    if (opts.all) cb(null, known);
    else cb(null, known[0].address, known[0].family);
  });
}) as unknown as LookupFunction;

t.test('every spelling of a non-public address is refused with 422 url_not_allowed and GitLab gets no request', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const port = new URL(fake.url).port;
  const { app } = await buildTestApp(t, PUBLIC_HTTP_ENV, { lookup: testLookup });

  // IP literals (however spelled: WHATWG URL turns 2130706433 and 0x7f.1 into 127.0.0.1) and names
  // that resolve to such addresses are refused before any instance is stored.
  const urls = [
    `http://127.0.0.1:${port}`,
    `http://[::1]:${port}`,
    `http://[::ffff:127.0.0.1]:${port}`,
    `http://2130706433:${port}`,
    `http://0x7f.1:${port}`,
    'http://169.254.169.254',
    'http://10.0.0.1',
    `http://localhost:${port}`,
    'http://gitlab.internal.test',
    `http://rebind.test:${port}`,
    `http://mixed.test:${port}`,
  ];

  for (const url of urls) {
    await t.test(url, async (t) => {
      const body = expectProblem(t, await postBootstrap(app, { url, adminToken: admin.token }), { status: 422, code: 'url_not_allowed', step: 'url' });
      t.notMatch(String(body.detail), admin.token);
      await expectNoInstance(t, app, url);
    });
  }
  t.same(fake.requests, [], 'the fake GitLab received no request at all');
  t.equal(fake.counters.usersCreated, 0);
});

t.test('with ALLOW_PRIVATE_NETWORKS=true the same resolver sends rebind.test to the fake (the resolver is used)', async (t) => {
  const fake = await startTestGitlab(t);
  const admin = fake.seedAdmin();
  const url = `http://rebind.test:${new URL(fake.url).port}`;
  const { app } = await buildTestApp(t, { ...PUBLIC_HTTP_ENV, ALLOW_PRIVATE_NETWORKS: 'true' }, { lookup: testLookup });

  const response = await postBootstrap(app, { url, adminToken: admin.token });
  t.equal(response.statusCode, 201, response.body);
  t.equal(response.json().url, url);
  t.ok(fake.requests.length > 0, 'the fake was reached');
  t.ok(fake.requests.some((r) => r.path === '/api/v4/user'), 'through the API');
});
