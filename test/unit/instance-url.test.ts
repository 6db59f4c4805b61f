// normalizeInstanceUrl: what a user may type, and the one form the service stores.
import t from 'tap';
import { AppError } from '../../src/errors.js';
import { MAX_INSTANCE_URL_LENGTH, normalizeInstanceUrl } from '../../src/services/instance-url.js';

const normalised: [input: string, expected: string][] = [
  ['https://gitlab.example.com', 'https://gitlab.example.com'],
  ['https://GIT.example.com:443/gitlab/', 'https://git.example.com/gitlab'],
  ['gitlab.example.com', 'https://gitlab.example.com'],
  ['gitlab.example.com/', 'https://gitlab.example.com'],
  ['  gitlab.example.com  ', 'https://gitlab.example.com'],
  ['HTTPS://GitLab.Example.COM', 'https://gitlab.example.com'],
  ['http://gitlab.example.com:80/', 'http://gitlab.example.com'],
  ['http://gitlab.example.com:443', 'http://gitlab.example.com:443'],
  ['https://gitlab.example.com:8443', 'https://gitlab.example.com:8443'],
  ['gitlab.example.com:8443/gitlab', 'https://gitlab.example.com:8443/gitlab'],
  ['https://example.com/tools/gitlab///', 'https://example.com/tools/gitlab'],
  ['https://example.com/GitLab', 'https://example.com/GitLab'],
  ['https://bücher.example', 'https://xn--bcher-kva.example'],
  ['https://例え.jp/gitlab', 'https://xn--r8jz45g.jp/gitlab'],
  ['https://gitlab.example.com/a/../gitlab', 'https://gitlab.example.com/gitlab'],
  ['https://10.0.0.5', 'https://10.0.0.5'],
  ['https://[2001:DB8::1]:443/', 'https://[2001:db8::1]'],
  ['localhost:8080', 'https://localhost:8080'],
];

const refused: [input: string, reason: RegExp][] = [
  ['', /empty/],
  ['   ', /empty/],
  ['https://user:pass@gitlab.example.com', /user name or password/],
  ['https://user@gitlab.example.com', /user name or password/],
  ['https://gitlab.example.com/?foo=bar', /query/],
  ['https://gitlab.example.com/?', /query/],
  ['https://gitlab.example.com/#top', /fragment/],
  ['ftp://gitlab.example.com', /scheme ftp/],
  ['javascript://gitlab.example.com', /scheme javascript/],
  ['file:///etc/passwd', /scheme file/],
  ['https://', /not a URL/],
  ['https://gitlab example.com', /white space/],
  ['https://gitlab.example.com\\evil', /backslash/],
  ['https://gitlab..example.com', /no valid host/],
  ['https://gitlab.example.com.', /no valid host/],
  ['https://gitlab.example.com:99999', /not a URL/],
  [`https://example.com/${'a'.repeat(MAX_INSTANCE_URL_LENGTH)}`, /longer than/],
  ['https://example.com//gitlab', /empty segment/],
];

t.test('normalises what a user may type', async (t) => {
  for (const [input, expected] of normalised) t.equal(normalizeInstanceUrl(input), expected, JSON.stringify(input));
});

t.test('refuses what cannot be an instance URL with invalid_url', async (t) => {
  for (const [input, reason] of refused) {
    const error = t.throws(() => normalizeInstanceUrl(input), JSON.stringify(input.slice(0, 60)));
    t.ok(error instanceof AppError && error.code === 'invalid_url', `code for ${JSON.stringify(input.slice(0, 60))}`);
    t.match((error as Error).message, reason);
  }
});

t.test('a normalised URL is a fixed point', async (t) => {
  for (const [, expected] of normalised) t.equal(normalizeInstanceUrl(expected), expected);
});
