/**
 * Who is at an address, from the kernel's neighbour (ARP) table, for a TFTP request from an address
 * no protocol told bramble about.
 *
 * The case: a Pi 3B in proxy mode. Its ROM takes the router's OFFER and never sends a REQUEST
 * (docs/pi-netboot-protocol.md §2.5), so neither DHCP exchange shows bramble the address it
 * took, and its first TFTP request (`bootcode.bin`, unprefixed) comes from an address bramble
 * has never seen. Before sending it the Pi asked, by ARP, for the server's MAC: that request put
 * the Pi's IP → MAC pair in this server's neighbour table, which is exactly the missing link.
 * (dnsmasq never needs it: it serves the same files to everyone.)
 *
 * `/proc/net/arp` is per network namespace and small (one line per neighbour); reads are cached
 * for `ttlMs` so a flood of requests from unknown addresses costs a few reads a second.
 */
import { readFileSync } from 'node:fs';

/** ATF_COM: the entry is complete (a MAC is known). */
const ATF_COM = 0x2;

/** `/proc/net/arp` → IP → MAC (lower case), complete entries only. */
export function parseArpTable(text: string): Map<string, string> {
  const table = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    const [ip, , flags, mac] = line.trim().split(/\s+/);
    if (!ip || !mac || !/^0x[0-9a-f]+$/i.test(flags ?? '')) continue;
    if ((parseInt(flags, 16) & ATF_COM) === 0) continue;
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac) || mac === '00:00:00:00:00:00') continue;
    table.set(ip, mac.toLowerCase());
  }
  return table;
}

export class NeighbourTable {
  private table = new Map<string, string>();
  private readAt = -Infinity;

  constructor(
    private readonly read: () => string = () => readFileSync('/proc/net/arp', 'latin1'),
    private readonly now: () => number = Date.now,
    private readonly ttlMs = 250,
  ) {}

  /** The MAC at `ip`, or null (unknown, or the table cannot be read). */
  macOf(ip: string): string | null {
    const now = this.now();
    if (now - this.readAt >= this.ttlMs) {
      this.readAt = now;
      try {
        this.table = parseArpTable(this.read());
      } catch {
        this.table = new Map();
      }
    }
    return this.table.get(ip) ?? null;
  }
}
