/**
 * The DHCP step of a simulated Pi 4 (for tftp-pi-sim.ts in a boot storm): the firmware's exchange
 * on a LAN where a router hands out addresses and a proxy DHCP server (bramble or dnsmasq) adds the
 * boot information (docs/pi-netboot-protocol.md §2.4, §2.5):
 *
 *   DISCOVER (options 53, 55, 60 PXEClient, 93, 94, 97 RPi4 GUID; broadcast flag)
 *     → the router's OFFER (an address) and the proxy's OFFER (yiaddr 0.0.0.0, option 43, siaddr)
 *   REQUEST (option 54 = the router, option 50 = its address)  → the router's ACK
 *
 * then TFTP from the proxy (option 66 of its OFFER, else its server id: docs §2.3). The DISCOVER is sent again after `retryMs` (the bootloader's
 * DHCP_REQ_TIMEOUT, 4 s) while either offer is missing, the REQUEST likewise while the ACK is; the
 * Pi gives up after `giveUpMs` (DHCP_TIMEOUT, 45 s). Replies are broadcast (the broadcast flag is
 * set: the simulated Pis share one interface, so a reply unicast to a Pi's MAC would not reach
 * it); each Pi matches its own by xid and chaddr. Pure apart from `send`: no sockets here.
 */
import {
  DhcpMessageType,
  DhcpOption,
  encodePacket,
  getIp,
  ipOption,
  messageType,
  newRequest,
  type DhcpPacket,
} from '../../src/plugins/dhcp/dhcp.codec';
import { clientGuid } from '../../tools/pi-emulator/profiles';

export interface SimDhcpOptions {
  /** The address giver's server id (option 54 of its OFFER). */
  routerIp: string;
  /** The proxy's address: its OFFER's siaddr must be this. */
  serverIp: string;
  retryMs: number;
  giveUpMs: number;
}

export interface SimDhcpPi {
  mac: string;
  /** Board serial (option 97). */
  serial: number;
  /** The address the router gives it (a dhcp-host line). */
  ip: string;
}

const VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1');

function packet(pi: SimDhcpPi, xid: number, type: DhcpMessageType, extra: Array<[number, Buffer]>): Buffer {
  return encodePacket(
    newRequest(pi.mac, xid, type, [
      ...extra,
      [55, Buffer.from([1, 3, 43, 60, 66, 67])],
      [DhcpOption.VENDOR_CLASS, VENDOR_CLASS],
      [93, Buffer.from([0, 0])],
      [94, Buffer.from([1, 2, 1])],
      [97, clientGuid('pi4', pi.mac, pi.serial)],
    ]),
  );
}

export type DhcpOutcome = { ok: true; ip: string; tftpServer: string } | { ok: false; reason: string };

export class SimDhcpExchange {
  private phase: 'discover' | 'request' | 'done' = 'discover';
  private startedAt = 0;
  private sentAt = 0;
  private offeredIp: string | null = null;
  private proxy: string | null = null;
  private last: Buffer | null = null;
  /** Packets sent again after `retryMs`. */
  resends = 0;

  constructor(
    readonly pi: SimDhcpPi,
    readonly xid: number,
    private readonly o: SimDhcpOptions,
    private readonly send: (bytes: Buffer) => void,
    private readonly done: (outcome: DhcpOutcome) => void,
  ) {}

  start(now: number): void {
    this.startedAt = now;
    this.transmit(packet(this.pi, this.xid, DhcpMessageType.DISCOVER, []), now);
  }

  private transmit(bytes: Buffer, now: number): void {
    this.last = bytes;
    this.sentAt = now;
    this.send(bytes);
  }

  /** A reply with this exchange's xid. */
  onReply(reply: DhcpPacket, now: number): void {
    if (this.phase === 'done' || reply.mac !== this.pi.mac) return;
    const type = messageType(reply);
    const serverId = getIp(reply.options, DhcpOption.SERVER_ID);
    if (this.phase === 'discover' && type === DhcpMessageType.OFFER) {
      if (reply.yiaddr !== '0.0.0.0' && serverId === this.o.routerIp) this.offeredIp = reply.yiaddr;
      else if (reply.yiaddr === '0.0.0.0' && reply.options.has(DhcpOption.VENDOR_SPECIFIC)) {
        // §2.3: option 66 when the reply has one, else the server id (54) of the reply whose
        // option 43 matched (dnsmasq's proxy offers leave siaddr 0.0.0.0).
        const named = reply.options.get(66)?.toString('latin1').replace(/\0.*$/, '');
        this.proxy = named || serverId;
      }
      if (this.offeredIp && this.proxy) {
        this.phase = 'request';
        this.transmit(
          packet(this.pi, this.xid, DhcpMessageType.REQUEST, [
            [DhcpOption.SERVER_ID, ipOption(this.o.routerIp)],
            [DhcpOption.REQUESTED_IP, ipOption(this.offeredIp)],
          ]),
          now,
        );
      }
    } else if (this.phase === 'request' && type === DhcpMessageType.ACK && serverId === this.o.routerIp) {
      this.phase = 'done';
      if (reply.yiaddr !== this.pi.ip) this.done({ ok: false, reason: `router gave ${reply.yiaddr}, expected ${this.pi.ip}` });
      else if (this.proxy !== this.o.serverIp) this.done({ ok: false, reason: `proxy siaddr ${this.proxy}, expected ${this.o.serverIp}` });
      else this.done({ ok: true, ip: reply.yiaddr, tftpServer: this.proxy });
    }
  }

  /** Called every 100 ms: resend, or give up. */
  tick(now: number): void {
    if (this.phase === 'done') return;
    if (now - this.startedAt >= this.o.giveUpMs) {
      const reason = `DHCP timeout (${this.phase}: router offer ${this.offeredIp ? 'yes' : 'no'}, proxy offer ${this.proxy ? 'yes' : 'no'})`;
      this.phase = 'done';
      this.done({ ok: false, reason });
      return;
    }
    if (now - this.sentAt >= this.o.retryMs && this.last) {
      this.resends++;
      this.transmit(this.last, now);
    }
  }
}
