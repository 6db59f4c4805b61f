// Where the encryption key comes from: ENCRYPTION_KEY, or a development key kept under DATA_DIR.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createSealer, decodeKey, type Sealer } from './sealer.js';

const DEVELOPMENT_KEY_FILE = 'development-encryption.key';

function developmentKey(dataDir: string, log: Logger): Buffer {
  const file = join(dataDir, DEVELOPMENT_KEY_FILE);
  mkdirSync(dataDir, { recursive: true });
  try {
    return decodeKey(readFileSync(file, 'utf8').trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  log.info({ file }, 'created a development encryption key');
  return decodeKey(readFileSync(file, 'utf8').trim());
}

export function sealerFromConfig(config: Config, log: Logger): Sealer {
  const current = config.encryptionKey ? decodeKey(config.encryptionKey) : developmentKey(config.dataDir, log);
  if (!config.encryptionKey) log.warn('ENCRYPTION_KEY is not set: using the development key under DATA_DIR (refused when NODE_ENV=production)');
  return createSealer(current, config.previousEncryptionKeys.map(decodeKey));
}
