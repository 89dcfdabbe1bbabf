/**
 * The emulated Pi's side of DHCP: the packets it sends and how it reads what comes back. Pure.
 *
 * What makes a reply usable (docs/pi-netboot-protocol.md §2):
 * - a boot offer carries option 43 whose PXE menu (or bare string) holds "Raspberry Pi Boot"
 *   (§2.1; the Pi 4/5 match the text and ignore trailing characters, so the Pi 3B ROM's padded
 *   work-around also matches);
 * - an address offer has a `yiaddr` other than 0.0.0.0;
 * - in full mode one OFFER is both; in proxy mode the LAN's server gives the address and bramble
 *   the boot offer (§2.4), and the Pi combines them;
 * - the TFTP server is option 66 of the boot offer when it is an IPv4 literal (the emulator does
 *   no DNS), else its option 54, else its `siaddr` (§2.3);
 * - the Pi 3B ROM rejects relayed replies (`hops` ≠ 0, §2.5) and never sends a REQUEST: the OFFER
 *   is its lease. The Pi 4/5 REQUEST the address offer (option 54 naming its server, option 50 the
 *   address) and wait for that server's ACK.
 */
import {
  BOOTREPLY,
  DhcpMessageType,
  DhcpOption,
  getIp,
  ipOption,
  messageType,
  newRequest,
  stringOption,
  uint16Option,
  type DhcpPacket,
} from '../../src/plugins/dhcp/dhcp.codec';
import { clientGuid, PROFILES, type PiModel } from './profiles';

export const RPI_BOOT_TEXT = 'Raspberry Pi Boot';

export interface DhcpIdentity {
  model: PiModel;
  mac: string;
  serial: number;
}

function baseRequest(id: DhcpIdentity, xid: number, secs: number, type: DhcpMessageType): DhcpPacket {
  const profile = PROFILES[id.model];
  // The emulated Pi has no address on its interface until DHCP is done, so it asks for broadcast
  // replies, newRequest's default (a unicast to the offered address would not reach its socket).
  // The real firmware receives frames below IP and does not need this: a difference the server
  // must accept anyway (RFC 2131 §4.1).
  return newRequest(
    id.mac,
    xid >>> 0,
    type,
    [
      [DhcpOption.PARAMETER_LIST, Buffer.from(profile.parameterList)],
      [DhcpOption.VENDOR_CLASS, stringOption(profile.vendorClass)],
      [DhcpOption.CLIENT_ARCH, uint16Option(0)],
      [DhcpOption.CLIENT_NDI, Buffer.from([1, 2, 1])],
      [DhcpOption.CLIENT_GUID, clientGuid(id.model, id.mac, id.serial)],
    ],
    { secs },
  );
}

export function buildDiscover(id: DhcpIdentity, xid: number, secs: number): DhcpPacket {
  return baseRequest(id, xid, secs, DhcpMessageType.DISCOVER);
}

/** The Pi 4/5's REQUEST for an address offer (RFC 2131 §4.3.2 SELECTING: options 50 and 54). */
export function buildRequest(id: DhcpIdentity, xid: number, secs: number, address: AddressOffer): DhcpPacket {
  const p = baseRequest(id, xid, secs, DhcpMessageType.REQUEST);
  p.options.set(DhcpOption.REQUESTED_IP, ipOption(address.ip));
  p.options.set(DhcpOption.SERVER_ID, ipOption(address.serverId));
  return p;
}

export interface AddressOffer {
  ip: string;
  serverId: string;
  prefixLength: number;
  router: string | null;
}

export interface BootOffer {
  /** Who sent it (option 54, else siaddr). */
  serverId: string;
  tftpServer: string;
  /** Where the TFTP server came from (§2.3). */
  tftpFrom: 'option66' | 'option54' | 'siaddr';
}

export type ReplyReading =
  | { kind: 'ignore'; reason: string }
  | { kind: 'offer' | 'ack'; address: AddressOffer | null; boot: BootOffer | null; serverId: string | null }
  | { kind: 'nak'; serverId: string | null };

/** Whether option 43 announces a Raspberry Pi boot (the menu text of §2.1, anywhere in the option). */
export function hasPiBootMenu(option43: Buffer | undefined): boolean {
  return option43 !== undefined && option43.includes(Buffer.from(RPI_BOOT_TEXT, 'latin1'));
}

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function prefixLength(mask: string | null): number {
  if (!mask) return 24;
  const n = mask.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  let bits = 0;
  for (let i = 31; i >= 0 && n & (2 ** i); i--) bits++;
  return bits;
}

/** What a reply means to the Pi that sent `xid` from `mac`. */
export function readReply(id: DhcpIdentity, xid: number, p: DhcpPacket): ReplyReading {
  if (p.op !== BOOTREPLY) return { kind: 'ignore', reason: 'not a BOOTREPLY' };
  if (p.xid !== xid >>> 0) return { kind: 'ignore', reason: 'another transaction' };
  if (p.mac?.toLowerCase() !== id.mac.toLowerCase()) return { kind: 'ignore', reason: 'another client' };
  if (id.model === 'pi3b' && p.hops !== 0) return { kind: 'ignore', reason: 'relayed (the Pi 3B ROM checks hops, §2.5)' };
  const type = messageType(p);
  const serverId = getIp(p.options, DhcpOption.SERVER_ID);
  if (type === DhcpMessageType.NAK) return { kind: 'nak', serverId };
  if (type !== DhcpMessageType.OFFER && type !== DhcpMessageType.ACK) return { kind: 'ignore', reason: `message type ${type}` };
  const address: AddressOffer | null =
    p.yiaddr !== '0.0.0.0'
      ? {
          ip: p.yiaddr,
          serverId: serverId ?? p.siaddr,
          prefixLength: prefixLength(getIp(p.options, DhcpOption.SUBNET_MASK)),
          router: getIp(p.options, DhcpOption.ROUTER),
        }
      : null;
  let boot: BootOffer | null = null;
  if (hasPiBootMenu(p.options.get(DhcpOption.VENDOR_SPECIFIC))) {
    const name = p.options.get(DhcpOption.TFTP_SERVER_NAME)?.toString('latin1').replace(/\0.*$/, '');
    const from = serverId ?? (p.siaddr !== '0.0.0.0' ? p.siaddr : null);
    if (name && isIpv4(name)) boot = { serverId: from ?? name, tftpServer: name, tftpFrom: 'option66' };
    else if (serverId) boot = { serverId, tftpServer: serverId, tftpFrom: 'option54' };
    else if (p.siaddr !== '0.0.0.0') boot = { serverId: p.siaddr, tftpServer: p.siaddr, tftpFrom: 'siaddr' };
  }
  return { kind: type === DhcpMessageType.OFFER ? 'offer' : 'ack', address, boot, serverId };
}
