// The memo under lookup's recognition of a typed URL (src/cache/bounded-memo.ts): computes once per
// argument, keeps no throw, and stays within its size, least recently used dropped first.
import t from 'tap';
import { boundedMemo } from '../../src/cache/bounded-memo.js';

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
