// `npm test` runs test/suites/*.test.ts (and test/child-processes/ file by file): every other test file
// must be imported by exactly one suite, or it would silently never run.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const testRoot = fileURLToPath(new URL('../', import.meta.url));
const suitesDir = join(testRoot, 'suites');

/** Test files (`*.test.ts`) under `test/<dir>`, relative to test/, without their extension. */
function testFilesUnder(dir: string): string[] {
  return readdirSync(join(testRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => relative(testRoot, join(testRoot, dir, name)).replace(/\.test\.ts$/, ''));
}

/** What each suite imports: `import '../integration/lookup.test.js'` gives `integration/lookup`. */
function suiteImports(): Map<string, string[]> {
  const imports = new Map<string, string[]>();
  for (const suite of readdirSync(suitesDir).filter((name) => name.endsWith('.test.ts'))) {
    const source = readFileSync(join(suitesDir, suite), 'utf8');
    for (const [, file] of source.matchAll(/^import '\.\.\/(.+)\.test\.js';$/gm)) imports.set(file, [...(imports.get(file) ?? []), suite]);
  }
  return imports;
}

t.test('every test file outside test/child-processes is imported by exactly one suite, and every import is a test file', async (t) => {
  const files = ['unit', 'integration', 'fake-gitlab'].flatMap(testFilesUnder).sort();
  const imports = suiteImports();
  t.same(files.filter((file) => !imports.has(file)), [], 'no test file is left out of the suites');
  t.same([...imports].filter(([, suites]) => suites.length > 1), [], 'no test file runs twice');
  t.same([...imports.keys()].filter((file) => !files.includes(file)), [], 'every import names a test file');
});
