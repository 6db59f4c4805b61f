// The address policy for GitLab URLs: scheme, user info and IP literals checked on the URL, and host
// names resolved and judged before anything is stored (connections judge again at connect time).
import { AppError } from '../errors.js';
import { AddressNotAllowedError, isIpLiteral, isPublicAddress, type LookupFunction } from './address-guard.js';

export interface UrlPolicyOptions {
  /** http:// URLs are refused unless true. */
  allowHttp: boolean;
  /** Non-public addresses are refused unless true. */
  allowPrivateNetworks: boolean;
  /** The guarded lookup (createGuardedLookup): fails with AddressNotAllowedError for non-public names. */
  lookup: LookupFunction;
}

/** The bootstrap step that URL rules belong to (contract: `url_not_allowed` carries `step: "url"`). */
const URL_STEP = { step: 'url' } as const;

export interface UrlPolicy {
  /** Parses an absolute URL and applies the policy; throws AppError `invalid_url` or `url_not_allowed`. */
  assertUrlAllowed(raw: string): URL;
  /** assertUrlAllowed, then resolves a host name; throws `url_not_allowed` when an address is not public. */
  assertUrlResolvesAllowed(raw: string): Promise<void>;
}

/** Builds the policy; see UrlPolicy for what each check throws. */
export function createUrlPolicy(options: UrlPolicyOptions): UrlPolicy {
  function assertUrlAllowed(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new AppError('invalid_url', 'The GitLab URL is not a valid absolute URL');
    }
    if (url.username || url.password) throw new AppError('url_not_allowed', 'URLs with user info are not allowed', URL_STEP);
    if (url.protocol === 'http:' && !options.allowHttp) {
      throw new AppError('url_not_allowed', `http:// is not allowed for ${url.host}; use https://`, URL_STEP);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new AppError('url_not_allowed', `The scheme ${url.protocol} is not allowed`, URL_STEP);
    }
    // WHATWG URL has already turned 2130706433 or 0x7f.1 into 127.0.0.1.
    if (!options.allowPrivateNetworks && isIpLiteral(url.hostname) && !isPublicAddress(url.hostname)) {
      throw new AppError('url_not_allowed', `${url.hostname} is not a public address; such addresses are not allowed`, URL_STEP);
    }
    return url;
  }

  async function assertUrlResolvesAllowed(raw: string): Promise<void> {
    const { hostname } = assertUrlAllowed(raw);
    if (options.allowPrivateNetworks || isIpLiteral(hostname)) return;
    // Failures to resolve are left to the first call, which names them properly.
    const refused = await new Promise<boolean>((resolve) => {
      options.lookup(hostname, { all: true }, (error) => {
        resolve(error instanceof AddressNotAllowedError);
      });
    });
    if (refused) throw new AppError('url_not_allowed', `${hostname} resolves to an address that is not public; such addresses are not allowed`, URL_STEP);
  }

  return { assertUrlAllowed, assertUrlResolvesAllowed };
}
