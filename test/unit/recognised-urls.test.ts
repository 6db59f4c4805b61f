// Lookup's recognition of a typed URL, kept per process (keptRecognition in src/services/instances.service.ts):
// the URL policy runs once per text, a refused text is refused on every call, the shared answer is frozen,
// and what is kept stays within its bound.
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import type { LookupFunction } from '../../src/gitlab/address-guard.js';
import { createUrlPolicy } from '../../src/gitlab/url-policy.js';
import type { GitlabHttp } from '../../src/gitlab/http.js';
import { keptRecognition } from '../../src/services/instances.service.js';
import { heapAfterGc } from '../helpers/heap.js';

/** The production URL policy (no http://, no private IP literal), counting the URLs it is asked about. */
function countingPolicy() {
  const asked: string[] = [];
  // No lookup happens here: assertUrlAllowed never resolves a name (assertUrlResolvesAllowed does).
  const policy = createUrlPolicy({ allowHttp: false, allowPrivateNetworks: false, lookup: (() => { throw new Error('no DNS query in lookup'); }) as unknown as LookupFunction });
  const gitlabHttp = { assertUrlAllowed: (url: string) => { asked.push(url); policy.assertUrlAllowed(url); } } as Pick<GitlabHttp, 'assertUrlAllowed'> as GitlabHttp;
  return { asked, gitlabHttp };
}

const config = loadConfig({ PUBLIC_URL: 'https://review.example.com' });

t.test('a typed text is normalised and checked once; later calls answer the same frozen answer', async (t) => {
  const { asked, gitlabHttp } = countingPolicy();
  const recognise = keptRecognition({ config, gitlabHttp });
  const first = recognise('GitLab.Example.com/');
  t.match(first, { url: 'https://gitlab.example.com', callbackUrl: /^https:\/\/review\.example\.com\/auth\/gitlab\/callback\/[\w-]{22}$/ });
  t.equal(recognise('GitLab.Example.com/'), first);
  t.ok(Object.isFrozen(first), 'every caller gets this object: it cannot be changed');
  recognise('https://gitlab.example.com');
  t.same(asked, ['https://gitlab.example.com', 'https://gitlab.example.com'], 'once per distinct text, not once per call');
});

t.test('a refused text is refused on every call, and checked each time', async (t) => {
  const { asked, gitlabHttp } = countingPolicy();
  const recognise = keptRecognition({ config, gitlabHttp });
  for (let call = 0; call < 2; call++) {
    t.throws(() => recognise('http://gitlab.example.com'), { code: 'url_not_allowed' });
    t.throws(() => recognise('https://10.1.2.3'), { code: 'url_not_allowed' });
    t.throws(() => recognise('https://user@gitlab.example.com'), { code: 'invalid_url' });
  }
  t.same(asked, ['http://gitlab.example.com', 'https://10.1.2.3', 'http://gitlab.example.com', 'https://10.1.2.3']);
});

t.test('what is kept stays within about 4 MiB of heap, however many texts are typed', async (t) => {
  const { asked, gitlabHttp } = countingPolicy();
  const before = heapAfterGc();
  const recognise = keptRecognition({ config, gitlabHttp });
  // 20 000 short texts: ~430 bytes of heap an entry, 8.6 MB if all were kept; the bound keeps ~7 700.
  for (let i = 0; i < 20_000; i++) recognise(`g${String(i)}.example.com`);
  asked.splice(0);
  const grown = heapAfterGc() - before;
  t.ok(grown < 5 * 1024 * 1024, `the heap grew by ${String(grown)} bytes (at most 4 MiB kept, and some slack)`);
  recognise('g19999.example.com');
  recognise('g0.example.com');
  t.same(asked, ['https://g0.example.com'], 'the newest is kept, the oldest was let go');
});
