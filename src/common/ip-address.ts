import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Where an address leads: this machine, a private or special network, or the public internet. */
export type AddressScope = 'loopback' | 'private' | 'public';

/**
 * The IPv4 address an IPv6 address carries, in every form that makes a connection to it: IPv4-mapped
 * (::ffff:a.b.c.d, however it is spelled), IPv4-translated (RFC 6145), IPv4-compatible (::a.b.c.d,
 * deprecated but still routed by some stacks), NAT64 (64:ff9b::/96, RFC 6052) and 6to4 (2002::/16).
 */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const range = v6.range();
  const b = v6.toByteArray();
  const last32 = () => new ipaddr.IPv4(b.slice(12, 16));
  if (range === 'ipv4Mapped' || range === 'rfc6145') return last32();
  if (range === 'rfc6052' && b[4] === 0 && b[5] === 0) return last32(); // 64:ff9b::/96 (the /48 local-use prefix is private below)
  if (range === '6to4') return new ipaddr.IPv4(b.slice(2, 6));
  if (b.slice(0, 12).every((x) => x === 0) && range !== 'unspecified' && range !== 'loopback') return last32();
  return undefined;
}

function scopeOfV4(v4: ipaddr.IPv4): AddressScope {
  const range = v4.range();
  if (range === 'loopback') return 'loopback';
  return range === 'unicast' ? 'public' : 'private';
}

/**
 * The scope of an IP literal (a DNS answer, or a URL's host); undefined when it is not an address.
 * Anything ipaddr.js does not call plain unicast (private, link-local, carrier-grade NAT, reserved,
 * multicast, unique-local, Teredo, NAT64 local-use, ...) is private: never a public identity provider.
 */
export function addressScope(ip: string): AddressScope | undefined {
  const literal = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  // Canonical literals only (Node's reading): what a socket would connect to, not ipaddr.js's looser forms.
  if (net.isIP(literal) === 0) return undefined;
  const addr = ipaddr.parse(literal);
  if (addr.kind() === 'ipv4') return scopeOfV4(addr as ipaddr.IPv4);
  const v6 = addr as ipaddr.IPv6;
  const v4 = embeddedIPv4(v6);
  if (v4) return scopeOfV4(v4);
  const range = v6.range();
  if (range === 'loopback') return 'loopback';
  return range === 'unicast' ? 'public' : 'private';
}
