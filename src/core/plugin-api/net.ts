/**
 * Small pure helpers every network plugin needs: MAC addresses and IPv4 arithmetic. The core uses
 * the same functions (client commands, settings checks), so there is one definition of each.
 */

// ---------------------------------------------------------------------------------------------
// MAC addresses

/**
 * MAC addresses as people and tools write them. Each form is matched whole, so a separator is
 * used consistently: `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` (Cisco) or
 * `aabbccddeeff`, in either case.
 */
const MAC_FORMS: readonly RegExp[] = [
  /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i,
  /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i,
  /^[0-9a-f]{4}(\.[0-9a-f]{4}){2}$/i,
  /^[0-9a-f]{12}$/i,
];

/** The canonical form bramble uses everywhere (stream names, events, views): `aa:bb:cc:dd:ee:ff`. */
export const CANONICAL_MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `AA-BB-CC-DD-EE-FF`, ` aabb.ccdd.eeff `... → `aa:bb:cc:dd:ee:ff`; null when it is not a MAC. */
export function parseMac(input: unknown): string | null {
  const text = typeof input === 'string' ? input.trim() : '';
  if (!MAC_FORMS.some((form) => form.test(text))) return null;
  return text.replace(/[:.-]/g, '').toLowerCase().match(/../g)!.join(':');
}

/** True for a MAC already in the canonical form. */
export function isCanonicalMac(mac: unknown): mac is string {
  return typeof mac === 'string' && CANONICAL_MAC_PATTERN.test(mac);
}

/**
 * Why a canonical MAC cannot name one machine, or null: all zeros, broadcast, or a group
 * (multicast) address (the low bit of the first byte, IEEE 802-2014 §8.2.2).
 */
export function macProblem(mac: string): string | null {
  if (mac === '00:00:00:00:00:00') return 'the all-zero address names no machine';
  if (mac === 'ff:ff:ff:ff:ff:ff') return 'the broadcast address names no machine';
  if (parseInt(mac.slice(0, 2), 16) & 1) return 'a multicast (group) address names no machine';
  return null;
}

// ---------------------------------------------------------------------------------------------
// IPv4

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Dotted quad without leading zeros (`10.0.0.1`), as node's `net.isIPv4` accepts. */
export function isIpv4(text: unknown): text is string {
  return typeof text === 'string' && IPV4.test(text);
}

/** `10.0.0.1` → 167772161 (an unsigned 32-bit number). The address must be valid. */
export function ipv4ToInt(ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number);
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

/** 167772161 → `10.0.0.1`. */
export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The prefix length of a contiguous netmask (`255.255.255.0` → 24), or null. */
export function netmaskPrefix(mask: string): number | null {
  if (!isIpv4(mask)) return null;
  const n = ipv4ToInt(mask);
  const inverted = ~n >>> 0;
  // Contiguous: the host part is 2^k - 1.
  if ((inverted & (inverted + 1)) !== 0) return null;
  return 32 - Math.log2(inverted + 1);
}

export interface Ipv4Subnet {
  /** Network address as a number. */
  network: number;
  /** Broadcast address as a number. */
  broadcast: number;
  prefix: number;
  /** `10.0.0.0/24`. */
  cidr: string;
}

/** The subnet `ip` lies in for a prefix length. */
export function subnetOf(ip: string, prefix: number): Ipv4Subnet {
  const size = 2 ** (32 - prefix);
  const n = ipv4ToInt(ip);
  const network = n - (n % size);
  return { network, broadcast: network + size - 1, prefix, cidr: `${intToIpv4(network)}/${prefix}` };
}

export function inSubnet(ip: string, subnet: Ipv4Subnet): boolean {
  const n = ipv4ToInt(ip);
  return n >= subnet.network && n <= subnet.broadcast;
}
