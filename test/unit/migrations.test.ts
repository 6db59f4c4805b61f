// migrations/index.ts lists the migrations by hand (so that the bundled server carries them): a file left
// out of the list would never be applied, one listed under another name would be applied twice.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { migrations } from '../../migrations/index.js';
import { MIGRATIONS_DIR } from '../helpers/database.js';

t.test('the migration index lists every file of migrations/, in order, under its file name', async (t) => {
  const files = readdirSync(MIGRATIONS_DIR)
    .filter((name) => name.endsWith('.ts') && name !== 'index.ts')
    .map((name) => name.replace(/\.ts$/, ''))
    .sort();
  t.ok(files.length > 0, 'migrations/ holds migrations');
  t.same(Object.keys(migrations), files, 'the names Kysely records are the file names, in the order applied');
  for (const name of files) {
    const module: unknown = await import(pathToFileURL(join(MIGRATIONS_DIR, `${name}.ts`)).href);
    t.equal(migrations[name], module, `${name} is that file's module`);
  }
});
