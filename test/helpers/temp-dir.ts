// Temporary directories of a test process (embedded databases, generated clients): made under the OS
// temp directory and removed, with what they hold, when the process exits, so `npm test` leaves none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const directory of made) rmSync(directory, { recursive: true, force: true });
});

/** A new directory `<OS temp>/<prefix>XXXXXX`, removed when this process exits. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  made.push(directory);
  return directory;
}
