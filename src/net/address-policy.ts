/**
 * Which network addresses outbound requests (image URLs, callbacks) may reach. Only public unicast
 * addresses pass; IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, SIIT) are judged by
 * the address they embed. An explicit allow-list of hosts, IPs and CIDRs opens exceptions.
 */
import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export interface AddressPolicy {
  /** Null when `address` (an IP literal) may be reached; otherwise why not, e.g. "loopback". */
  refusal(address: string): string | null;
  /** Hostnames named in the allow-list may resolve to anything. */
  hostAllowed(hostname: string): boolean;
}

/** `allow`: hostnames, IP addresses or CIDRs (config.allowPrivateHosts). */
export function createAddressPolicy(allow: readonly string[]): AddressPolicy {
  const hosts = new Set<string>();
  const ranges: [Address, number][] = [];
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (!entry) continue;
    if (entry.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(entry);
      ranges.push([unwrap(addr), addr.kind() === 'ipv6' && unwrap(addr).kind() === 'ipv4' ? bits - 96 : bits]);
    } else if (ipaddr.isValid(entry)) {
      const addr = unwrap(ipaddr.parse(entry));
      ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else {
      hosts.add(entry.replace(/\.$/, ''));
    }
  }

  return {
    hostAllowed: (hostname) => hosts.has(normaliseHost(hostname)),
    refusal(address) {
      const literal = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
      if (!ipaddr.isValid(literal)) return 'not an IP address';
      const addr = unwrap(ipaddr.parse(literal));
      if (ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) return null;
      const range = addr.range();
      return range === 'unicast' ? null : rangeName(range);
    },
  };
}

export function normaliseHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}

/** The IPv4 address inside an IPv6 form that embeds one; otherwise the address itself. */
function unwrap(addr: Address): Address {
  if (addr.kind() === 'ipv4') return addr;
  const v6 = addr as ipaddr.IPv6;
  const range = v6.range();
  const parts = v6.parts;
  const embedsLast32 =
    range === 'ipv4Mapped' ||
    range === 'rfc6145' ||
    range === 'rfc6052' ||
    // IPv4-compatible (::a.b.c.d, deprecated but still parsed by some stacks); :: and ::1 excluded.
    (parts.slice(0, 6).every((p) => p === 0) && (parts[6] !== 0 || parts[7] > 1));
  if (embedsLast32) {
    return new ipaddr.IPv4([parts[6] >> 8, parts[6] & 0xff, parts[7] >> 8, parts[7] & 0xff]);
  }
  if (range === '6to4') {
    return new ipaddr.IPv4([parts[1] >> 8, parts[1] & 0xff, parts[2] >> 8, parts[2] & 0xff]);
  }
  return addr;
}

function rangeName(range: string): string {
  switch (range) {
    case 'private':
    case 'uniqueLocal':
      return 'a private address';
    case 'loopback':
      return 'a loopback address';
    case 'linkLocal':
      return 'a link-local address';
    case 'carrierGradeNat':
      return 'a carrier-grade NAT address';
    case 'unspecified':
      return 'an unspecified address';
    case 'multicast':
      return 'a multicast address';
    case 'broadcast':
      return 'a broadcast address';
    default:
      return `a non-public address (${range})`;
  }
}
