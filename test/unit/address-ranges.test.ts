// Proves the address classification against the IANA special-purpose registries: one row per address,
// with the reason it is allowed or refused.
import t from 'tap';
import { isIpLiteral, isPublicAddress } from '../../src/gitlab/address-ranges.js';

const allowed: [string, string][] = [
  ['1.1.1.1', 'global unicast IPv4'],
  ['93.184.216.34', 'global unicast IPv4'],
  ['9.255.255.255', 'just below 10.0.0.0/8'],
  ['11.0.0.0', 'just above 10.0.0.0/8'],
  ['100.63.255.255', 'just below CGNAT 100.64.0.0/10'],
  ['100.128.0.0', 'just above CGNAT'],
  ['172.15.255.255', 'just below 172.16.0.0/12'],
  ['172.32.0.0', 'just above 172.16.0.0/12'],
  ['192.31.196.1', 'AS112 192.31.196.0/24 is globally reachable'],
  ['192.52.193.1', 'AMT 192.52.193.0/24 is globally reachable'],
  ['192.175.48.1', 'AS112 direct delegation is globally reachable'],
  ['223.255.255.255', 'just below multicast 224.0.0.0/4'],
  ['2606:4700:4700::1111', 'global unicast IPv6'],
  ['2a00:1450:4001:80b::200e', 'global unicast IPv6'],
  ['2001:200::1', 'in 2001::/16 but past 2001::/23'],
  ['2001:4860:4860::8888', 'global unicast IPv6 in 2001::/16'],
  ['3ffe:ffff::1', 'in 2000::/3, just below 3fff::/20'],
  ['3fff:1000::1', 'just past 3fff::/20'],
  ['::ffff:8.8.8.8', 'IPv4-mapped form of a public address'],
  ['::8.8.8.8', 'IPv4-compatible form of a public address'],
  ['64:ff9b::808:808', 'NAT64 well-known prefix embedding 8.8.8.8'],
  ['2002:808:808::1', '6to4 embedding 8.8.8.8'],
  ['[2606:4700:4700::1111]', 'brackets as in a URL host'],
];

const refused: [string, string][] = [
  ['0.0.0.0', 'unspecified, "this network" 0.0.0.0/8'],
  ['0.1.2.3', '"this network" 0.0.0.0/8'],
  ['10.1.2.3', 'private 10.0.0.0/8'],
  ['100.64.0.1', 'CGNAT 100.64.0.0/10'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback 127.0.0.0/8'],
  ['169.254.169.254', 'link-local, cloud metadata'],
  ['172.16.5.4', 'private 172.16.0.0/12'],
  ['192.0.0.8', 'IETF protocol assignments 192.0.0.0/24'],
  ['192.0.2.1', 'documentation TEST-NET-1'],
  ['192.88.99.1', 'deprecated 6to4 relay anycast'],
  ['192.168.1.1', 'private 192.168.0.0/16'],
  ['198.18.0.1', 'benchmarking 198.18.0.0/15'],
  ['198.19.255.255', 'benchmarking 198.18.0.0/15'],
  ['198.51.100.7', 'documentation TEST-NET-2'],
  ['203.0.113.9', 'documentation TEST-NET-3'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved 240.0.0.0/4'],
  ['255.255.255.255', 'limited broadcast'],
  ['::', 'IPv6 unspecified'],
  ['::1', 'IPv6 loopback'],
  ['100::1', 'discard-only 100::/64, outside 2000::/3'],
  ['fc00::1', 'unique local fc00::/7'],
  ['fd12:3456::1', 'unique local fc00::/7'],
  ['fe80::1', 'link-local fe80::/10'],
  ['fe80::1%eth0', 'link-local with a zone'],
  ['ff02::1', 'multicast ff00::/8'],
  ['4000::1', 'outside global unicast 2000::/3'],
  ['2001::1', 'Teredo 2001::/32'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo 2001::/32 (real-looking address)'],
  ['2001:2::1', 'benchmarking 2001:2::/48, in 2001::/23'],
  ['2001:10::1', 'deprecated ORCHID, in 2001::/23'],
  ['2001:1ff::1', 'the rest of 2001::/23'],
  ['2001:db8::1', 'documentation 2001:db8::/32'],
  ['3fff::1', 'documentation 3fff::/20'],
  ['3fff:fff::1', 'documentation 3fff::/20, last block'],
  ['5f00::1', 'SRv6 SIDs 5f00::/16'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:10.0.0.1', 'IPv4-mapped private'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata address in hex'],
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::10.0.0.1', 'IPv4-compatible private'],
  ['64:ff9b::a9fe:a9fe', 'NAT64 embedding 169.254.169.254'],
  ['64:ff9b::7f00:1', 'NAT64 embedding 127.0.0.1'],
  ['64:ff9b:1::808:808', 'local-use NAT64 64:ff9b:1::/48 is not globally reachable'],
  ['2002:7f00:1::', '6to4 embedding 127.0.0.1'],
  ['2002:a00:1::1', '6to4 embedding 10.0.0.1'],
  ['2002:c0a8:101::1', '6to4 embedding 192.168.1.1'],
  ['[::1]', 'loopback with URL brackets'],
  ['not-an-ip', 'a name is never judged public by itself'],
  ['0x7f.1', 'a non-canonical IPv4 spelling is not an address here'],
  ['', 'empty'],
];

t.test('IANA special-purpose table: at least 40 addresses, each allowed or refused for its reason', async (t) => {
  t.ok(allowed.length + refused.length >= 40);
  for (const [address, why] of allowed) t.equal(isPublicAddress(address), true, `${address} allowed: ${why}`);
  for (const [address, why] of refused) t.equal(isPublicAddress(address), false, `${address} refused: ${why}`);
});

t.test('IP literals are told from names', async (t) => {
  t.equal(isIpLiteral('[::1]'), true);
  t.equal(isIpLiteral('fe80::1%eth0'), true);
  t.equal(isIpLiteral('10.0.0.1'), true);
  t.equal(isIpLiteral('gitlab.example'), false);
});
