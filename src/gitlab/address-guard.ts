// The SSRF guard at resolution time: wraps a DNS lookup so that a name resolving to any non-public
// address (address-ranges.ts decides which) is refused before a socket opens.
import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isPublicAddress } from './address-ranges.js';

export { isIpLiteral, isPublicAddress } from './address-ranges.js';

/** Raised by the guard; the HTTP client maps it to `url_not_allowed`. Never carries a URL or token. */
export class AddressNotAllowedError extends Error {
  readonly host: string;
  readonly code = 'ERR_ADDRESS_NOT_ALLOWED';
  constructor(host: string) {
    super(`${host} resolves to an address that is not public`);
    this.name = 'AddressNotAllowedError';
    this.host = host;
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type LookupFunction = typeof dns.lookup;

/**
 * A `lookup` for net/tls.connect that resolves every address of the name and refuses the name
 * when any of them is not public (so a rebinding answer cannot slip a private address in).
 */
export function createGuardedLookup(base: LookupFunction, allowPrivateNetworks: boolean) {
  return function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    const resolve = base as unknown as (
      h: string,
      o: LookupOptions & { all: true },
      cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
    ) => void;
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, []);
        return;
      }
      if (!Array.isArray(addresses) || addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
        notFound.code = 'ENOTFOUND';
        callback(notFound, []);
        return;
      }
      if (!allowPrivateNetworks && addresses.some((a) => !isPublicAddress(a.address))) {
        callback(new AddressNotAllowedError(hostname), []);
        return;
      }
      if (options.all) {
        callback(null, addresses);
        return;
      }
      const first = addresses[0];
      callback(null, first.address, first.family);
    });
  };
}
