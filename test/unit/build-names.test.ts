// The build step that drops esbuild's keepNames calls which restate a name the function already has
// (scripts/build.mjs, dropRestatedNames): the names stay as written, and the calls that restore a name
// esbuild changed are kept.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { temporaryDirectory } from '../helpers/temp-dir.js';

const { dropRestatedNames } = (await import(new URL('../../scripts/build.mjs', import.meta.url).href)) as { dropRestatedNames: (file: string) => number };

/** A file in a temporary directory of its own. */
function bundleFile(source: string): string {
  const file = join(temporaryDirectory('gitlab-connect-names-'), 'bundle.cjs');
  writeFileSync(file, source);
  return file;
}

// What esbuild writes with keepNames (its __name helper, a nested function, a class it renamed).
const KEPT_NAMES = 'var __name=(target,value)=>Object.defineProperty(target,"name",{value,configurable:true});' +
  'function runner(){function next(){}__name(next,"next");const handle=()=>next;__name(handle,"handle");return[next,handle]}__name(runner,"runner");' +
  'var DatabaseError2=class extends Error{};__name(DatabaseError2,"DatabaseError");' +
  'names=[...runner().map((fn)=>fn.name),runner.name,DatabaseError2.name];';

t.test('the calls that restate a name go, the one that restores a renamed class stays, and every name is as written', async (t) => {
  const file = bundleFile(KEPT_NAMES);
  t.equal(dropRestatedNames(file), 3, 'next, handle and runner');
  const source = readFileSync(file, 'utf8');
  t.notMatch(source, /__name\((next|handle|runner),/);
  t.match(source, '__name(DatabaseError2,"DatabaseError")');
  const context: { names?: string[] } = {};
  runInNewContext(source, context);
  t.same(context.names, ['next', 'handle', 'runner', 'DatabaseError']);
});

t.test('a bundle without such calls fails the build: esbuild writes them otherwise, and the step needs a look', async (t) => {
  const file = bundleFile('var x=1;__name(x2,"x");');
  t.throws(() => dropRestatedNames(file), /no __name\(x,"x"\) call/);
});
