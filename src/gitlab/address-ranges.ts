// Which IP addresses an outbound GitLab call may reach: the IANA special-purpose registries, with
// addresses that embed an IPv4 address (mapped, compatible, NAT64, 6to4) judged by that address.
import net from 'node:net';
import ipaddr from 'ipaddr.js';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];
const cidrs = (list: string[]): Cidr[] => list.map((range) => ipaddr.parseCIDR(range));

/**
 * IPv4 ranges refused: every entry of the IANA IPv4 Special-Purpose Address Registry that is not
 * globally reachable (https://www.iana.org/assignments/iana-ipv4-special-registry), plus multicast
 * (RFC 5771) and the reserved 240.0.0.0/4. 192.0.0.0/24 is refused whole (its two globally reachable
 * anycast /32s are no GitLab). AS112 and AMT (192.31.196.0/24, 192.52.193.0/24, 192.175.48.0/24) are
 * globally reachable and allowed.
 */
const REFUSED_V4 = cidrs([
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // shared address space, CGNAT (RFC 6598)
  '127.0.0.0/8', // loopback (RFC 1122)
  '169.254.0.0/16', // link-local, cloud metadata (RFC 3927)
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890)
  '192.0.2.0/24', // documentation TEST-NET-1 (RFC 5737)
  '192.88.99.0/24', // deprecated 6to4 relay anycast (RFC 7526)
  '192.168.0.0/16', // private (RFC 1918)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // documentation TEST-NET-2 (RFC 5737)
  '203.0.113.0/24', // documentation TEST-NET-3 (RFC 5737)
  '224.0.0.0/4', // multicast (RFC 5771)
  '240.0.0.0/4', // reserved (RFC 1112), broadcast 255.255.255.255 included
]);

/**
 * IPv6 is judged by allow-list: only global unicast 2000::/3 (RFC 4291) can be public; loopback, ULA,
 * link-local, multicast, discard-only 100::/64 and the rest fall outside it. Inside it, these
 * entries of the IANA IPv6 Special-Purpose Address Registry
 * (https://www.iana.org/assignments/iana-ipv6-special-registry) are refused.
 */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const REFUSED_V6 = cidrs([
  '2001::/23', // IETF protocol assignments (RFC 2928): Teredo 2001::/32, benchmarking, ORCHID, AMT, AS112…
  '2001:db8::/32', // documentation (RFC 3849)
  '3fff::/20', // documentation (RFC 9637)
  '5f00::/16', // SRv6 SIDs (RFC 9602)
]);

/** Forms that carry an IPv4 address in the last 32 bits: judged by that address. */
const EMBEDDED_V4_LAST_32 = cidrs([
  '::ffff:0:0/96', // IPv4-mapped (RFC 4291)
  '::/96', // IPv4-compatible, deprecated (RFC 4291); :: and ::1 land here as 0.0.0.0 and 0.0.0.1
  '64:ff9b::/96', // NAT64 well-known prefix (RFC 6052)
]);
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16'); // 6to4 (RFC 3056): IPv4 in bits 16–47
/**
 * Local-use NAT64 (RFC 8215) is refused whole: it is not globally reachable, and where the IPv4
 * address sits depends on the prefix length each site picks, so it cannot be read reliably.
 */
const LOCAL_NAT64 = ipaddr.parseCIDR('64:ff9b:1::/48');

const inAny = (address: ipaddr.IPv4 | ipaddr.IPv6, ranges: Cidr[]) => ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
const v4At = (bytes: number[], offset: number) => new ipaddr.IPv4(bytes.slice(offset, offset + 4));

function isPublicV4(address: ipaddr.IPv4): boolean {
  return !inAny(address, REFUSED_V4);
}

function isPublicV6(address: ipaddr.IPv6): boolean {
  const bytes = address.toByteArray();
  if (inAny(address, EMBEDDED_V4_LAST_32)) return isPublicV4(v4At(bytes, 12));
  if (address.match(SIX_TO_FOUR)) return isPublicV4(v4At(bytes, 2));
  if (address.match(LOCAL_NAT64)) return false;
  return address.match(GLOBAL_UNICAST_V6) && !inAny(address, REFUSED_V6);
}

/** Strips the brackets of a URL's IPv6 host: `[::1]` becomes `::1`. */
const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

/** True when the host (a URL's hostname, possibly `[v6]`) is an IP literal. */
export function isIpLiteral(host: string): boolean {
  return net.isIP(unbracket(host).split('%')[0] ?? '') !== 0;
}

/**
 * True when the address (IPv4 dotted quad or IPv6 text, brackets and zone allowed) is globally
 * reachable by the registries above; false for anything else, names and odd IPv4 spellings included
 * (WHATWG URL parsing has already turned `0x7f.1` into `127.0.0.1`).
 */
export function isPublicAddress(address: string): boolean {
  if (!isIpLiteral(address)) return false;
  const parsed = ipaddr.parse(unbracket(address));
  return parsed.kind() === 'ipv4' ? isPublicV4(parsed as ipaddr.IPv4) : isPublicV6(parsed as ipaddr.IPv6);
}
