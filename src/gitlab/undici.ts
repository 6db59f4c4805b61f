// undici, the HTTP client of every GitLab call, is loaded at the first call, not at start-up: its module
// (fetch, web streams, cookies, mocks, the WebAssembly HTTP parser) took ~20 ms of every start, before the
// first /healthz, for calls that come later or never (a replica that only answers lookups).
import type * as Undici from 'undici';

let loaded: Promise<typeof Undici> | undefined;

/**
 * The undici module, imported at the first call and the same promise from then on. Rejects only when
 * undici cannot be loaded (not installed: an installation's fault, not GitLab's); a rejection is not
 * kept, so the next call tries again.
 */
export function loadUndici(): Promise<typeof Undici> {
  loaded ??= import('undici').catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}
