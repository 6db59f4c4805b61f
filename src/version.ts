// The service's version, read once from package.json (found by walking up, so it works from src/ and dist/).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function readVersion(): string {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

export const SERVICE_VERSION = readVersion();
