// Decides which IP addresses an outbound GitLab call may connect to (the SSRF guard), and wraps a
// DNS lookup so that a name resolving to any non-public address is refused before a socket opens.
import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';

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

const blockedV4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // RFC 1918
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, including broadcast 255.255.255.255
];

// IPv6 is judged by allow-list: only global unicast 2000::/3 is public, minus the ranges below.
// Forms that embed an IPv4 address (mapped, NAT64, 6to4) are judged by that address instead.
const blockedV6: [string, number][] = [
  ['2001:db8::', 32], // documentation
  ['2001:2::', 48], // benchmarking
  ['2001:10::', 28], // ORCHID
];

const v4List = new net.BlockList();
for (const [address, prefix] of blockedV4) v4List.addSubnet(address, prefix, 'ipv4');
const v6List = new net.BlockList();
for (const [address, prefix] of blockedV6) v6List.addSubnet(address, prefix, 'ipv6');

/** Parses an IPv6 address (no brackets, optional zone) into 16 bytes; null when it is not one. */
function ipv6Bytes(address: string): number[] | null {
  const text = address.split('%')[0] ?? '';
  if (!net.isIPv6(text)) return null;
  let tail: number[] = [];
  let head = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    tail = dotted[1].split('.').map(Number);
    head = text.slice(0, -dotted[1].length);
    head = head.endsWith('::') ? head : head.replace(/:$/, '');
  }
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const [left = '', right] = head.split('::');
  const leftGroups = groupsOf(left);
  const rightGroups = right === undefined ? [] : groupsOf(right);
  const missing = 8 - tail.length / 2 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...Array<number>(Math.max(missing, 0)).fill(0), ...rightGroups];
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  return [...bytes, ...tail];
}

function isPublicIPv4(address: string): boolean {
  return !v4List.check(address, 'ipv4');
}

function isPublicIPv6(address: string): boolean {
  const b = ipv6Bytes(address);
  if (!b || b.length !== 16) return false;
  const v4 = (offset: number) => b.slice(offset, offset + 4).join('.');
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible; :: and ::1 land here as 0.0.0.x)
  if (zeros(0, 10) && ((b[10] === 0xff && b[11] === 0xff) || (b[10] === 0 && b[11] === 0))) {
    return isPublicIPv4(v4(12));
  }
  // NAT64 well-known prefix 64:ff9b::/96
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) {
    return isPublicIPv4(v4(12));
  }
  // 6to4 2002:a.b.c.d::/48
  if (b[0] === 0x20 && b[1] === 0x02) return isPublicIPv4(v4(2));
  if (((b[0] ?? 0) & 0xe0) !== 0x20) return false; // outside 2000::/3: loopback, ULA, link-local, multicast…
  return !v6List.check(address.split('%')[0] ?? '', 'ipv6');
}

/** True when the address (IPv4 or IPv6 text, brackets allowed) is publicly routable. */
export function isPublicAddress(address: string): boolean {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (net.isIPv4(bare)) return isPublicIPv4(bare);
  if (net.isIPv6(bare.split('%')[0] ?? '')) return isPublicIPv6(bare);
  return false;
}

/** True when the host (a URL's hostname, possibly `[v6]`) is an IP literal. */
export function isIpLiteral(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return net.isIP(bare) !== 0;
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
      if (err) return callback(err, []);
      if (!Array.isArray(addresses) || addresses.length === 0) {
        const notFound: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
        notFound.code = 'ENOTFOUND';
        return callback(notFound, []);
      }
      if (!allowPrivateNetworks && addresses.some((a) => !isPublicAddress(a.address))) {
        return callback(new AddressNotAllowedError(hostname), []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}
