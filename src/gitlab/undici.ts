// undici, the HTTP client of every GitLab call, is loaded at the first call, not at start-up: its module
// (fetch, web streams, cookies, mocks, the WebAssembly HTTP parser) took ~20 ms of every start, before the
// first /healthz, for calls that come later or never (a replica that only answers lookups).
import type * as Undici from 'undici';

let loaded: Promise<typeof Undici> | undefined;

/** The undici module, imported at the first call and the same promise from then on; rejects only if undici is not installed. */
export function loadUndici(): Promise<typeof Undici> {
  return (loaded ??= import('undici'));
}
