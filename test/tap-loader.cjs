// Preloaded into every test process by tap (see .taprc, `node-arg`), before tap's own `--import`s run.
// tap 21's TypeScript plugin compiles each file with ts-node (TypeScript's emitter, no cache): about
// 3 s of CPU per test file on this suite. On Node < 22 it forces TAP_TYPE_STRIP_ONLY=0 in the runner;
// setting it back to 1 here makes its loader stand aside, and the `--import=tsx` that follows compiles
// TypeScript with esbuild instead (cached under the OS temp directory), as `npm run dev` does.
// `tsc --noEmit` in `npm test` still type-checks everything.
process.env.TAP_TYPE_STRIP_ONLY = '1';
