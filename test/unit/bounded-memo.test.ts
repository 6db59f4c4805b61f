// The memo under lookup's recognition of a typed URL (src/cache/bounded-memo.ts): computes once per
// argument, keeps no throw, stays within its size (least recently used dropped first), and keeps a copy of
// a key, not the string it was sliced from.
import t from 'tap';
import { boundedMemo } from '../../src/cache/bounded-memo.js';
import { heapAfterGc } from '../helpers/heap.js';

/** A pure function that counts its calls by argument; arguments starting with `bad` throw. */
function counted() {
  const calls = new Map<string, number>();
  const compute = (key: string) => {
    calls.set(key, (calls.get(key) ?? 0) + 1);
    if (key.startsWith('bad')) throw new Error(`bad input ${key}`);
    return { upper: key.toUpperCase() };
  };
  return { calls, compute };
}

const bySize = { sizeOf: (key: string) => key.length * 10 };

t.test('an argument is computed once; later calls answer the kept value', async (t) => {
  const { calls, compute } = counted();
  const memo = boundedMemo(compute, { maxSize: 1000, ...bySize });
  const first = memo('abc');
  t.same(first, { upper: 'ABC' });
  t.equal(memo('abc'), first, 'the same answer, kept');
  t.same(memo('xyz'), { upper: 'XYZ' });
  t.same(Object.fromEntries(calls), { abc: 1, xyz: 1 });
});

t.test('a throw is not kept: each call with that argument computes and throws again', async (t) => {
  const { calls, compute } = counted();
  const memo = boundedMemo(compute, { maxSize: 1000, ...bySize });
  t.throws(() => memo('bad1'), /bad input bad1/);
  t.throws(() => memo('bad1'), /bad input bad1/);
  t.equal(calls.get('bad1'), 2);
});

t.test('within maxSize: the least recently used goes first, and an entry larger than maxSize alone is never kept', async (t) => {
  const { calls, compute } = counted();
  // Each three-letter key counts 30: three fit in 100, a fourth pushes out the least recently used.
  const memo = boundedMemo(compute, { maxSize: 100, ...bySize });
  memo('aaa');
  memo('bbb');
  memo('ccc');
  memo('aaa');
  memo('ddd');
  memo('aaa');
  memo('ccc');
  t.equal(calls.get('aaa'), 1, 'used again before the fourth came: kept');
  t.equal(calls.get('ccc'), 1, 'kept');
  memo('bbb');
  t.equal(calls.get('bbb'), 2, 'the least recently used when ddd came: dropped, computed again');
  const long = 'x'.repeat(11);
  memo(long);
  memo(long);
  t.equal(calls.get(long), 2, 'counts 110 > 100: computed each time');
});

t.test('a kept key holds only its own characters: a key sliced from a long string does not keep that string alive', async (t) => {
  const memo = boundedMemo((key: string) => ({ length: key.length }), { maxSize: 1_000_000, ...bySize });
  const before = heapAfterGc();
  // 300 keys of 40 characters, each a slice of its own 16 KB string (as a query parameter is of the
  // request line): kept as slices they would hold 300 × 16 KB = 4.8 MB; as copies, a few tens of KB.
  for (let i = 0; i < 300; i++) {
    const requestLine = `${'&'.repeat(16_000)}url=https://gitlab-${String(i).padStart(5, '0')}.example.com/group`;
    memo(requestLine.slice(-40));
  }
  const grown = heapAfterGc() - before;
  t.ok(grown < 1_500_000, `the heap grew by ${String(grown)} bytes for 300 kept entries (4.8 MB if the 16 KB strings stayed alive)`);
});
