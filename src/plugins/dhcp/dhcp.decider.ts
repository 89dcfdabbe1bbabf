/**
 * The reply decision: `request + the plugin's view → reply | nothing`, plus the effects the socket
 * layer carries out (detections, offers held, bindings to persist, facts to report). Pure: no I/O,
 * no clock (the time comes in `now`), no mutation of the view (effects are applied by the caller).
 *
 * Who is served: Raspberry Pis (pi-detection.ts) and generic PXE clients, lab PCs (pc-detection.ts),
 * each only once approved; a PC's PXE ROM also only once it has an image, since all bramble can
 * give it is iPXE and a script that boots that image. A PC's replies name its boot file (siaddr,
 * `file`, options 66 and 67): iPXE for its firmware, or the per-client iPXE script when it runs
 * iPXE already. Full mode sends it as a plain DHCP offer with a boot file (dnsmasq's `dhcp-boot`:
 * no option 60, so neither a PXE ROM nor iPXE goes looking for a proxy server); proxy mode as a
 * proxy offer with option 60 `PXEClient` and the PXE option 43 (dnsmasq's `pxe-service`), and the
 * same file again in the ACK to a port-4011 REQUEST (PXE 2.1 boot server discovery, which iPXE
 * does after every proxy offer).
 */
import { intToIpv4, ipv4ToInt, isIpv4, type Ipv4Subnet } from '../../core/plugin-api';
import {
  BROADCAST_FLAG,
  DhcpMessageType,
  DhcpOption,
  getIp,
  ipListOption,
  ipOption,
  messageType,
  messageTypeOption,
  newReply,
  requestProblem,
  uint32Option,
  type DhcpPacket,
} from './dhcp.codec';
import { OFFER_HOLD_MS, DECLINE_HOLD_MS, type DhcpView } from './dhcp.view';
import { detectPc, pcBootFile, type PcIdentity } from './pc-detection';
import { detectPi, type PiIdentity } from './pi-detection';
import { echoClientGuid, PC_OPTION43, pcBootServerOption43, PXE_CLIENT_VENDOR_CLASS, RPI_OPTION43 } from './pxe-options';
import { replyFlags } from './reply-destination';

export interface DhcpConfig {
  mode: 'proxy' | 'full';
  /** Option 54 and siaddr. Without it bramble cannot answer. */
  serverIp: string | null;
  /** Full mode pool, inclusive, as uint32. */
  rangeStart: number | null;
  rangeEnd: number | null;
  netmask: string | null;
  /** Full mode: the served subnet (from the server address, else the range start), or null. */
  subnet: Ipv4Subnet | null;
  gateway: string | null;
  dnsServers: string[];
  leaseSeconds: number;
  /** Per-client fixed addresses (MAC → IPv4), full mode. */
  fixed: ReadonlyMap<string, string>;
  /** Delay for replies to Pi 3 boot ROMs (b8:27:eb), ms. */
  pi3DelayMs: number;
}

export type DropReason =
  | 'not-bootrequest'
  | 'no-message-type'
  | 'not-ethernet'
  | 'not-a-pi'
  | 'unknown-pi'
  /** A lab PC's PXE ROM bramble had not seen: recorded (pending), not answered. */
  | 'unknown-pc'
  /** A PXE ROM of an architecture bramble has no boot loader for (pc-detection.ts). */
  | 'unsupported-arch'
  /** An approved PC's PXE ROM, but no image assigned: nothing to boot. */
  | 'no-image'
  | 'pending'
  | 'rejected'
  | 'no-server-ip'
  | 'not-pxe'
  | 'not-answered'
  | 'selected-other-server'
  | 'pool-exhausted'
  | 'no-range'
  | 'no-binding';

/** A Pi, or a generic PXE client (a lab PC). */
export type ClientIdentity = PiIdentity | PcIdentity;

export function isPcIdentity(identity: ClientIdentity): identity is PcIdentity {
  return identity.via === 'pxe-arch' || identity.via === 'known';
}

export type DhcpEffect =
  /** A client was seen: unknown ones are recorded (detected), approved ones per boot (re-detected). */
  | { kind: 'detect'; identity: ClientIdentity; status: 'unknown' | 'approved' }
  /** A PXE ROM bramble cannot boot (pc-detection.ts): logged once per MAC, nothing else. */
  | { kind: 'unsupported-pxe'; mac: string; arch: number | null; archName: string }
  | { kind: 'offer'; mac: string; ip: string; until: number }
  | { kind: 'withdraw-offer'; mac: string }
  /** `persist`: a new or changed binding, written (and awaited) before the reply is sent. */
  | { kind: 'bind'; mac: string; ip: string; expiresAt: number; persist: boolean }
  | { kind: 'release'; mac: string; ip: string; reason: 'release' | 'reclaimed' }
  | { kind: 'decline'; mac: string; ip: string; until: number }
  /** The address the Pi uses, for IP → client mapping (TFTP, NFS). */
  | { kind: 'learn-address'; mac: string; ip: string }
  /**
   * `pxe`: the request came from firmware (option 60 `PXEClient`); `ipxe`: a PC's request from iPXE
   * (user class), which after bramble's undionly.kpxe / ipxe.efi is the same boot going on;
   * `bootFile`: what a PC was told to load.
   */
  | { kind: 'boot-fact'; mac: string; stage: string; ip: string | null; xid: number; pxe: boolean; ipxe?: boolean; bootFile?: string };

export interface DhcpDecision {
  reply: DhcpPacket | null;
  drop: DropReason | null;
  /** Wait this long before sending (Pi 3 boot ROM). */
  delayMs: number;
  effects: DhcpEffect[];
}

export interface RequestContext {
  /** 67, or 4011 for PXE boot-server requests. */
  localPort: number;
  now: number;
}

const ZERO = '0.0.0.0';
const PI3_OUI = 'b8:27:eb';

function dropped(drop: DropReason, effects: DhcpEffect[] = []): DhcpDecision {
  return { reply: null, drop, delayMs: 0, effects };
}

/** Inside the served subnet, not its network or broadcast address. */
function inServedSubnet(ip: string, cfg: DhcpConfig): boolean {
  const n = ipv4ToInt(ip);
  return cfg.subnet !== null && n > cfg.subnet.network && n < cfg.subnet.broadcast;
}

/** Whether `ip` may be handed to `mac` right now (full mode). */
export function addressAvailable(ip: string, mac: string, view: DhcpView, cfg: DhcpConfig, now: number): boolean {
  if (!isIpv4(ip) || ip === cfg.serverIp || ip === cfg.gateway) return false;
  const fixed = cfg.fixed.get(mac);
  if (fixed !== undefined) return ip === fixed;
  for (const [other, addr] of cfg.fixed) if (addr === ip && other !== mac) return false;
  const n = ipv4ToInt(ip);
  if (cfg.rangeStart === null || cfg.rangeEnd === null || n < cfg.rangeStart || n > cfg.rangeEnd) return false;
  if (!inServedSubnet(ip, cfg)) return false;
  const owner = view.owners.get(ip);
  if (owner !== undefined && owner !== mac) return false;
  const offeredTo = view.offeredTo.get(ip);
  if (offeredTo !== undefined && offeredTo !== mac && (view.offers.get(offeredTo)?.until ?? 0) > now) return false;
  const declinedUntil = view.declined.get(ip);
  if (declinedUntil !== undefined && declinedUntil > now) return false;
  return true;
}

/**
 * The address to offer `mac`: its fixed address; else its binding; else its outstanding offer;
 * else the address it asks for (option 50) when free; else the first free one in the range; else
 * the binding that expired longest ago, reclaimed. Returns the address and any reclaim effect.
 */
export function allocate(
  mac: string,
  requested: string | null,
  view: DhcpView,
  cfg: DhcpConfig,
  now: number,
): { ip: string; effects: DhcpEffect[] } | null {
  const fixed = cfg.fixed.get(mac);
  if (fixed !== undefined) {
    const owner = view.owners.get(fixed);
    // A fixed address wins over a dynamic binding someone else holds.
    const effects: DhcpEffect[] = owner && owner !== mac ? [{ kind: 'release', mac: owner, ip: fixed, reason: 'reclaimed' }] : [];
    return { ip: fixed, effects };
  }
  for (const candidate of [view.bindings.get(mac)?.ip, view.offers.get(mac)?.ip, requested]) {
    if (candidate && addressAvailable(candidate, mac, view, cfg, now)) return { ip: candidate, effects: [] };
  }
  if (cfg.rangeStart === null || cfg.rangeEnd === null) return null;
  for (let n = cfg.rangeStart; n <= cfg.rangeEnd; n++) {
    const ip = intToIpv4(n);
    if (addressAvailable(ip, mac, view, cfg, now)) return { ip, effects: [] };
  }
  // Pool full: reclaim the dynamic binding that expired longest ago, among those whose address is
  // still one bramble may hand out (the range, gateway or fixed addresses may have changed since it
  // was bound; RFC 2131 §4.3.1: a new address comes "from the server's pool of available addresses").
  let oldest: { mac: string; ip: string; expiresAt: number } | null = null;
  for (const b of view.bindings.values()) {
    if (
      b.expiresAt < now &&
      (!oldest || b.expiresAt < oldest.expiresAt) &&
      !cfg.fixed.has(b.mac) &&
      addressAvailable(b.ip, b.mac, view, cfg, now)
    )
      oldest = b;
  }
  if (!oldest) return null;
  return { ip: oldest.ip, effects: [{ kind: 'release', mac: oldest.mac, ip: oldest.ip, reason: 'reclaimed' }] };
}

/** Options 43, 60 and 97 for a PXE client (bytes as dnsmasq's `pxe-service=0,"Raspberry Pi Boot"`). */
function addPxeOptions(reply: DhcpPacket, request: DhcpPacket): void {
  reply.options.set(DhcpOption.VENDOR_CLASS, PXE_CLIENT_VENDOR_CLASS);
  reply.options.set(DhcpOption.VENDOR_SPECIFIC, RPI_OPTION43);
  const guid = echoClientGuid(request);
  if (guid) reply.options.set(DhcpOption.CLIENT_GUID, guid);
}

/**
 * A PC's boot file: siaddr (set by the caller), the BOOTP `file` field, option 66 (the TFTP server,
 * as text) and 67 (the file), as dnsmasq's `dhcp-boot` sends them. In proxy mode also option 60
 * `PXEClient`, option 43 (PC_OPTION43, or on port 4011 the boot item the ROM asked for) and the
 * GUID echoed, as its `pxe-service` does.
 */
function addPcBootOptions(
  reply: DhcpPacket,
  request: DhcpPacket,
  bootFile: string,
  serverIp: string,
  proxy: 'offer' | 'boot-server' | null,
): void {
  reply.file = bootFile;
  reply.options.set(DhcpOption.TFTP_SERVER_NAME, Buffer.from(serverIp, 'latin1'));
  reply.options.set(DhcpOption.BOOTFILE_NAME, Buffer.from(bootFile, 'latin1'));
  if (proxy === null) return;
  reply.options.set(DhcpOption.VENDOR_CLASS, PXE_CLIENT_VENDOR_CLASS);
  const opt43 = proxy === 'offer' ? PC_OPTION43 : (pcBootServerOption43(request) ?? PC_OPTION43);
  reply.options.set(DhcpOption.VENDOR_SPECIFIC, opt43);
  const guid = echoClientGuid(request);
  if (guid) reply.options.set(DhcpOption.CLIENT_GUID, guid);
}

/** `{ ipxe: true }` for a PC's request from iPXE (for the boot facts), else nothing. */
function ipxeFlag(identity: ClientIdentity): { ipxe?: true } {
  return isPcIdentity(identity) && identity.ipxe ? { ipxe: true } : {};
}

/** The boot options of a PXE request's reply in full mode: a Pi's option 43, or a PC's boot file. */
function addFullModeBootOptions(reply: DhcpPacket, request: DhcpPacket, identity: ClientIdentity, serverIp: string): string | undefined {
  if (!identity.pxe) return undefined;
  if (!isPcIdentity(identity)) {
    addPxeOptions(reply, request);
    return undefined;
  }
  const bootFile = pcBootFile(identity);
  addPcBootOptions(reply, request, bootFile, serverIp, null);
  return bootFile;
}

function baseReply(request: DhcpPacket, type: DhcpMessageType, serverIp: string): DhcpPacket {
  const reply = newReply(request);
  reply.options.set(DhcpOption.MESSAGE_TYPE, messageTypeOption(type));
  reply.options.set(DhcpOption.SERVER_ID, ipOption(serverIp));
  reply.flags = replyFlags(request, reply);
  return reply;
}

/** Lease options of full mode: 1, 3, 6, 28, 51, 58, 59 (as configured). */
function addLeaseOptions(reply: DhcpPacket, cfg: DhcpConfig, withLease: boolean): void {
  if (withLease) {
    reply.options.set(DhcpOption.LEASE_TIME, uint32Option(cfg.leaseSeconds));
    reply.options.set(DhcpOption.RENEWAL_TIME, uint32Option(Math.floor(cfg.leaseSeconds / 2)));
    reply.options.set(DhcpOption.REBINDING_TIME, uint32Option(Math.floor((cfg.leaseSeconds * 7) / 8)));
  }
  if (cfg.netmask) reply.options.set(DhcpOption.SUBNET_MASK, ipOption(cfg.netmask));
  if (cfg.gateway) reply.options.set(DhcpOption.ROUTER, ipOption(cfg.gateway));
  if (cfg.dnsServers.length) reply.options.set(DhcpOption.DNS_SERVERS, ipListOption(cfg.dnsServers));
  if (cfg.subnet) reply.options.set(DhcpOption.BROADCAST_ADDRESS, ipOption(intToIpv4(cfg.subnet.broadcast)));
}

function nak(request: DhcpPacket, cfg: DhcpConfig & { serverIp: string }): DhcpPacket {
  return baseReply(request, DhcpMessageType.NAK, cfg.serverIp);
}

export function decideDhcp(request: DhcpPacket, rc: RequestContext, view: DhcpView, cfg: DhcpConfig): DhcpDecision {
  const problem = requestProblem(request);
  if (problem === 'NOT_BOOTREQUEST') return dropped('not-bootrequest');
  if (problem === 'MISSING_MESSAGE_TYPE') return dropped('no-message-type');
  if (request.mac === null) return dropped('not-ethernet');
  let identity: ClientIdentity | null = detectPi(request);
  const client = view.clients.get(request.mac);
  if (!identity) {
    const pc = detectPc(request, client);
    if (!pc) return dropped('not-a-pi');
    if (pc.kind === 'unsupported') {
      return dropped('unsupported-arch', [{ kind: 'unsupported-pxe', mac: pc.mac, arch: pc.arch, archName: pc.archName }]);
    }
    identity = pc.identity;
  }
  const type = messageType(request)!;
  const mac = identity.mac;

  if (!client)
    return dropped(
      isPcIdentity(identity) ? 'unknown-pc' : 'unknown-pi',
      type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST ? [{ kind: 'detect', identity, status: 'unknown' }] : [],
    );
  if (client.status === 'pending') return dropped('pending');
  if (client.status === 'rejected') return dropped('rejected');

  const effects: DhcpEffect[] = [];
  if (type === DhcpMessageType.DISCOVER) {
    effects.push({ kind: 'detect', identity, status: 'approved' });
    effects.push({
      kind: 'boot-fact',
      mac,
      stage: 'dhcp.discover',
      ip: null,
      xid: request.xid,
      pxe: identity.pxe,
      ...ipxeFlag(identity),
    });
  }
  // A PC's firmware can only be given iPXE and a script that boots its image: without an image,
  // nothing (its OS, not PXE, is still served below as a Pi's OS is).
  if (isPcIdentity(identity) && identity.pxe && (client.imageId ?? null) === null) return dropped('no-image', effects);
  if (!cfg.serverIp) return dropped('no-server-ip', effects);
  const config = cfg as DhcpConfig & { serverIp: string };
  return cfg.mode === 'proxy'
    ? decideProxy(request, type, identity, rc, config, effects)
    : decideFull(request, type, identity, rc, view, config, effects);
}

function pi3Delay(mac: string, cfg: DhcpConfig): number {
  return mac.startsWith(PI3_OUI) ? cfg.pi3DelayMs : 0;
}

/**
 * Proxy mode (another server hands out addresses): PXE requests of approved Pis get an OFFER (to
 * a DISCOVER) or an ACK (to a REQUEST) with yiaddr 0.0.0.0, broadcast, and the boot options. The
 * address the Pi took from the other server is learned from its REQUEST (option 50 or ciaddr).
 */
function decideProxy(
  request: DhcpPacket,
  type: DhcpMessageType,
  identity: ClientIdentity,
  rc: RequestContext,
  cfg: DhcpConfig & { serverIp: string },
  effects: DhcpEffect[],
): DhcpDecision {
  const mac = identity.mac;
  // A RELEASE gives up the address in ciaddr (RFC 2131 §4.4.6): nothing to learn from it.
  const using =
    type === DhcpMessageType.RELEASE
      ? null
      : request.ciaddr !== ZERO
        ? request.ciaddr
        : type === DhcpMessageType.REQUEST
          ? getIp(request.options, DhcpOption.REQUESTED_IP)
          : null;
  if (using && using !== ZERO) effects.push({ kind: 'learn-address', mac, ip: using });
  if (!identity.pxe) return dropped('not-pxe', effects);
  // A REQUEST that names another server selects that server's offer (RFC 2131 §3.1 step 4,
  // §4.3.2): stay silent, as dnsmasq does; the address it takes was learned above.
  const serverId = getIp(request.options, DhcpOption.SERVER_ID);
  if (type === DhcpMessageType.REQUEST && rc.localPort !== 4011 && serverId !== null && serverId !== cfg.serverIp) {
    return dropped('selected-other-server', effects);
  }
  let replyType: DhcpMessageType;
  if (type === DhcpMessageType.DISCOVER && rc.localPort !== 4011) replyType = DhcpMessageType.OFFER;
  else if (type === DhcpMessageType.REQUEST || (type === DhcpMessageType.DISCOVER && rc.localPort === 4011))
    replyType = DhcpMessageType.ACK;
  else return dropped('not-answered', effects);
  const reply = baseReply(request, replyType, cfg.serverIp);
  reply.siaddr = cfg.serverIp;
  reply.flags |= BROADCAST_FLAG;
  let bootFile: string | undefined;
  if (isPcIdentity(identity)) {
    bootFile = pcBootFile(identity);
    addPcBootOptions(reply, request, bootFile, cfg.serverIp, rc.localPort === 4011 ? 'boot-server' : 'offer');
  } else {
    addPxeOptions(reply, request);
  }
  effects.push({
    kind: 'boot-fact',
    mac,
    stage: replyType === DhcpMessageType.OFFER ? 'dhcp.offered' : 'dhcp.acked',
    ip: using ?? null,
    xid: request.xid,
    pxe: true,
    ...ipxeFlag(identity),
    ...(bootFile ? { bootFile } : {}),
  });
  return { reply, drop: null, delayMs: pi3Delay(mac, cfg), effects };
}

/** Full mode: bramble leases addresses from its range (or a fixed one) to approved Pis only. */
function decideFull(
  request: DhcpPacket,
  type: DhcpMessageType,
  identity: ClientIdentity,
  rc: RequestContext,
  view: DhcpView,
  cfg: DhcpConfig & { serverIp: string },
  effects: DhcpEffect[],
): DhcpDecision {
  const mac = identity.mac;
  const now = rc.now;
  if ((cfg.rangeStart === null || cfg.rangeEnd === null || !cfg.netmask) && !cfg.fixed.has(mac)) return dropped('no-range', effects);
  const serverId = getIp(request.options, DhcpOption.SERVER_ID);
  const requested = getIp(request.options, DhcpOption.REQUESTED_IP);
  const binding = view.bindings.get(mac);
  const expiresAt = now + cfg.leaseSeconds * 1000;

  const ack = (ip: string): DhcpDecision => {
    const reply = baseReply(request, DhcpMessageType.ACK, cfg.serverIp);
    reply.yiaddr = ip;
    reply.siaddr = cfg.serverIp;
    reply.ciaddr = request.ciaddr;
    addLeaseOptions(reply, cfg, true);
    const bootFile = addFullModeBootOptions(reply, request, identity, cfg.serverIp);
    const persist = !binding || binding.ip !== ip;
    effects.push(
      ...allocateReclaims(ip, mac, view),
      { kind: 'bind', mac, ip, expiresAt, persist },
      { kind: 'learn-address', mac, ip },
      {
        kind: 'boot-fact',
        mac,
        stage: 'dhcp.acked',
        ip,
        xid: request.xid,
        pxe: identity.pxe,
        ...ipxeFlag(identity),
        ...(bootFile ? { bootFile } : {}),
      },
    );
    return { reply, drop: null, delayMs: 0, effects };
  };

  switch (type) {
    case DhcpMessageType.DISCOVER: {
      const chosen = allocate(mac, requested, view, cfg, now);
      if (!chosen) return dropped('pool-exhausted', effects);
      const reply = baseReply(request, DhcpMessageType.OFFER, cfg.serverIp);
      reply.yiaddr = chosen.ip;
      reply.siaddr = cfg.serverIp;
      addLeaseOptions(reply, cfg, true);
      const bootFile = addFullModeBootOptions(reply, request, identity, cfg.serverIp);
      effects.push(...chosen.effects, { kind: 'offer', mac, ip: chosen.ip, until: now + OFFER_HOLD_MS });
      if (mac.startsWith(PI3_OUI)) {
        // The Pi 3 boot ROM uses the OFFER and never sends a REQUEST: the offer is its lease.
        effects.push({
          kind: 'bind',
          mac,
          ip: chosen.ip,
          expiresAt: now + cfg.leaseSeconds * 1000,
          persist: !binding || binding.ip !== chosen.ip,
        });
        // ...and the address it will use: TFTP knows a Pi by its address, and bootcode.bin comes
        // without a serial folder (found by the Pi emulator's end-to-end boot, test/e2e).
        effects.push({ kind: 'learn-address', mac, ip: chosen.ip });
      }
      effects.push({
        kind: 'boot-fact',
        mac,
        stage: 'dhcp.offered',
        ip: chosen.ip,
        xid: request.xid,
        pxe: identity.pxe,
        ...ipxeFlag(identity),
        ...(bootFile ? { bootFile } : {}),
      });
      return { reply, drop: null, delayMs: pi3Delay(mac, cfg), effects };
    }
    case DhcpMessageType.REQUEST: {
      if (serverId !== null) {
        // SELECTING (RFC 2131 §4.3.2): "If the server identifier does not match, the client has
        // selected another server": no reply; the offer is withdrawn.
        if (serverId !== cfg.serverIp) return dropped('selected-other-server', [...effects, { kind: 'withdraw-offer', mac }]);
        if (requested && request.ciaddr === ZERO && addressAvailable(requested, mac, view, cfg, now)) return ack(requested);
        return { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
      }
      if (requested && request.ciaddr === ZERO) {
        // INIT-REBOOT: "Server SHOULD send a DHCPNAK message to the client if the 'requested IP
        // address' is incorrect, or is on the wrong network. If the DHCP server has no record of
        // this client, then it MUST remain silent".
        if (binding)
          return binding.ip === requested && addressAvailable(requested, mac, view, cfg, now)
            ? ack(requested)
            : { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
        if (cfg.fixed.has(mac))
          return cfg.fixed.get(mac) === requested ? ack(requested) : { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
        if (!inServedSubnet(requested, cfg)) return { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
        return dropped('no-binding', effects);
      }
      if (request.ciaddr !== ZERO) {
        // RENEWING (unicast) / REBINDING (broadcast): ciaddr is the client's address.
        if (addressAvailable(request.ciaddr, mac, view, cfg, now) && (!binding || binding.ip === request.ciaddr))
          return ack(request.ciaddr);
        return { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
      }
      return { reply: nak(request, cfg), drop: null, delayMs: 0, effects };
    }
    case DhcpMessageType.DECLINE: {
      const ip = requested;
      if (ip && binding?.ip === ip) effects.push({ kind: 'decline', mac, ip, until: now + DECLINE_HOLD_MS });
      else if (ip && view.offers.get(mac)?.ip === ip) effects.push({ kind: 'decline', mac, ip, until: now + DECLINE_HOLD_MS });
      return dropped('not-answered', effects);
    }
    case DhcpMessageType.RELEASE: {
      if (binding && binding.ip === request.ciaddr) effects.push({ kind: 'release', mac, ip: binding.ip, reason: 'release' });
      return dropped('not-answered', effects);
    }
    case DhcpMessageType.INFORM: {
      // RFC 2131 §4.3.5: an ACK with configuration, no lease time, no yiaddr; sent to ciaddr.
      const reply = baseReply(request, DhcpMessageType.ACK, cfg.serverIp);
      reply.ciaddr = request.ciaddr;
      reply.siaddr = cfg.serverIp;
      addLeaseOptions(reply, cfg, false);
      addFullModeBootOptions(reply, request, identity, cfg.serverIp);
      if (request.ciaddr !== ZERO) effects.push({ kind: 'learn-address', mac, ip: request.ciaddr });
      return { reply, drop: null, delayMs: 0, effects };
    }
    default:
      return dropped('not-answered', effects);
  }
}

/** A fixed address held dynamically by someone else is taken back when its owner is ACKed. */
function allocateReclaims(ip: string, mac: string, view: DhcpView): DhcpEffect[] {
  const owner = view.owners.get(ip);
  return owner && owner !== mac ? [{ kind: 'release', mac: owner, ip, reason: 'reclaimed' }] : [];
}
