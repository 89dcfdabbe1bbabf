/**
 * Where a reply goes: the destination rules of RFC 2131 in one pure function.
 *
 * RFC 2131 §4.1 ("Constructing and sending DHCP messages"):
 *
 *   "If the 'giaddr' field in a DHCP message from a client is non-zero, the server sends any return
 *   messages to the 'DHCP server' port on the BOOTP relay agent whose address appears in 'giaddr'.
 *   If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server unicasts
 *   DHCPOFFER and DHCPACK messages to the address in 'ciaddr'. If 'giaddr' is zero and 'ciaddr' is
 *   zero, and the broadcast bit is set, then the server broadcasts DHCPOFFER and DHCPACK messages
 *   to 0xffffffff. If the broadcast bit is not set and 'giaddr' is zero and 'ciaddr' is zero, then
 *   the server unicasts DHCPOFFER and DHCPACK messages to the client's hardware address and
 *   'yiaddr' address. In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK
 *   messages to 0xffffffff."
 *
 * bramble's departures, and why:
 * - The last case ("unicasts ... to the client's hardware address and 'yiaddr'") needs the server
 *   to write the client's MAC into the kernel's ARP table or send a raw frame before the UDP send,
 *   because the client cannot answer ARP for an address it does not have yet. (dnsmasq does the
 *   former on Linux with SIOCSARP and the latter with BPF on the BSDs; it broadcasts only when the
 *   broadcast bit is set or chaddr is unusable.) Node's dgram can do neither, so bramble broadcasts
 *   to 255.255.255.255:68 instead. A client that did not set the broadcast bit still receives
 *   broadcasts (the bit exists for clients that cannot receive UNICAST before configuration), so
 *   this costs other hosts on the segment one extra broadcast, not correctness.
 * - Proxy-DHCP replies carry yiaddr = 0.0.0.0 (the address comes from the LAN's own server); there is
 *   nothing to unicast to, so they fall in the same case and are always broadcast (unless the client
 *   has an address in ciaddr, or came through a relay).
 * - PXE boot-server requests on port 4011 (PXE 2.1 spec, boot server discovery) are answered to
 *   the source address and port of the request: "The Boot Server unicasts a DHCPACK packet back to
 *   the client on the client source port". If that source is 0.0.0.0 (a client without an address)
 *   the reply is broadcast to 255.255.255.255 on the source port.
 */
import { BOOTREPLY, BROADCAST_FLAG, DhcpMessageType, messageType, PXE_PORT } from './dhcp.codec';
import type { DhcpPacket } from './dhcp.codec';

export interface ReplyView {
  /**
   * Whether the request reached us as a broadcast. RFC 2131 §4.1 decides from the message's fields
   * alone, so this does not change the destination; it is accepted so the socket layer can pass
   * what it knows in one place.
   */
  receivedOnBroadcast?: boolean;
  /** Local UDP port the request arrived on (67, or 4011 for PXE boot-server requests). */
  localPort?: number;
  /** Source address and port of the request's UDP datagram. */
  peer?: { address: string; port: number };
}

export interface ReplyDestination {
  address: string;
  port: number;
  /** True when `address` is 255.255.255.255 (the socket needs SO_BROADCAST). */
  broadcast: boolean;
}

const LIMITED_BROADCAST = '255.255.255.255';
const ZERO = '0.0.0.0';

function broadcastTo(port: number): ReplyDestination {
  return { address: LIMITED_BROADCAST, port, broadcast: true };
}

export function replyDestination(request: DhcpPacket, reply: DhcpPacket, view: ReplyView): ReplyDestination {
  // PXE boot server (port 4011): back to where the request came from.
  if (view.localPort === PXE_PORT && view.peer !== undefined) {
    const { address, port } = view.peer;
    if (address !== ZERO && address !== LIMITED_BROADCAST) return { address, port, broadcast: false };
    return broadcastTo(port);
  }
  // "giaddr non-zero → the 'DHCP server' port on the BOOTP relay agent" (every message type).
  if (request.giaddr !== ZERO) return { address: request.giaddr, port: 67, broadcast: false };
  // "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages."
  if (messageType(reply) === DhcpMessageType.NAK) return broadcastTo(68);
  // "giaddr zero, ciaddr non-zero → unicast to 'ciaddr'."
  if (request.ciaddr !== ZERO) return { address: request.ciaddr, port: 68, broadcast: false };
  // "broadcast bit set → broadcast"; and, bramble's departure (see above), "broadcast bit not set
  // → unicast to chaddr/yiaddr" is broadcast too, which covers proxy replies (yiaddr 0.0.0.0).
  return broadcastTo(68);
}

/**
 * The `flags` a reply must carry. RFC 2131 §4.3.1 table 3: 'flags' is copied from the client's
 * message, so that a relay agent knows whether to broadcast the reply on the client's subnet.
 * RFC 2131 §4.3.2: "If 'giaddr' is set in the DHCPREQUEST message, the client is on a different
 * subnet. The server MUST set the broadcast bit in the DHCPNAK, so that the relay agent will
 * broadcast the DHCPNAK to the client, because the client may not have a correct network address
 * or subnet mask, and the client may not be answering ARP requests."
 */
export function replyFlags(request: DhcpPacket, reply: DhcpPacket): number {
  let flags = request.flags & 0xffff;
  if (reply.op === BOOTREPLY && request.giaddr !== ZERO && messageType(reply) === DhcpMessageType.NAK) {
    flags |= BROADCAST_FLAG;
  }
  return flags;
}
