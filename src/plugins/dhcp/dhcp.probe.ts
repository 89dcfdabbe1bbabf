/**
 * Finds the DHCP servers answering on the served interface: bramble broadcasts a DISCOVER from a
 * fixed, locally administered MAC (never a Pi, so bramble itself stays silent) and collects the
 * OFFERs for a moment. It never sends a REQUEST, so no server binds an address to the probe.
 */
import { randomBytes } from 'node:crypto';
import { DhcpMessageType, DhcpOption, decodePacket, encodePacket, getIp, messageType, newRequest, type DhcpPacket } from './dhcp.codec';
import { adoptUdpFd } from './bound-udp-socket';
import type { FdFactory } from './dhcp.server';

/** "bramb" in a locally administered unicast MAC. */
export const PROBE_MAC = '02:62:72:61:6d:62';

export interface ProbeAnswer {
  serverId: string;
  /** The address offered: 0.0.0.0 for a proxy DHCP server. */
  offeredIp: string;
}

export function probeDiscover(xid: number): DhcpPacket {
  return newRequest(PROBE_MAC, xid, DhcpMessageType.DISCOVER, [[DhcpOption.PARAMETER_LIST, Buffer.from([1, 3, 6, 51, 54])]]);
}

/**
 * Broadcasts one DISCOVER and returns every distinct server that OFFERed within `waitMs`.
 * `signal` ends the wait early (the socket is closed and what arrived so far is returned).
 */
export async function probeDhcpServers(
  createFd: FdFactory,
  iface: string | null,
  waitMs = 2000,
  signal?: AbortSignal,
): Promise<ProbeAnswer[]> {
  // SO_REUSEADDR: the server's own DHCP client (dhclient's fallback socket, dhcpcd) often holds
  // udp/68 with SO_REUSEADDR; without it here, every probe would fail with EADDRINUSE. The OFFERs
  // are broadcast, so both sockets receive them.
  const socket = await adoptUdpFd(createFd({ port: 68, interface: iface, reuseAddress: true }), true);
  const xid = randomBytes(4).readUInt32BE(0);
  const answers = new Map<string, ProbeAnswer>();
  try {
    socket.on('message', (msg) => {
      try {
        const p = decodePacket(msg);
        if (p.xid !== xid || messageType(p) !== DhcpMessageType.OFFER) return;
        const serverId = getIp(p.options, DhcpOption.SERVER_ID);
        if (serverId) answers.set(serverId, { serverId, offeredIp: p.yiaddr });
      } catch {
        // Not a DHCP packet for us.
      }
    });
    await new Promise<void>((resolve, reject) =>
      socket.send(encodePacket(probeDiscover(xid)), 67, '255.255.255.255', (error) => (error ? reject(error) : resolve())),
    );
    await new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal?.addEventListener('abort', done);
    });
  } finally {
    socket.close();
  }
  return [...answers.values()];
}
