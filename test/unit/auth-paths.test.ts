// The per-instance redirect URI: derived from the normalised URL alone, distinct per URL, stable.
import t from 'tap';
import { callbackKeyOf, instanceCallbackUrl } from '../../src/auth-paths.js';

t.test('an instance callback URL lies below $PUBLIC_URL/auth/gitlab/callback/ and is the same for the same URL', async (t) => {
  const url = instanceCallbackUrl('https://connect.example/', 'https://git.example.com/gitlab');
  t.match(url, /^https:\/\/connect\.example\/auth\/gitlab\/callback\/[A-Za-z0-9_-]{22}$/);
  t.equal(instanceCallbackUrl('https://connect.example', 'https://git.example.com/gitlab'), url);
});

t.test('two instance URLs get two different keys', async (t) => {
  t.not(callbackKeyOf('https://git.example.com'), callbackKeyOf('https://git.example.com/gitlab'));
  t.not(callbackKeyOf('https://a.example'), callbackKeyOf('https://b.example'));
});
