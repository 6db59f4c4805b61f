// Where a login may send the browser back to: a path on this service or a URL on FRONTEND_URL's
// origin. Everything else (protocol-relative tricks, backslashes, encoded slashes, other origins,
// javascript:) is refused, so the callback can never become an open redirect.
import type { Config } from '../config.js';
import { AppError } from '../errors.js';

const MAX_LENGTH = 2048;
// Browsers drop tabs and newlines inside URLs ("/\t/evil" becomes "//evil"): refuse every control character and space.
// eslint-disable-next-line no-control-regex -- matching control characters is the point of this pattern
const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f-\u009f\\]/;

function refuse(reason: string): never {
  throw new AppError('invalid_return_to', `returnTo ${reason}; it must be a path on this service (starting with a single "/") or a URL on the frontend's origin`);
}

/** Percent-decodes until stable, so "/%252F%252Fevil" cannot hide "//evil" behind two encodings. */
function fullyDecoded(value: string): string {
  let current = value;
  for (let round = 0; round < 5; round++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      refuse('is not validly percent-encoded');
    }
    if (next === current) return current;
    current = next;
  }
  refuse('is encoded too many times');
}

const NOT_PRINTABLE_ASCII = /[^\u0021-\u007e]/gu;

/**
 * `target` with every character outside printable ASCII percent-encoded as UTF-8, so it fits an HTTP
 * `Location` header (Node refuses characters above U+00FF there, and browsers read Latin-1 bytes
 * differently). Throws invalid_return_to for text that is not valid Unicode (a lone surrogate).
 */
function asciiLocation(target: string): string {
  try {
    return target.replace(NOT_PRINTABLE_ASCII, (character) => encodeURIComponent(character));
  } catch {
    refuse('is not valid Unicode text');
  }
}

/**
 * A stored returnTo in the form a `Location` header can carry, checked before any session is
 * written (states stored before the encoding at start may hold raw non-ASCII characters).
 * null stays null; throws invalid_return_to when it cannot be encoded.
 */
export function headerSafeReturnTo(stored: string | null): string | null {
  return stored === null ? null : asciiLocation(stored);
}

/**
 * The validated redirect target for `returnTo`, or undefined when absent, always printable ASCII
 * (characters beyond it percent-encoded as UTF-8). A path is returned as given otherwise (the browser
 * resolves it against this service's origin); an absolute URL is returned in its normalised
 * serialisation, the form whose origin was checked. Throws invalid_return_to.
 */
export function validateReturnTo(config: Config, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > MAX_LENGTH) refuse(`is longer than ${String(MAX_LENGTH)} characters`);
  const decoded = fullyDecoded(raw);
  if (UNSAFE_CHARACTERS.test(raw) || UNSAFE_CHARACTERS.test(decoded)) refuse('contains a backslash, a space or a control character');

  if (raw.startsWith('/')) {
    if (raw.startsWith('//') || decoded.startsWith('//')) refuse('starts with "//" (another host)');
    return asciiLocation(raw);
  }

  if (!config.frontendUrl) refuse('is not a path, and FRONTEND_URL is not set');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    refuse('is neither a path nor an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse(`uses the scheme ${url.protocol}`);
  // "https:frontend.example" parses, but only a complete "scheme://" form is accepted.
  if (!/^https?:\/\/[^/]/i.test(raw)) refuse('is not a complete absolute URL');
  if (url.username || url.password) refuse('carries user info');
  if (url.origin !== new URL(config.frontendUrl).origin) refuse("is not on the frontend's origin");
  return asciiLocation(url.href);
}
