// Normalises what a user types as their GitLab URL into the one canonical form the service stores.
import { AppError } from '../errors.js';

export const MAX_INSTANCE_URL_LENGTH = 2048;
/** RFC 1035 §2.3.4 (as RFC 1123 §2.1 keeps it): a name of at most 253 characters (255 octets on the wire), labels of at most 63. */
const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i;

function invalid(detail: string): AppError {
  return new AppError('invalid_url', detail);
}

/** A host name (punycode, as WHATWG URL gives it) that no DNS name can be is refused; IPv6 literals pass. */
function assertDnsNameLength(hostname: string): void {
  if (hostname.startsWith('[')) return;
  if (hostname.length > MAX_HOST_LENGTH) throw invalid(`The host name is longer than ${String(MAX_HOST_LENGTH)} characters, so it cannot be a DNS name`);
  if (hostname.split('.').some((label) => label.length > MAX_LABEL_LENGTH)) throw invalid(`A label of the host name is longer than ${String(MAX_LABEL_LENGTH)} characters, so it cannot be a DNS name`);
}

/**
 * `https://GIT.example.com:443/gitlab/` becomes `https://git.example.com/gitlab`: scheme and host
 * lower-cased, IDN host in punycode, default port and trailing slashes dropped, path prefix kept,
 * no scheme means https. User info, query, fragment, other schemes and host names that cannot be DNS
 * names (over 253 characters, a label over 63) are refused.
 */
export function normalizeInstanceUrl(input: string): string {
  const text = input.trim();
  if (text === '') throw invalid('The URL is empty');
  if (text.length > MAX_INSTANCE_URL_LENGTH) throw invalid(`The URL is longer than ${String(MAX_INSTANCE_URL_LENGTH)} characters`);
  if (/[\s\\]/.test(text)) throw invalid('The URL contains white space or a backslash');
  const withScheme = hasScheme.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid('The text is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(`The scheme ${url.protocol.slice(0, -1)} is not supported; use https`);
  if (url.username || url.password || /^[a-z]+:\/\/[^/]*@/i.test(withScheme)) throw invalid('The URL must not contain a user name or password');
  if (url.search || withScheme.includes('?')) throw invalid('The URL must not contain a query');
  if (url.hash || withScheme.includes('#')) throw invalid('The URL must not contain a fragment');
  if (!url.hostname || url.hostname.endsWith('.') || url.hostname.includes('..')) throw invalid('The URL has no valid host');
  assertDnsNameLength(url.hostname);
  const path = url.pathname.replace(/\/+$/, '');
  if (path.includes('//')) throw invalid('The URL path contains an empty segment');
  return `${url.protocol}//${url.host}${path}`;
}
