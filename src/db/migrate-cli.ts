// `npm run migrate` (and the container's one-shot migrate service): brings the database that the
// environment names to the latest migration, prints what it applied, and exits 1 with one line on failure.
import pino from 'pino';
import type { Kysely } from 'kysely';
import { loadConfig } from '../config.js';
import { openDatabase, type Database } from './database.js';
import { migrateToLatest } from './migrator.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // Log lines (a dropped connection) go to stderr, so stdout carries only the migration report.
  const logger = pino({ level: config.logLevel }, pino.destination(2));
  const database: Database = await openDatabase(config, logger);
  try {
    const applied = await migrateToLatest(database.db as Kysely<unknown>);
    const target = database.kind === 'postgres' ? 'PostgreSQL' : `the embedded database under ${config.dataDir}`;
    if (applied.length === 0) process.stdout.write(`migrate: no pending migrations on ${target}\n`);
    for (const name of applied) process.stdout.write(`migrate: applied ${name}\n`);
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`gitlab-connect migrate: ${message.split('\n')[0]}\n`);
  process.exit(1);
});
