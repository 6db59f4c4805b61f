// The mechanism under every read cache (src/cache/coherent-cache.ts), on its own: it serves only while
// listening, keeps "nothing there" only when told, drops by key, by predicate and all, and does not
// keep a read that a change overtook (the change may have come after the database answered).
import t from 'tap';
import { createCoherentCache } from '../../src/cache/coherent-cache.js';

interface Row {
  id: string;
  group: string;
  version: number;
}

/** A database of rows that counts its reads. */
function fakeTable(rows: Row[]) {
  const table = { reads: 0, rows: new Map(rows.map((row) => [row.id, row])) };
  const load = (id: string) => async () => {
    table.reads++;
    const row = table.rows.get(id);
    // The answer travels back: whatever happens meanwhile happens after the row was read.
    await Promise.resolve();
    return row;
  };
  return { table, load };
}

const options = { maxEntries: 10, maxAgeMs: 60_000, keepMissing: false };

t.test('deaf, every read goes to the database; listening, a kept read is answered without one', async (t) => {
  const { table, load } = fakeTable([{ id: 'a', group: 'g', version: 1 }]);
  const cache = createCoherentCache<Row>(options);
  await cache.read('a', load('a'));
  await cache.read('a', load('a'));
  t.equal(table.reads, 2, 'deaf: two reads');
  cache.listening();
  await cache.read('a', load('a'));
  t.same(await cache.read('a', load('a')), { id: 'a', group: 'g', version: 1 });
  t.equal(table.reads, 3, 'listening: the second read was kept');
  cache.deaf();
  await cache.read('a', load('a'));
  t.equal(table.reads, 4, 'deaf again: read');
});

t.test('drop, dropWhere and dropAll make the next read go to the database', async (t) => {
  const { table, load } = fakeTable(['a', 'b', 'c'].map((id) => ({ id, group: id === 'c' ? 'h' : 'g', version: 1 })));
  const cache = createCoherentCache<Row>(options);
  cache.listening();
  for (const id of ['a', 'b', 'c']) await cache.read(id, load(id));
  cache.drop('a');
  await cache.read('a', load('a'));
  t.equal(table.reads, 4, 'a dropped by key');
  cache.dropWhere((row) => row.group === 'g');
  for (const id of ['a', 'b', 'c']) await cache.read(id, load(id));
  t.equal(table.reads, 6, 'a and b (group g) dropped, c kept');
  cache.dropAll();
  for (const id of ['a', 'b', 'c']) await cache.read(id, load(id));
  t.equal(table.reads, 9, 'all dropped');
});

t.test('"nothing there" is kept only with keepMissing', async (t) => {
  for (const keepMissing of [false, true]) {
    const { table, load } = fakeTable([]);
    const cache = createCoherentCache<Row>({ ...options, keepMissing });
    cache.listening();
    t.equal(await cache.read('x', load('x')), undefined);
    t.equal(await cache.read('x', load('x')), undefined);
    t.equal(table.reads, keepMissing ? 1 : 2, `keepMissing ${String(keepMissing)}`);
  }
});

t.test('a read that a change overtook is answered but not kept', async (t) => {
  const { table, load } = fakeTable([{ id: 'a', group: 'g', version: 1 }]);
  const cache = createCoherentCache<Row>(options);
  cache.listening();
  const reading = cache.read('a', load('a'));
  // The change is heard while the read is in flight (it may have been written after the row was read).
  cache.drop('a');
  table.rows.set('a', { id: 'a', group: 'g', version: 2 });
  t.equal((await reading)?.version, 1, 'the caller gets what its read found');
  t.equal((await cache.read('a', load('a')))?.version, 2, 'the next read goes to the database');
  t.equal(table.reads, 2);
});

t.test('a read in flight when the listener goes deaf is not kept', async (t) => {
  const { table, load } = fakeTable([{ id: 'a', group: 'g', version: 1 }]);
  const cache = createCoherentCache<Row>(options);
  cache.listening();
  const reading = cache.read('a', load('a'));
  cache.deaf();
  cache.listening();
  await reading;
  await cache.read('a', load('a'));
  t.equal(table.reads, 2, 'read again');
});
