// Generates the OpenAPI document from the route schemas, with a fixed configuration so that the
// committed copy does not depend on anyone's environment.
import pino from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openPostgres } from '../src/db/database.js';

export const OPENAPI_FILE = new URL('../openapi/openapi.json', import.meta.url);

export async function generateOpenApiDocument(): Promise<string> {
  const logger = pino({ level: 'silent' });
  // The pool never connects: generating the document runs no query.
  const database = openPostgres('postgres://unused@127.0.0.1:1/unused', logger);
  // No database behind it: the upkeep (which would poll one) stays off.
  const config = loadConfig({ PUBLIC_URL: 'http://localhost:3000', ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'), UPKEEP_ENABLED: 'false' });
  const app = await buildApp(config, { database, logger });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await database.close();
  }
}
