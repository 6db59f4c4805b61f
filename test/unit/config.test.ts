// Configuration: defaults, derived values, and one clear line naming the variable for a bad value.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';

const key = Buffer.alloc(32, 1).toString('base64');

t.test('defaults follow the contract', async (t) => {
  const config = loadConfig({});
  t.equal(config.port, 3000);
  t.equal(config.host, '127.0.0.1');
  t.equal(config.publicUrl, 'http://localhost:3000');
  t.equal(config.callbackUrl, 'http://localhost:3000/auth/gitlab/callback');
  t.equal(config.databaseUrl, undefined);
  t.equal(config.dataDir, './data');
  t.same(config.internalApiTokens, []);
  t.same(config.egressIps, []);
  t.equal(config.botUsername, 'review-bot');
  t.same(config.oauthScopes, ['api', 'read_user', 'openid', 'email']);
  t.equal(config.allowPrivateNetworks, false);
  t.equal(config.allowHttp, false);
  t.equal(config.gitlabTimeoutMs, 10000);
  t.equal(config.sessionTtlHours, 168);
  t.equal(config.logLevel, 'info');
  t.equal(config.trustProxy, false);
  t.equal(config.bootstrapMaxConcurrent, 4);
});

t.test('TRUST_PROXY takes a boolean or the proxies\' addresses', async (t) => {
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8,192.168.1.1' }).trustProxy, ['10.0.0.0/8', '192.168.1.1']);
});

t.test('values are parsed and derived', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    PUBLIC_URL: 'https://connect.example.com/',
    INTERNAL_API_TOKENS: 'aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb',
    EGRESS_IPS: '203.0.113.7/32, 2001:db8::/48',
    FRONTEND_URL: 'https://app.example.com/',
    ALLOW_HTTP: 'true',
    OAUTH_SCOPES: 'api openid',
    SESSION_TTL_HOURS: '12',
    ENCRYPTION_KEY: key,
    NODE_ENV: 'production',
  });
  t.equal(config.port, 8080);
  t.equal(config.callbackUrl, 'https://connect.example.com/auth/gitlab/callback');
  t.same(config.internalApiTokens, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  t.same(config.egressIps, ['203.0.113.7/32', '2001:db8::/48']);
  t.equal(config.frontendUrl, 'https://app.example.com');
  t.equal(config.allowHttp, true);
  t.same(config.oauthScopes, ['api', 'openid']);
  t.equal(config.sessionTtlHours, 12);
});

const bad: [env: Record<string, string>, message: RegExp][] = [
  [{ PORT: 'eighty' }, /^PORT: must be a whole number from 0 to 65535$/],
  [{ PORT: '70000' }, /^PORT: must be a whole number from 0 to 65535$/],
  [{ PUBLIC_URL: 'connect.example.com' }, /^PUBLIC_URL: must be an http\(s\) URL/],
  [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: must be a PostgreSQL connection string/],
  [{ ENCRYPTION_KEY: 'short' }, /^ENCRYPTION_KEY: must be 32 random bytes in base64, e.g. from openssl rand -base64 32$/],
  [{ EGRESS_IPS: '1.2.3.4/40' }, /^EGRESS_IPS: "1.2.3.4\/40"/],
  [{ EGRESS_IPS: 'not-an-ip' }, /^EGRESS_IPS: /],
  [{ ALLOW_HTTP: 'yes' }, /^ALLOW_HTTP: must be true or false$/],
  [{ GITLAB_TIMEOUT_MS: '5' }, /^GITLAB_TIMEOUT_MS: /],
  [{ SESSION_TTL_HOURS: '0' }, /^SESSION_TTL_HOURS: /],
  [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent$/],
  [{ TRUST_PROXY: 'yes please' }, /^TRUST_PROXY: must be true, false, or comma-separated/],
  [{ TRUST_PROXY: '10.0.0.0/99' }, /^TRUST_PROXY: "10.0.0.0\/99"/],
  [{ INTERNAL_API_TOKENS: 'short' }, /^INTERNAL_API_TOKENS: must be comma-separated tokens of 16 characters/],
  [{ BOT_USERNAME: 'has space' }, /^BOT_USERNAME: must be a GitLab username/],
  [{ NODE_ENV: 'production' }, /^ENCRYPTION_KEY: required when NODE_ENV=production$/],
];

t.test('a bad value stops start-up with one line naming the variable', async (t) => {
  for (const [env, message] of bad) {
    const error = t.throws(() => loadConfig(env), JSON.stringify(env)) as Error;
    t.ok(error instanceof ConfigError);
    t.match(error.message, message);
    t.notMatch(error.message, /\n/, 'one line');
  }
});

t.test('INTERNAL_API_TOKENS: name:token entries are named, bare tokens get token-<position>, names are unique', async (t) => {
  const config = loadConfig({ INTERNAL_API_TOKENS: 'review-workers:aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb' });
  t.same(config.internalCallers, [
    { name: 'review-workers', token: 'aaaaaaaaaaaaaaaa' },
    { name: 'token-2', token: 'bbbbbbbbbbbbbbbb' },
  ]);
  t.same(config.internalApiTokens, ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
  t.throws(() => loadConfig({ INTERNAL_API_TOKENS: 'ci:aaaaaaaaaaaaaaaa,ci:bbbbbbbbbbbbbbbb' }), new ConfigError('INTERNAL_API_TOKENS: the name "ci" is given twice'));
  t.throws(() => loadConfig({ INTERNAL_API_TOKENS: 'internal-ci:tok123456' }), new ConfigError('INTERNAL_API_TOKENS: the token named "internal-ci" is shorter than 16 characters'));
});
