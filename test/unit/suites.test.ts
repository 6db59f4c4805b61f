// `npm test` runs test/suites/*.test.ts (and test/child-processes/ file by file): every other test file
// under test/ (but the real-browser test, `npm run test:browser`) must be imported by exactly one suite,
// or it would silently never run.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const testRoot = fileURLToPath(new URL('../', import.meta.url));
const suitesDir = join(testRoot, 'suites');

/** Directories whose test files run otherwise: as suites, one process per file, or by `npm run test:browser`. */
const NOT_IN_SUITES = new Set(['suites', 'child-processes', 'browser']);

/** Test files (`*.test.ts`) anywhere under test/ but in NOT_IN_SUITES, relative to test/, without their extension. */
function suiteTestFiles(): string[] {
  return readdirSync(testRoot, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts') && !NOT_IN_SUITES.has(name.split(sep)[0]))
    .map((name) => relative(testRoot, join(testRoot, name)).replace(/\.test\.ts$/, ''));
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

t.test('every test file outside test/child-processes and test/browser is imported by exactly one suite, and every import is a test file', async (t) => {
  const files = suiteTestFiles().sort();
  const imports = suiteImports();
  t.ok(files.length > 50, `found the test files (${String(files.length)})`);
  t.same(files.filter((file) => !imports.has(file)), [], 'no test file is left out of the suites');
  t.same([...imports].filter(([, suites]) => suites.length > 1), [], 'no test file runs twice');
  t.same([...imports.keys()].filter((file) => !files.includes(file)), [], 'every import names a test file');
});
