// The heap a test can measure: V8's garbage collector exposed at run time (the flag is set here, not on
// the command line), so that what is left after a collection is what is still referenced.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of V8 heap in use after two full collections (the second collects what the first's finalisers freed). */
export function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
