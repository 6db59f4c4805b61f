// The addresses probed for suggestedUrl: within the typed URL's origin, nearest first, bounded.
import t from 'tap';
import { MAX_SUGGESTION_PROBES, nearbyCandidates } from '../../src/services/bootstrap/suggest.js';

t.test('the path prefixes (longest first), the origin root and /gitlab, never the typed URL, never another origin', async (t) => {
  t.same(nearbyCandidates('https://git.example.com/gitlab/group/project'), ['https://git.example.com/gitlab/group', 'https://git.example.com/gitlab', 'https://git.example.com']);
  t.same(nearbyCandidates('https://example.com'), ['https://example.com/gitlab']);
  t.same(nearbyCandidates('https://example.com/gitlab'), ['https://example.com']);
  const deep = nearbyCandidates('https://example.com/a/b/c/d/e/f/g/h/i');
  t.equal(deep.length, MAX_SUGGESTION_PROBES, 'bounded');
  t.ok(deep.every((url) => url.startsWith('https://example.com/')), 'same origin');
});
