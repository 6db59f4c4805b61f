// A fresh database per test process (a suite, or a file run alone): with TEST_DATABASE_URL, a PostgreSQL database cloned from a migrated
// template (fast); without it, an in-memory embedded PGlite, so `npm test` needs nothing installed.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import type { Kysely } from 'kysely';
import { openPglite, openPostgres, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { present } from '../../src/errors.js';
import { temporaryDirectory } from './temp-dir.js';

export interface TestDatabase {
  database: Database;
  /** Set on PostgreSQL: a second process or pool can open the same database. */
  url?: string;
  close(): Promise<void>;
}

const quiet = pino({ level: 'silent' });

/** The sources of migrations/: their hash names the templates, so a changed migration gets a new one. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) hash.update(file).update(readFileSync(join(MIGRATIONS_DIR, file)));
  return hash.digest('hex').slice(0, 12);
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Creates the template once per migration set, then clones it as `name`. An advisory lock serialises the
 * test files racing for it: PostgreSQL refuses to copy a template that another session is copying or
 * migrating ("source database is being accessed by other users").
 */
async function cloneTemplate(admin: pg.Client, serverUrl: string, name: string): Promise<void> {
  const template = `gitlab_connect_template_${migrationsHash()}`;
  await admin.query('select pg_advisory_lock(74201)');
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
    if (exists.rowCount === 0) {
      await admin.query(`create database "${template}"`);
      const database = openPostgres(withDatabase(serverUrl, template), quiet, 1);
      try {
        await migrateToLatest(database.db as Kysely<unknown>);
      } finally {
        await database.close();
      }
    }
    await admin.query(`create database "${name}" template "${template}"`);
  } finally {
    await admin.query('select pg_advisory_unlock(74201)');
  }
}

/**
 * A migrated PGlite data directory, dumped once per migration set under the OS temp directory and
 * loaded by every test file: an empty PGlite's initdb costs about 3 s of CPU, loading the dump a fifth.
 * Files racing to make it each write their own copy and rename it into place.
 */
async function pgliteTemplate(): Promise<Blob> {
  const file = join(tmpdir(), `gitlab-connect-pglite-template-${migrationsHash()}.tar`);
  if (!existsSync(file)) {
    const database = await openPglite('memory://');
    try {
      await migrateToLatest(database.db as Kysely<unknown>);
      const dump = await present(database.dumpDataDir, 'PGlite dumpDataDir')();
      const partial = `${file}.${String(process.pid)}`;
      writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
      renameSync(partial, file);
    } finally {
      await database.close();
    }
  }
  return new Blob([readFileSync(file)]);
}

/**
 * A fresh in-memory embedded database (PGlite, the default of `npm start`), loaded migrated from the
 * template dump: initialising and migrating one instead costs some 6 s of CPU. The caller closes it.
 */
export async function openMigratedPglite(): Promise<Database> {
  return openPglite('memory://', { loadDataDir: await pgliteTemplate() });
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const database = await openMigratedPglite();
    return { database, close: () => database.close() };
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const name = `gitlab_connect_test_${randomBytes(6).toString('hex')}`;
  try {
    await cloneTemplate(admin, serverUrl, name);
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, name);
  const database = openPostgres(url, quiet);
  return {
    database,
    url,
    async close() {
      await database.close();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists "${name}" with (force)`);
      await cleanup.end();
    },
  };
}

/**
 * A new DATA_DIR (under the OS temp directory) holding an embedded database already migrated, from the
 * template dump: a server started on it skips PGlite's initdb and the migrations (some 10 s of CPU), as a
 * restarted deployment does. For tests whose subject is not the very first start.
 */
export async function migratedDataDir(): Promise<string> {
  const dataDir = temporaryDirectory('gitlab-connect-data-');
  const database = await openPglite(dataDir, { loadDataDir: await pgliteTemplate() });
  await database.close();
  return dataDir;
}
