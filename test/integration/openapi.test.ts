// The OpenAPI document: committed copy up to date, every operation documented, and usable to generate a
// typed client; and every route schema compiles. (Its lint is `npm run lint`'s.)
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import t from 'tap';
import { OPENAPI_FILE, generateOpenApiDocument } from '../../scripts/openapi-document.js';
import { compilePending } from '../../src/plugins/compile-cache.js';
import { buildTestApp } from '../helpers/app.js';
import { temporaryDirectory } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = await generateOpenApiDocument();
const document = JSON.parse(generated);

t.test('the committed openapi/openapi.json is what the code generates (run `npm run openapi`)', async (t) => {
  t.equal(readFileSync(OPENAPI_FILE, 'utf8'), generated);
});

t.test('every operation has an operationId, tags, a summary, a description and documented errors', async (t) => {
  t.equal(document.openapi, '3.1.0');
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Record<string, Record<string, unknown>>>(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const name = `${method.toUpperCase()} ${path}`;
      t.type(operation.operationId, 'string', `${name} operationId`);
      t.notOk(operationIds.has(operation.operationId as string), `${name} operationId is unique`);
      operationIds.add(operation.operationId as string);
      t.ok((operation.tags as string[] | undefined)?.length, `${name} tags`);
      t.ok(operation.summary, `${name} summary`);
      t.ok(operation.description, `${name} description`);
      const responses = operation.responses as Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
      t.ok(responses['500'], `${name} documents 500`);
      for (const [status, response] of Object.entries(responses)) {
        // Only a 204 and a redirect have no body; a redirect documents its Location instead.
        if (status === '204') t.notOk(response.content, `${name} 204 has no body`);
        else if (status === '302') t.ok(!response.content && response.headers?.Location, `${name} 302 documents Location`);
        else t.ok(response.content, `${name} ${status} has a schema`);
        if (Number(status) >= 400) {
          t.same(Object.keys(response.content ?? {}), ['application/problem+json'], `${name} ${status} is a problem`);
          t.same(response.content?.['application/problem+json']?.schema, { $ref: '#/components/schemas/Problem' });
        }
      }
    }
  }
  t.ok(operationIds.size >= 17, `the loop above saw every operation (${String(operationIds.size)})`);
  t.ok(document.components.schemas.Problem, 'Problem is a named component');
  t.ok(document.components.schemas.LookupResult, 'LookupResult is a named component');
  t.ok(document.components.schemas.Me, 'Me is a named component');
  t.ok(document.components.schemas.UserGitlabToken, 'UserGitlabToken is a named component');
  t.notOk(Object.keys(document.components.schemas).some((name) => name.startsWith('def-')), 'no anonymous def-N components');
  t.same(Object.keys(document.components.securitySchemes).sort(), ['gitlabWebhookToken', 'internalBearer', 'sessionBearer', 'sessionCookie']);
});

t.test('every request body and every answer with a body has examples; a problem answer has one per code it names', async (t) => {
  type Media = { examples?: Record<string, { value: { code?: string } }> };
  for (const [path, item] of Object.entries<Record<string, { requestBody?: { content: Record<string, Media> }; responses: Record<string, { description: string; content?: Record<string, Media> }> }>>(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const name = `${method.toUpperCase()} ${path}`;
      for (const media of Object.values(operation.requestBody?.content ?? {})) t.ok(Object.keys(media.examples ?? {}).length, `${name} request body has an example`);
      for (const [status, response] of Object.entries(operation.responses)) {
        for (const media of Object.values(response.content ?? {})) t.ok(Object.keys(media.examples ?? {}).length, `${name} ${status} has an example`);
        if (Number(status) < 400) continue;
        const codes = response.description.replace(/^Problem: /, '').split(', ');
        const examples = response.content!['application/problem+json'].examples!;
        t.same(Object.values(examples).map((example) => example.value.code), codes, `${name} ${status}: an example per code`);
      }
    }
  }
});

t.test('the document names no absolute server, so /docs calls the origin it was loaded from', async (t) => {
  t.same(document.servers.map((server: { url: string }) => server.url), ['/']);
});

// Linting the committed document (redocly, `recommended-strict`: a warning fails too) is `npm run lint`'s,
// which CI runs before the tests; with the staleness test above, it covers what the code generates.

t.test('openapi-typescript makes types a client type-checks against', async (t) => {
  const dir = temporaryDirectory('gitlab-connect-client-');
  // api.ts, not api.d.ts: skipLibCheck then skips only the standard library's declarations (~1.5 s of CPU)
  // while the generated types are still checked.
  writeFileSync(join(dir, 'api.ts'), astToString(await openapiTS(generated)));
  writeFileSync(
    join(dir, 'client.ts'),
    `import type { paths } from './api.js';
type Lookup = paths['/instances/lookup']['get'];
type LookupOk = Lookup['responses'][200]['content']['application/json'];
type LookupProblem = Lookup['responses'][400]['content']['application/problem+json'];
export async function lookup(base: string, url: Lookup['parameters']['query']['url']): Promise<LookupOk | LookupProblem> {
  const response = await fetch(base + '/instances/lookup?url=' + encodeURIComponent(url));
  return (await response.json()) as LookupOk | LookupProblem;
}
export const ready: LookupOk = { url: 'https://git.example.com', status: 'ready', next: 'login', callbackUrl: 'z', loginUrl: 'x', instanceId: 'y' };
// @ts-expect-error the status is an enum
export const wrong: LookupOk = { url: 'https://git.example.com', status: 'sleeping', next: 'login' };
export const code: LookupProblem['code'] = 'invalid_url';
`,
  );
  const compilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['client.ts'] }));
  await t.resolves(run(join(root, 'node_modules/.bin/tsc'), ['-p', dir]));
});

t.test('every validator and serializer of every route compiles (they compile at their first call, so a test must try them all)', async (t) => {
  const { app } = await buildTestApp(t);
  await app.ready();
  t.doesNotThrow(() => { compilePending(); }, 'every route part of the app compiles');

  const { app: broken } = await buildTestApp(t);
  broken.get('/schema-that-cannot-compile', { schema: { response: { 200: { $ref: 'NoSuchSchema#' } } } }, () => ({}));
  await broken.ready();
  t.throws(() => { compilePending(); }, /NoSuchSchema/, 'a response schema that cannot compile is found without calling its route');
});
