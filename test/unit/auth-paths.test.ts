// The per-instance redirect URI: derived from the normalised URL alone, distinct per URL, stable.
import t from 'tap';
import { callbackKeyOf, instanceCallbackUrl } from '../../src/auth-paths.js';

t.test('an instance callback URL lies below $PUBLIC_URL/auth/gitlab/callback/ and is the same for the same URL', async (t) => {
  const url = instanceCallbackUrl('https://connect.example/', 'https://git.example.com/gitlab');
  t.match(url, /^https:\/\/connect\.example\/auth\/gitlab\/callback\/[A-Za-z0-9_-]{22}$/);
  t.equal(instanceCallbackUrl('https://connect.example', 'https://git.example.com/gitlab'), url);
});

t.test('the key is the first 22 characters of base64url(SHA-256(URL)): the redirect URIs registered on GitLab stay valid', async (t) => {
  // Computed with createHash('sha256').update(url).digest('base64url'), the way the first applications were registered.
  t.equal(callbackKeyOf('https://git.example.com/gitlab'), 'f2zi_fm4k1SQCOmmhJ4bnZ');
});

t.test('two instance URLs get two different keys', async (t) => {
  t.not(callbackKeyOf('https://git.example.com'), callbackKeyOf('https://git.example.com/gitlab'));
  t.not(callbackKeyOf('https://a.example'), callbackKeyOf('https://b.example'));
});
