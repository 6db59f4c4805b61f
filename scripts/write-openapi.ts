// npm run openapi: writes openapi/openapi.json from the route schemas.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { OPENAPI_FILE, generateOpenApiDocument } from './openapi-document.js';

mkdirSync(dirname(fileURLToPath(OPENAPI_FILE)), { recursive: true });
writeFileSync(OPENAPI_FILE, await generateOpenApiDocument());
process.stdout.write(`wrote ${fileURLToPath(OPENAPI_FILE)}\n`);
