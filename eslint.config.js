// ESLint: typescript-eslint's strict-type-checked rules on everything tsc checks, zero warnings
// (`npm run lint` runs `eslint --max-warnings=0`). Tests keep the rules except the few below that only
// fight the test style.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'openapi/', 'postman/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    // House style (../shared/style.md): no function in the service over ~60 lines; blank lines and comments not counted.
    files: ['src/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
  {
    // Tests only: rules that fight the test style. Everything else stays on for test/.
    files: ['test/**'],
    rules: {
      // `app.inject().json()` and `fetch().json()` bodies are `any` by design: the tests assert on the raw
      // wire shape, so narrowing every body to a type first would restate the schema under test.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // `!` on fixtures the test itself just created (rows, headers, matches): a missing one fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A tap subtest ends when its callback's promise settles (or at t.end()): `async (t) =>` without an
      // await is how a synchronous subtest ends, and dropping the async leaves it queued forever.
      '@typescript-eslint/require-await': 'off',
      // Still on: a floating promise in a test is a real bug. tap's `t.test()` promise is the one exception:
      // tap queues the subtest and the parent waits for it (https://node-tap.org/subtests/).
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { process: 'readonly', require: 'readonly', exports: 'writable' } },
  },
);
