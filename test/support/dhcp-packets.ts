/** DHCP requests for the unit tests of the DHCP plugin's pure parts. */
import {
  BOOTREQUEST,
  DhcpMessageType,
  DhcpOption,
  decodePacket,
  encodePacket,
  macToChaddr,
  messageTypeOption,
  type DhcpPacket,
} from '../../src/plugins/dhcp/dhcp.codec';

/** A DISCOVER from `mac`: xid 1, no flags, every address 0.0.0.0, only option 53; `fields` replace any field. */
export function discoverPacket(mac: string, fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return {
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 1,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: macToChaddr(mac),
    mac: null,
    sname: '',
    file: '',
    options: new Map([[DhcpOption.MESSAGE_TYPE, messageTypeOption(DhcpMessageType.DISCOVER)]]),
    ...fields,
  };
}

/** `packet` as the server receives it: encoded and decoded again by the real codec. */
export function viaCodec(packet: DhcpPacket): DhcpPacket {
  return decodePacket(encodePacket(packet));
}
