// npm run postman: starts a sandbox on free ports and runs the Postman collection against it with newman;
// exits 1 when a request or a test fails.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startSandbox } from '../sandbox/sandbox.js';

const require = createRequire(import.meta.url);
const newman = require('newman') as {
  run(options: Record<string, unknown>, done: (error: Error | null, summary: { run: { failures: unknown[]; stats: { assertions: { total: number; failed: number } } } }) => void): void;
};

const sandbox = await startSandbox();
const file = (name: string) => fileURLToPath(new URL(`../../postman/${name}`, import.meta.url));
try {
  const summary = await new Promise<Parameters<Parameters<typeof newman.run>[1]>[1]>((resolve, reject) => {
    newman.run(
      {
        collection: file('gitlab-connect.postman_collection.json'),
        environment: file('sandbox.postman_environment.json'),
        envVar: [
          { key: 'baseUrl', value: sandbox.serviceUrl },
          { key: 'gitlabUrl', value: sandbox.gitlabUrl },
          { key: 'adminToken', value: sandbox.adminToken },
          { key: 'internalToken', value: sandbox.internalToken },
        ],
        reporters: ['cli'],
        timeoutRequest: 30000,
      },
      (error, result) => {
        if (error) reject(error);
        else resolve(result);
      },
    );
  });
  const { total, failed } = summary.run.stats.assertions;
  process.stdout.write(`postman: ${String(total - failed)} assertions passed, ${String(failed)} failed, ${String(summary.run.failures.length)} failures\n`);
  process.exitCode = summary.run.failures.length === 0 && total > 0 ? 0 : 1;
} finally {
  await sandbox.close();
}
