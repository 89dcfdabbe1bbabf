/**
 * The reply decision (dhcp.decider.ts), given / when / then:
 *   given  the view, built from recorded events as the plugin builds it (plus the decider's own
 *          effects applied between packets, as dhcp.server.ts does),
 *   when   a request, built with the real codec from a Pi 4 / Pi 3 / booted OS / non-Pi fingerprint,
 *   then   the reply (every field and option that matters), the drop reason, the delay, the effects.
 * Sources: RFC 2131 §3.1, §4.1, §4.3 (table 3), docs/pi-netboot-protocol.md §1, §2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePluginSettings } from '../../../src/core/domain/settings/plugin-settings';
import type { RecordedEvent } from '../../../src/core/plugin-api';
import {
  BOOTREPLY,
  BOOTREQUEST,
  BROADCAST_FLAG,
  DhcpMessageType,
  DhcpOption,
  decodePacket,
  encodePacket,
  getIp,
  getIpList,
  getString,
  getUint32,
  ipOption,
  macToChaddr,
  messageType,
  messageTypeOption,
  replyMaxSize,
  uint16Option,
  type DhcpPacket,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { buildDhcpConfig, DhcpSettingsSchema, type DhcpSettings } from '../../../src/plugins/dhcp/dhcp.config';
import {
  addressAvailable,
  allocate,
  decideDhcp,
  type DhcpConfig,
  type DhcpDecision,
  type DhcpEffect,
  type RequestContext,
} from '../../../src/plugins/dhcp/dhcp.decider';
import { DhcpEventType } from '../../../src/plugins/dhcp/dhcp.events';
import { DECLINE_HOLD_MS, DhcpView, OFFER_HOLD_MS, type DhcpClient, type DhcpEvent } from '../../../src/plugins/dhcp/dhcp.view';
import type { PiIdentity } from '../../../src/plugins/dhcp/pi-detection';
import { RPI_OPTION43 } from '../../../src/plugins/dhcp/pxe-options';
import { replyDestination } from '../../../src/plugins/dhcp/reply-destination';

// ---------------------------------------------------------------------------------------------
// The network of these tests

const NOW = Date.parse('2025-03-01T12:00:00.000Z');
const SERVER = '10.0.0.1';
const GATEWAY = '10.0.0.254';
const OTHER_SERVER = '10.0.0.2';
const NETMASK = '255.255.255.0';
const DNS = ['10.0.0.254', '9.9.9.9'];
const LEASE = 3600;
/** The pool: ten addresses. */
const RANGE_START = '10.0.0.100';
const RANGE_END = '10.0.0.109';

const PI4 = 'dc:a6:32:01:36:c2';
const PI3 = 'b8:27:eb:12:34:56';
const NON_PI = '00:1b:21:aa:bb:cc';
/** Distinct Pi 4 MACs for pool tests. */
function pi4Mac(i: number): string {
  return `dc:a6:32:00:00:${i.toString(16).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------
// Request builders: real bytes through encodePacket → decodePacket, as the socket loop sees them.

/** Option 97 in the Pi 4/5 format: type 0, FourCC, board revision LE, MAC low 4 bytes, serial LE. */
function piGuid(fourcc: string, revision: number, serial: number): Buffer {
  const g = Buffer.alloc(17);
  g.write(fourcc, 1, 'latin1');
  g.writeUInt32LE(revision, 5);
  g.writeUInt32LE(0x320136c2, 9);
  g.writeUInt32LE(serial, 13);
  return g;
}

/** Pi 4 Model B (board type 0x11 in a new-style revision code), serial 6f0136c2. */
const PI4_GUID = piGuid('RPi4', 0x00d03114, 0x6f0136c2);
const PI4_IDENTITY: PiIdentity = { mac: PI4, serial: '6f0136c2', model: 'RPi4', via: 'option97', pxe: true, arch: 0 };
const PXE_VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1');
const ARCH_X86_BIOS = Buffer.from([0, 0]);
const UNDI_2_1 = Buffer.from([1, 2, 1]);

type Fingerprint = 'pi4' | 'pi3' | 'os' | 'x86';

/** The options (after 53) each kind of client sends. */
function fingerprint(fp: Fingerprint): Array<[number, Buffer]> {
  switch (fp) {
    case 'pi4': // EEPROM bootloader: 55 (with 1 and 3), 57, 60, 93, 94, 97 "RPi4".
      return [
        [55, Buffer.from([1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])],
        [57, uint16Option(1500)],
        [60, PXE_VENDOR_CLASS],
        [93, ARCH_X86_BIOS],
        [94, UNDI_2_1],
        [97, PI4_GUID],
      ];
    case 'pi3': // Pi 3B boot ROM: the same PXE fingerprint, no option 97.
      return [
        [55, Buffer.from([43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])],
        [60, PXE_VENDOR_CLASS],
        [93, ARCH_X86_BIOS],
        [94, UNDI_2_1],
      ];
    case 'os': // dhcpcd in the booted Raspberry Pi OS: not PXE.
      return [
        [55, Buffer.from([1, 3, 6, 15, 28, 51, 58, 59])],
        [57, uint16Option(1472)],
        [60, Buffer.from('dhcpcd-9.4.1:Linux-6.6.51+rpt-rpi-v8:aarch64:BCM2835', 'latin1')],
      ];
    case 'x86': // An x86 PXE ROM: the Pi's option 60/93/94 fingerprint, a GUID that is no Pi's.
      return [
        [55, Buffer.from([1, 3, 43, 60, 66, 67])],
        [60, PXE_VENDOR_CLASS],
        [93, ARCH_X86_BIOS],
        [94, UNDI_2_1],
        [97, Buffer.from('00' + '4c4c4544004d3510804ab4c04f4a4e32', 'hex')],
      ];
  }
}

interface RequestSpec {
  type: DhcpMessageType;
  mac: string;
  fp?: Fingerprint;
  xid?: number;
  flags?: number;
  ciaddr?: string;
  giaddr?: string;
  /** Option 50. */
  requested?: string;
  /** Option 54. */
  serverId?: string;
  op?: number;
  htype?: number;
  /** Leave option 53 out (plain BOOTP). */
  noMessageType?: boolean;
}

function request(spec: RequestSpec): DhcpPacket {
  const options = new Map<number, Buffer>();
  if (!spec.noMessageType) options.set(DhcpOption.MESSAGE_TYPE, messageTypeOption(spec.type));
  if (spec.requested !== undefined) options.set(DhcpOption.REQUESTED_IP, ipOption(spec.requested));
  if (spec.serverId !== undefined) options.set(DhcpOption.SERVER_ID, ipOption(spec.serverId));
  for (const [code, value] of fingerprint(spec.fp ?? 'pi4')) options.set(code, value);
  const p: DhcpPacket = {
    op: spec.op ?? BOOTREQUEST,
    htype: spec.htype ?? 1,
    hlen: 6,
    hops: 0,
    xid: spec.xid ?? 0x2a2b2c2d,
    secs: 4,
    flags: spec.flags ?? 0,
    ciaddr: spec.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: spec.giaddr ?? '0.0.0.0',
    chaddr: macToChaddr(spec.mac),
    mac: null,
    sname: '',
    file: '',
    options,
  };
  return decodePacket(encodePacket(p));
}

const discover = (mac: string, fp: Fingerprint = 'pi4', more: Partial<RequestSpec> = {}): DhcpPacket =>
  request({ type: DhcpMessageType.DISCOVER, mac, fp, ...more });
/** SELECTING: server id and requested address, ciaddr 0 (RFC 2131 §4.3.2). */
const selecting = (mac: string, serverId: string, requested: string, fp: Fingerprint = 'pi4'): DhcpPacket =>
  request({ type: DhcpMessageType.REQUEST, mac, fp, serverId, requested });
/** INIT-REBOOT: requested address, no server id, ciaddr 0. */
const initReboot = (mac: string, requested: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.REQUEST, mac, fp, requested });
/** RENEWING: ciaddr, no server id, no requested address; unicast (no broadcast flag). */
const renewing = (mac: string, ciaddr: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.REQUEST, mac, fp, ciaddr });
/** REBINDING: as RENEWING but broadcast (this client also sets the broadcast flag). */
const rebinding = (mac: string, ciaddr: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.REQUEST, mac, fp, ciaddr, flags: BROADCAST_FLAG });
/** DECLINE: the address in option 50, server id, ciaddr 0 (RFC 2131 §4.4.1 table 5). */
const decline = (mac: string, ip: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.DECLINE, mac, fp, requested: ip, serverId: SERVER });
/** RELEASE: the address in ciaddr, server id. */
const release = (mac: string, ciaddr: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.RELEASE, mac, fp, ciaddr, serverId: SERVER });
const inform = (mac: string, ciaddr: string, fp: Fingerprint = 'os'): DhcpPacket =>
  request({ type: DhcpMessageType.INFORM, mac, fp, ciaddr });

// ---------------------------------------------------------------------------------------------
// Given: the view from events shaped like the core's, and the config from settings.

let position = 0;
function event(type: string, data: Record<string, unknown>, at = NOW - 3_600_000): RecordedEvent {
  position++;
  return {
    id: `event-${position}`,
    stream: 'test',
    revision: position,
    position,
    type,
    data,
    metadata: { actor: 'system', correlationId: 'c', causationId: null, timestamp: new Date(at).toISOString(), schemaVersion: 1 },
  };
}
const detected = (mac: string): RecordedEvent =>
  event('ClientDetected', { mac, serial: null, model: null, ip: null, via: 'dhcp', bootId: 'boot-1' });
const approved = (mac: string): RecordedEvent => event('ClientApproved', { mac, name: null, imageId: null, preRegistered: false });
const rejected = (mac: string): RecordedEvent => event('ClientRejected', { mac });
const removed = (mac: string): RecordedEvent => event('ClientRemoved', { mac });
const leaseBound = (mac: string, ip: string, at: number, leaseSeconds = LEASE): RecordedEvent =>
  event(DhcpEventType.DhcpLeaseBound, { mac, ip, leaseSeconds }, at);
const addressDeclined = (mac: string, ip: string, at: number): RecordedEvent => event(DhcpEventType.DhcpAddressDeclined, { mac, ip }, at);

/**
 * Feeds an event to the view as the running plugin sees it: client events change the core's client
 * read model (here a Map standing in for ctx.views.clients), lease events go to the plugin's view.
 */
function feed(view: DhcpView, e: RecordedEvent): void {
  const clients = view.clients as Map<string, DhcpClient>;
  const mac = (e.data as { mac: string }).mac;
  switch (e.type) {
    case 'ClientDetected':
      clients.set(mac, { status: 'pending', ip: (e.data as { ip: string | null }).ip });
      return;
    case 'ClientApproved':
      clients.set(mac, { status: 'approved', ip: clients.get(mac)?.ip ?? null });
      return;
    case 'ClientRejected':
      if (clients.has(mac)) clients.set(mac, { ...clients.get(mac)!, status: 'rejected' });
      return;
    case 'ClientRemoved':
      clients.delete(mac);
      return;
    default:
      view.apply(e as DhcpEvent);
  }
}

function viewOf(...events: RecordedEvent[]): DhcpView {
  const view = new DhcpView();
  for (const e of events) feed(view, e);
  return view;
}

/** Detected then approved, for each MAC. */
function approvedView(...macs: string[]): DhcpView {
  return viewOf(...macs.flatMap((mac) => [detected(mac), approved(mac)]));
}

/** What dhcp.server.ts's `apply` does to the view for each effect (the event appends aside). */
function applyEffects(view: DhcpView, effects: readonly DhcpEffect[]): void {
  for (const effect of effects) {
    switch (effect.kind) {
      case 'offer':
        view.offer(effect.mac, effect.ip, effect.until);
        break;
      case 'withdraw-offer':
        view.clearOffer(effect.mac);
        break;
      case 'bind':
        view.bind(effect.mac, effect.ip, effect.expiresAt);
        break;
      case 'release':
        view.unbind(effect.mac, effect.ip);
        break;
      case 'decline':
        view.unbind(effect.mac, effect.ip);
        view.clearOffer(effect.mac);
        view.declined.set(effect.ip, effect.until);
        break;
      default: // detect, learn-address, boot-fact: core commands, no view change.
        break;
    }
  }
}

/** DHCP settings over the full-mode lab defaults; `serverIp` is the server address in use. */
type CfgOver = Partial<DhcpSettings> & { serverIp?: string | null };
function settings(over: CfgOver = {}, dhcp: Partial<DhcpSettings> = {}): DhcpSettings {
  const { serverIp: _server, ...values } = over;
  return effectivePluginSettings(DhcpSettingsSchema, {
    mode: 'full',
    rangeStart: RANGE_START,
    rangeEnd: RANGE_END,
    netmask: NETMASK,
    gateway: GATEWAY,
    dnsServers: DNS,
    leaseSeconds: LEASE,
    ...values,
    ...dhcp,
  }) as DhcpSettings;
}
const fullCfg = (over: CfgOver = {}, dhcp: Partial<DhcpSettings> = {}): DhcpConfig =>
  buildDhcpConfig(settings(over, dhcp), over.serverIp === undefined ? SERVER : over.serverIp);
const proxyCfg = (over: CfgOver = {}, dhcp: Partial<DhcpSettings> = {}): DhcpConfig => fullCfg({ mode: 'proxy', ...over }, dhcp);

function decide(req: DhcpPacket, view: DhcpView, cfg: DhcpConfig, rc: Partial<RequestContext> = {}): DhcpDecision {
  return decideDhcp(req, { localPort: 67, now: NOW, ...rc }, view, cfg);
}

/** Decides, then applies the effects to the view (as the server does); returns the decision. */
function step(req: DhcpPacket, view: DhcpView, cfg: DhcpConfig, rc: Partial<RequestContext> = {}): DhcpDecision {
  const d = decide(req, view, cfg, rc);
  applyEffects(view, d.effects);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Then: helpers to read the decision.

function effectsOf<K extends DhcpEffect['kind']>(d: DhcpDecision, kind: K): Array<Extract<DhcpEffect, { kind: K }>> {
  return d.effects.filter((e): e is Extract<DhcpEffect, { kind: K }> => e.kind === kind);
}

function kinds(d: DhcpDecision): string[] {
  return d.effects.map((e) => e.kind);
}

function replyOf(d: DhcpDecision): DhcpPacket {
  assert.equal(d.drop, null, `expected a reply, got drop ${String(d.drop)}`);
  assert.ok(d.reply, 'expected a reply');
  return d.reply;
}

function codes(p: DhcpPacket): number[] {
  return [...p.options.keys()].sort((a, b) => a - b);
}

function assertNoReply(d: DhcpDecision, drop: string): void {
  assert.equal(d.reply, null);
  assert.equal(d.drop, drop);
  assert.equal(d.delayMs, 0);
}

/** A NAK as RFC 2131 §4.3.1 table 3 has it: yiaddr/siaddr/ciaddr 0, only 53 and 54. */
function assertNak(d: DhcpDecision, req: DhcpPacket): void {
  const r = replyOf(d);
  assert.equal(messageType(r), DhcpMessageType.NAK);
  assert.equal(r.op, BOOTREPLY);
  assert.equal(r.xid, req.xid);
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(r.siaddr, '0.0.0.0');
  assert.equal(r.ciaddr, '0.0.0.0');
  assert.deepEqual(codes(r), [DhcpOption.MESSAGE_TYPE, DhcpOption.SERVER_ID]);
  assert.equal(getIp(r.options, DhcpOption.SERVER_ID), SERVER);
  assert.equal(effectsOf(d, 'bind').length, 0, 'a NAK binds nothing');
  // RFC 2131 §4.1: "when 'giaddr' is zero, the server broadcasts any DHCPNAK messages".
  if (req.giaddr === '0.0.0.0') {
    assert.deepEqual(replyDestination(req, r, { localPort: 67 }), { address: '255.255.255.255', port: 68, broadcast: true });
  }
}

/** The lease options of full mode, with the configuration of these tests. */
function assertLeaseOptions(r: DhcpPacket, leaseSeconds = LEASE): void {
  assert.equal(getUint32(r.options, DhcpOption.LEASE_TIME), leaseSeconds);
  assert.equal(getUint32(r.options, DhcpOption.RENEWAL_TIME), Math.floor(leaseSeconds / 2));
  assert.equal(getUint32(r.options, DhcpOption.REBINDING_TIME), Math.floor((leaseSeconds * 7) / 8));
  assert.equal(getIp(r.options, DhcpOption.SUBNET_MASK), NETMASK);
  assert.equal(getIp(r.options, DhcpOption.ROUTER), GATEWAY);
  assert.deepEqual(getIpList(r.options, DhcpOption.DNS_SERVERS), DNS);
  assert.equal(getIp(r.options, DhcpOption.BROADCAST_ADDRESS), '10.0.0.255');
  assert.equal(getIp(r.options, DhcpOption.SERVER_ID), SERVER);
}

function assertPxeOptions(r: DhcpPacket, req: DhcpPacket): void {
  assert.equal(getString(r.options, DhcpOption.VENDOR_CLASS), 'PXEClient');
  assert.deepEqual(r.options.get(DhcpOption.VENDOR_SPECIFIC), RPI_OPTION43);
  const guid = req.options.get(DhcpOption.CLIENT_GUID);
  if (guid) assert.deepEqual(r.options.get(DhcpOption.CLIENT_GUID), guid);
  else assert.equal(r.options.has(DhcpOption.CLIENT_GUID), false);
}

const PXE_CODES = [DhcpOption.VENDOR_SPECIFIC, DhcpOption.VENDOR_CLASS, DhcpOption.CLIENT_GUID];
const LEASE_CODES = [
  DhcpOption.SUBNET_MASK,
  DhcpOption.ROUTER,
  DhcpOption.DNS_SERVERS,
  DhcpOption.BROADCAST_ADDRESS,
  DhcpOption.LEASE_TIME,
  DhcpOption.MESSAGE_TYPE,
  DhcpOption.SERVER_ID,
  DhcpOption.RENEWAL_TIME,
  DhcpOption.REBINDING_TIME,
];
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

// =============================================================================================

describe('decideDhcp: what is never answered', () => {
  const everyoneApproved = approvedView(PI4, PI3, NON_PI);

  for (const [mode, cfg] of [
    ['proxy', proxyCfg()],
    ['full', fullCfg()],
  ] as const) {
    it(`${mode} mode: a non-Pi that is not PXE (its MAC approved, no PC model) gets nothing and causes nothing`, () => {
      for (const req of [
        initReboot(NON_PI, RANGE_START),
        renewing(NON_PI, RANGE_START),
        decline(NON_PI, RANGE_START),
        release(NON_PI, RANGE_START),
        inform(NON_PI, '10.0.0.50'),
      ]) {
        // Even with its MAC "approved" in the view: a non-Pi is left to the LAN's own server.
        assert.deepEqual(decide(req, everyoneApproved, cfg), { reply: null, drop: 'not-a-pi', delayMs: 0, effects: [] });
      }
    });

    it(`${mode} mode: an x86 PXE ROM (same 60/93/94 fingerprint, foreign GUID) is a lab PC: approved without an image, no reply`, () => {
      // pc.decider.spec.ts has the PC cases; here only that the Pi rules do not answer it.
      const d = decide(discover(NON_PI, 'x86'), everyoneApproved, cfg);
      assert.equal(d.reply, null);
      assert.equal(d.drop, 'no-image');
      assert.deepEqual(kinds(d), ['detect', 'boot-fact']);
      assert.deepEqual(decide(selecting(NON_PI, SERVER, RANGE_START, 'x86'), everyoneApproved, cfg), {
        reply: null,
        drop: 'no-image',
        delayMs: 0,
        effects: [],
      });
    });
  }

  it('a BOOTREPLY (op 2) from a Pi MAC: not-bootrequest, no effects', () => {
    const d = decide(request({ type: DhcpMessageType.OFFER, mac: PI4, op: 2 }), everyoneApproved, proxyCfg());
    assert.deepEqual(d, { reply: null, drop: 'not-bootrequest', delayMs: 0, effects: [] });
  });

  it('no option 53 (plain BOOTP) from a Pi: no-message-type, no effects', () => {
    const d = decide(request({ type: DhcpMessageType.DISCOVER, mac: PI4, noMessageType: true }), everyoneApproved, fullCfg());
    assert.deepEqual(d, { reply: null, drop: 'no-message-type', delayMs: 0, effects: [] });
  });

  it('option 53 with a value outside 1..8: no-message-type', () => {
    const req = discover(PI4);
    req.options.set(DhcpOption.MESSAGE_TYPE, Buffer.from([9]));
    assert.deepEqual(decide(req, everyoneApproved, fullCfg()), { reply: null, drop: 'no-message-type', delayMs: 0, effects: [] });
  });

  it('htype ≠ 1 (IEEE 802) with a Pi OUI in chaddr: not-ethernet, no effects', () => {
    const d = decide(request({ type: DhcpMessageType.DISCOVER, mac: PI4, htype: 6 }), everyoneApproved, proxyCfg());
    assert.deepEqual(d, { reply: null, drop: 'not-ethernet', delayMs: 0, effects: [] });
  });

  it('op 2 is checked before option 53', () => {
    const d = decide(request({ type: DhcpMessageType.DISCOVER, mac: PI4, op: 2, noMessageType: true }), everyoneApproved, proxyCfg());
    assert.equal(d.drop, 'not-bootrequest');
  });
});

describe('decideDhcp: Pis that are not approved', () => {
  for (const [mode, cfg] of [
    ['proxy', proxyCfg()],
    ['full', fullCfg()],
  ] as const) {
    it(`${mode} mode: an unknown Pi 4 → no reply, one detect effect (unknown) with serial and model from option 97`, () => {
      const d = decide(discover(PI4), new DhcpView(), cfg);
      assert.deepEqual(d, {
        reply: null,
        drop: 'unknown-pi',
        delayMs: 0,
        effects: [{ kind: 'detect', identity: PI4_IDENTITY, status: 'unknown' }],
      });
    });
  }

  it('an unknown Pi 4 REQUEST is recorded too', () => {
    const d = decide(selecting(PI4, SERVER, RANGE_START), new DhcpView(), fullCfg());
    assert.deepEqual(d.effects, [{ kind: 'detect', identity: PI4_IDENTITY, status: 'unknown' }]);
  });

  it('an unknown Pi 3 (b8:27:eb, no option 97) is detected by OUI: no serial, no single model', () => {
    const d = decide(discover(PI3, 'pi3'), new DhcpView(), proxyCfg());
    assertNoReply(d, 'unknown-pi');
    assert.deepEqual(d.effects, [
      { kind: 'detect', identity: { mac: PI3, serial: null, model: null, via: 'oui', pxe: true, arch: 0 }, status: 'unknown' },
    ]);
  });

  it('a Pi 5 behind a non-Pi MAC is recognised by its RPi5 GUID; the MAC is still the chaddr', () => {
    const req = discover(NON_PI);
    req.options.set(DhcpOption.CLIENT_GUID, piGuid('RPi5', 0x00d04170, 0x0badcafe));
    const d = decide(req, new DhcpView(), proxyCfg());
    assert.deepEqual(d.effects, [
      {
        kind: 'detect',
        identity: { mac: NON_PI, serial: '0badcafe', model: 'RPi5', via: 'option97', pxe: true, arch: 0 },
        status: 'unknown',
      },
    ]);
  });

  it('an unknown Pi sending DECLINE, RELEASE or INFORM is not recorded (only DISCOVER/REQUEST are)', () => {
    for (const req of [decline(PI4, RANGE_START), release(PI4, RANGE_START), inform(PI4, '10.0.0.50')]) {
      assert.deepEqual(decide(req, new DhcpView(), fullCfg()), { reply: null, drop: 'unknown-pi', delayMs: 0, effects: [] });
    }
  });

  it('pending (detected, not approved) → pending, no effects, in both modes', () => {
    const view = viewOf(detected(PI4));
    for (const cfg of [proxyCfg(), fullCfg()]) {
      assert.deepEqual(decide(discover(PI4), view, cfg), { reply: null, drop: 'pending', delayMs: 0, effects: [] });
      assert.deepEqual(decide(selecting(PI4, SERVER, RANGE_START), view, cfg), { reply: null, drop: 'pending', delayMs: 0, effects: [] });
    }
  });

  it('rejected → rejected, no effects; approved then rejected → rejected', () => {
    for (const view of [viewOf(detected(PI4), rejected(PI4)), viewOf(detected(PI4), approved(PI4), rejected(PI4))]) {
      for (const cfg of [proxyCfg(), fullCfg()]) {
        assert.deepEqual(decide(discover(PI4), view, cfg), { reply: null, drop: 'rejected', delayMs: 0, effects: [] });
      }
    }
  });

  it('removed → unknown again (detected anew)', () => {
    const view = viewOf(detected(PI4), approved(PI4), removed(PI4));
    const d = decide(discover(PI4), view, proxyCfg());
    assertNoReply(d, 'unknown-pi');
    assert.deepEqual(kinds(d), ['detect']);
    assert.deepEqual(effectsOf(d, 'detect')[0].status, 'unknown');
  });

  it('approval takes effect on the next DISCOVER, with no other change', () => {
    const view = viewOf(detected(PI4));
    assert.equal(decide(discover(PI4), view, proxyCfg()).drop, 'pending');
    feed(view, approved(PI4));
    assert.equal(messageType(replyOf(decide(discover(PI4), view, proxyCfg()))), DhcpMessageType.OFFER);
  });

  it('pre-registered (ClientApproved without ClientDetected) is answered', () => {
    const view = viewOf(event('ClientApproved', { mac: PI4, name: 'lab-07', imageId: null, preRegistered: true }));
    assert.equal(messageType(replyOf(decide(discover(PI4), view, proxyCfg()))), DhcpMessageType.OFFER);
  });

  it('approved, but no server address → no-server-ip; the detection and the boot fact still happen', () => {
    const d = decide(discover(PI4), approvedView(PI4), proxyCfg({ serverIp: null }, {}));
    assert.equal(d.reply, null);
    assert.equal(d.drop, 'no-server-ip');
    assert.deepEqual(kinds(d), ['detect', 'boot-fact']);
    assert.equal(effectsOf(d, 'detect')[0].status, 'approved');
  });
});

// =============================================================================================

describe('proxy mode (docs/pi-netboot-protocol.md §2)', () => {
  const cfg = proxyCfg();
  const view = approvedView(PI4, PI3);

  /** The proxy shape: yiaddr 0, siaddr = server, broadcast, exactly 53, 54, 60, 43 (and 97). */
  function assertProxyReply(d: DhcpDecision, req: DhcpPacket, type: DhcpMessageType): DhcpPacket {
    const r = replyOf(d);
    assert.equal(messageType(r), type);
    assert.equal(r.op, BOOTREPLY);
    assert.equal(r.xid, req.xid);
    assert.deepEqual(r.chaddr, req.chaddr);
    assert.equal(r.hops, 0, 'the Pi 3 ROM ignores replies with hops ≠ 0');
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.siaddr, SERVER);
    assert.equal(r.giaddr, req.giaddr);
    assert.equal(r.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    const expected: number[] = [DhcpOption.VENDOR_SPECIFIC, DhcpOption.MESSAGE_TYPE, DhcpOption.SERVER_ID, DhcpOption.VENDOR_CLASS];
    if (req.options.has(DhcpOption.CLIENT_GUID)) expected.push(DhcpOption.CLIENT_GUID);
    assert.deepEqual(codes(r), sorted(expected), 'no 51, no 1, no 3: the address comes from the LAN server');
    assert.equal(getIp(r.options, DhcpOption.SERVER_ID), SERVER);
    assertPxeOptions(r, req);
    return r;
  }

  it('approved Pi 4 PXE DISCOVER → OFFER with the proxy shape, 43 exactly RPI_OPTION43, 97 echoed byte for byte', () => {
    const req = discover(PI4);
    const d = decide(req, view, cfg);
    const r = assertProxyReply(d, req, DhcpMessageType.OFFER);
    assert.equal(r.options.get(DhcpOption.VENDOR_SPECIFIC)!.length, 32);
    assert.ok(r.options.get(DhcpOption.VENDOR_SPECIFIC)!.includes(Buffer.from('Raspberry Pi Boot')));
    assert.equal(Buffer.compare(r.options.get(DhcpOption.CLIENT_GUID)!, PI4_GUID), 0);
    assert.equal(d.delayMs, 0);
    assert.deepEqual(d.effects, [
      { kind: 'detect', identity: PI4_IDENTITY, status: 'approved' },
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.discover', ip: null, xid: req.xid, pxe: true },
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.offered', ip: null, xid: req.xid, pxe: true },
    ]);
    assert.deepEqual(replyDestination(req, r, { localPort: 67 }), { address: '255.255.255.255', port: 68, broadcast: true });
  });

  it('the broadcast flag is set even when the request did not set it, and kept when it did', () => {
    assert.equal(replyOf(decide(discover(PI4, 'pi4', { flags: 0 }), view, cfg)).flags, BROADCAST_FLAG);
    assert.equal(replyOf(decide(discover(PI4, 'pi4', { flags: BROADCAST_FLAG }), view, cfg)).flags, BROADCAST_FLAG);
  });

  it('PXE REQUEST that selected the LAN server (option 54 = router) → no reply (RFC 2131 §4.3.2), the address is learned', () => {
    const req = selecting(PI4, OTHER_SERVER, '10.0.0.77');
    const d = decide(req, view, cfg);
    assertNoReply(d, 'selected-other-server');
    assert.deepEqual(d.effects, [{ kind: 'learn-address', mac: PI4, ip: '10.0.0.77' }]);
  });

  it('PXE REQUEST that selected bramble (option 54 = bramble) → ACK of the same shape, and the address is learned', () => {
    const req = selecting(PI4, SERVER, '10.0.0.77');
    const d = decide(req, view, cfg);
    assertProxyReply(d, req, DhcpMessageType.ACK);
    assert.deepEqual(d.effects, [
      { kind: 'learn-address', mac: PI4, ip: '10.0.0.77' },
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.acked', ip: '10.0.0.77', xid: req.xid, pxe: true },
    ]);
  });

  it('a REQUEST on port 4011 (boot server discovery, ciaddr set) → ACK; the address is learned from ciaddr', () => {
    const req = request({ type: DhcpMessageType.REQUEST, mac: PI4, ciaddr: '10.0.0.77' });
    const d = decide(req, view, cfg, { localPort: 4011 });
    assertProxyReply(d, req, DhcpMessageType.ACK);
    assert.deepEqual(effectsOf(d, 'learn-address'), [{ kind: 'learn-address', mac: PI4, ip: '10.0.0.77' }]);
    // PXE 2.1: the boot server answers to the request's source.
    assert.deepEqual(replyDestination(req, replyOf(d), { localPort: 4011, peer: { address: '10.0.0.77', port: 4011 } }), {
      address: '10.0.0.77',
      port: 4011,
      broadcast: false,
    });
  });

  it('a DISCOVER on port 4011 → ACK (not OFFER)', () => {
    assertProxyReply(decide(discover(PI4), view, cfg, { localPort: 4011 }), discover(PI4), DhcpMessageType.ACK);
  });

  it('non-PXE REQUEST of the booted OS with option 50 → no reply, only a learn-address effect', () => {
    const d = decide(initReboot(PI4, '10.0.0.77', 'os'), view, cfg);
    assert.deepEqual(d, { reply: null, drop: 'not-pxe', delayMs: 0, effects: [{ kind: 'learn-address', mac: PI4, ip: '10.0.0.77' }] });
  });

  it('non-PXE RENEWING of the booted OS → no reply, the address learned from ciaddr', () => {
    const d = decide(renewing(PI4, '10.0.0.77', 'os'), view, cfg);
    assert.deepEqual(d, { reply: null, drop: 'not-pxe', delayMs: 0, effects: [{ kind: 'learn-address', mac: PI4, ip: '10.0.0.77' }] });
  });

  it('non-PXE DISCOVER of the booted OS → no reply, nothing learned; its boot fact says pxe: false (not a new boot)', () => {
    const req = discover(PI4, 'os');
    const d = decide(req, view, cfg);
    assertNoReply(d, 'not-pxe');
    assert.deepEqual(kinds(d), ['detect', 'boot-fact']);
    assert.deepEqual(effectsOf(d, 'boot-fact'), [
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.discover', ip: null, xid: req.xid, pxe: false },
    ]);
  });

  it('Pi 3 (b8:27:eb) → the same OFFER (no 97), delayed by the configured Pi 3 delay (default 1000 ms)', () => {
    const req = discover(PI3, 'pi3');
    const d = decide(req, view, cfg);
    assertProxyReply(d, req, DhcpMessageType.OFFER);
    assert.equal(d.delayMs, 1000);
    assert.equal(decide(selecting(PI3, SERVER, '10.0.0.78', 'pi3'), view, cfg).delayMs, 1000);
  });

  it('Pi 3 delay configured 0 → 0; a configured 2500 → 2500; a Pi 4 is never delayed', () => {
    assert.equal(decide(discover(PI3, 'pi3'), view, proxyCfg({}, { pi3ReplyDelayMs: 0 })).delayMs, 0);
    assert.equal(decide(discover(PI3, 'pi3'), view, proxyCfg({}, { pi3ReplyDelayMs: 2500 })).delayMs, 2500);
    assert.equal(decide(discover(PI4), view, proxyCfg({}, { pi3ReplyDelayMs: 2500 })).delayMs, 0);
  });

  it('DECLINE and RELEASE → no reply, nothing bound, released or learned', () => {
    for (const req of [decline(PI4, '10.0.0.77', 'pi4'), release(PI4, '10.0.0.77', 'pi4')]) {
      const d = decide(req, view, cfg);
      assert.deepEqual(d, { reply: null, drop: 'not-answered', delayMs: 0, effects: [] }, `message type ${messageType(req)}`);
    }
  });

  it('proxy mode hands out no address even when a full-mode range is configured', () => {
    const r = replyOf(decide(discover(PI4), view, proxyCfg()));
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.options.has(DhcpOption.LEASE_TIME), false);
  });

  it('a relayed request: giaddr copied into the reply (RFC 2131 §4.3.1 table 3)', () => {
    const req = discover(PI4, 'pi4', { giaddr: '10.9.0.1' });
    assert.equal(replyOf(decide(req, view, cfg)).giaddr, '10.9.0.1');
  });
});

// =============================================================================================

describe('full mode: DISCOVER → OFFER (RFC 2131 §4.3.1)', () => {
  it('an approved Pi 4 PXE DISCOVER → OFFER from the range: siaddr, 1, 3, 6, 28, 51, 54, 58, 59, PXE options; the address held', () => {
    const req = discover(PI4);
    const d = decide(req, approvedView(PI4), fullCfg());
    const r = replyOf(d);
    assert.equal(messageType(r), DhcpMessageType.OFFER);
    assert.equal(r.yiaddr, RANGE_START);
    assert.equal(r.siaddr, SERVER);
    assert.equal(r.ciaddr, '0.0.0.0');
    assert.equal(r.xid, req.xid);
    assertLeaseOptions(r);
    assertPxeOptions(r, req);
    assert.deepEqual(codes(r), sorted([...LEASE_CODES, ...PXE_CODES]));
    assert.equal(r.options.has(DhcpOption.REQUESTED_IP), false, 'table 3: requested IP MUST NOT');
    assert.equal(d.delayMs, 0);
    assert.deepEqual(d.effects, [
      { kind: 'detect', identity: PI4_IDENTITY, status: 'approved' },
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.discover', ip: null, xid: req.xid, pxe: true },
      { kind: 'offer', mac: PI4, ip: RANGE_START, until: NOW + OFFER_HOLD_MS },
      { kind: 'boot-fact', mac: PI4, stage: 'dhcp.offered', ip: RANGE_START, xid: req.xid, pxe: true },
    ]);
  });

  it('no PXE options when the request had no option 60 PXEClient (the booted OS)', () => {
    const r = replyOf(decide(discover(PI4, 'os'), approvedView(PI4), fullCfg()));
    assert.deepEqual(codes(r), sorted(LEASE_CODES));
    assert.equal(r.yiaddr, RANGE_START);
  });

  it('a Pi 3 OFFER (the ROM uses it without a REQUEST) is delayed by the Pi 3 delay; 0 when configured 0', () => {
    const view = approvedView(PI3);
    const d = decide(discover(PI3, 'pi3'), view, fullCfg());
    assert.equal(messageType(replyOf(d)), DhcpMessageType.OFFER);
    assert.equal(d.delayMs, 1000);
    assert.equal(replyOf(d).options.has(DhcpOption.CLIENT_GUID), false);
    assert.equal(decide(discover(PI3, 'pi3'), view, fullCfg({}, { pi3ReplyDelayMs: 0 })).delayMs, 0);
  });

  it('two clients never get the same address while offers are outstanding; the pool runs out; expired offers come back', () => {
    const macs = Array.from({ length: 11 }, (_, i) => pi4Mac(i + 1));
    const view = approvedView(...macs);
    const cfg = fullCfg();
    const offered: string[] = [];
    for (const mac of macs.slice(0, 10)) offered.push(replyOf(step(discover(mac), view, cfg)).yiaddr);
    assert.equal(new Set(offered).size, 10);
    assert.deepEqual(
      offered,
      Array.from({ length: 10 }, (_, i) => `10.0.0.${100 + i}`),
    );
    // The eleventh: every address is held by an outstanding offer, and no binding can be reclaimed.
    const eleventh = decide(discover(macs[10]), view, cfg);
    assertNoReply(eleventh, 'pool-exhausted');
    assert.deepEqual(kinds(eleventh), ['detect', 'boot-fact']);
    // Once the offers have lapsed, the address is free again.
    const later = decide(discover(macs[10]), view, cfg, { now: NOW + OFFER_HOLD_MS + 1 });
    assert.equal(replyOf(later).yiaddr, RANGE_START);
  });

  it('a client DISCOVERing again gets the address it was offered', () => {
    const view = approvedView(pi4Mac(1), pi4Mac(2));
    const cfg = fullCfg();
    step(discover(pi4Mac(1)), view, cfg);
    step(discover(pi4Mac(2)), view, cfg);
    assert.equal(replyOf(step(discover(pi4Mac(2)), view, cfg, { now: NOW + 5000 })).yiaddr, '10.0.0.101');
  });

  it('a client with a binding is offered its bound address', () => {
    const view = viewOf(detected(PI4), approved(PI4), leaseBound(PI4, '10.0.0.105', NOW - 60_000));
    assert.equal(replyOf(decide(discover(PI4), view, fullCfg())).yiaddr, '10.0.0.105');
  });

  it('the requested address (option 50) is honoured when free', () => {
    const d = decide(discover(PI4, 'os', { requested: '10.0.0.107' }), approvedView(PI4), fullCfg());
    assert.equal(replyOf(d).yiaddr, '10.0.0.107');
  });

  it('the requested address is not honoured when bound to another client, offered to another, outside the range, or declined', () => {
    const other = pi4Mac(9);
    const view = viewOf(detected(PI4), approved(PI4), detected(other), approved(other), leaseBound(other, '10.0.0.107', NOW - 60_000));
    const cfg = fullCfg();
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: '10.0.0.107' }), view, cfg)).yiaddr, RANGE_START);
    view.offer(other, '10.0.0.108', NOW + 10_000);
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: '10.0.0.108' }), view, cfg)).yiaddr, RANGE_START);
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: '10.0.0.50' }), view, cfg)).yiaddr, RANGE_START);
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: '192.168.1.105' }), view, cfg)).yiaddr, RANGE_START);
    feed(view, addressDeclined(other, '10.0.0.106', NOW - 1000));
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: '10.0.0.106' }), view, cfg)).yiaddr, RANGE_START);
  });

  it('a fixed address (settings.plugins.dhcp.fixedAddresses) is always offered to its owner, even outside the range', () => {
    const cfg = fullCfg({}, { fixedAddresses: { [PI4]: '10.0.0.7' } });
    const view = approvedView(PI4);
    const d = decide(discover(PI4, 'pi4', { requested: '10.0.0.103' }), view, cfg);
    assert.equal(replyOf(d).yiaddr, '10.0.0.7');
    assert.deepEqual(effectsOf(d, 'offer'), [{ kind: 'offer', mac: PI4, ip: '10.0.0.7', until: NOW + OFFER_HOLD_MS }]);
    // Even with an old dynamic binding of its own.
    feed(view, leaseBound(PI4, '10.0.0.104', NOW - 60_000));
    assert.equal(replyOf(decide(discover(PI4), view, cfg)).yiaddr, '10.0.0.7');
  });

  it('a fixed address inside the range is never offered to anyone else, even when asked for', () => {
    const owner = pi4Mac(1);
    const cfg = fullCfg({}, { fixedAddresses: { [owner]: RANGE_START } });
    const view = approvedView(owner, PI4);
    assert.equal(replyOf(decide(discover(PI4), view, cfg)).yiaddr, '10.0.0.101');
    assert.equal(replyOf(decide(discover(PI4, 'os', { requested: RANGE_START }), view, cfg)).yiaddr, '10.0.0.101');
    assert.equal(addressAvailable(RANGE_START, PI4, view, cfg, NOW), false);
    assert.equal(addressAvailable(RANGE_START, owner, view, cfg, NOW), true);
    assertNak(decide(selecting(PI4, SERVER, RANGE_START), view, cfg), selecting(PI4, SERVER, RANGE_START));
  });

  it('a fixed address held dynamically by another client is taken back for its owner (release reclaimed)', () => {
    const owner = pi4Mac(1);
    const squatter = pi4Mac(2);
    const cfg = fullCfg({}, { fixedAddresses: { [owner]: '10.0.0.103' } });
    const view = viewOf(
      detected(owner),
      approved(owner),
      detected(squatter),
      approved(squatter),
      leaseBound(squatter, '10.0.0.103', NOW - 60_000),
    );
    const d = decide(discover(owner), view, cfg);
    assert.equal(replyOf(d).yiaddr, '10.0.0.103');
    assert.deepEqual(effectsOf(d, 'release'), [{ kind: 'release', mac: squatter, ip: '10.0.0.103', reason: 'reclaimed' }]);
    // The release comes before the offer, so applying them in order leaves a consistent view.
    assert.ok(kinds(d).indexOf('release') < kinds(d).indexOf('offer'));
    applyEffects(view, d.effects);
    assert.equal(view.bindings.has(squatter), false);
    assert.equal(view.offeredTo.get('10.0.0.103'), owner);
  });

  it('the server address and the gateway are never offered, even inside the range', () => {
    const cfg = fullCfg({ rangeStart: '10.0.0.1', rangeEnd: '10.0.0.3', gateway: '10.0.0.2' });
    const view = approvedView(pi4Mac(1), pi4Mac(2));
    assert.equal(replyOf(step(discover(pi4Mac(1)), view, cfg)).yiaddr, '10.0.0.3');
    assertNoReply(decide(discover(pi4Mac(2)), view, cfg), 'pool-exhausted');
    // Asked for by name: not honoured.
    assert.equal(addressAvailable('10.0.0.1', pi4Mac(2), view, cfg, NOW), false);
    assert.equal(addressAvailable('10.0.0.2', pi4Mac(2), view, cfg, NOW), false);
  });

  it('the network and broadcast addresses are never offered', () => {
    // A /30: network 10.0.0.0, hosts .1 (bramble) and .2, broadcast .3; the range covers all four.
    const cfg = fullCfg({ rangeStart: '10.0.0.0', rangeEnd: '10.0.0.3', netmask: '255.255.255.252', gateway: null });
    const view = approvedView(pi4Mac(1), pi4Mac(2));
    const first = step(discover(pi4Mac(1)), view, cfg);
    assert.equal(replyOf(first).yiaddr, '10.0.0.2');
    assert.equal(getIp(replyOf(first).options, DhcpOption.BROADCAST_ADDRESS), '10.0.0.3');
    assert.equal(replyOf(first).options.has(DhcpOption.ROUTER), false, 'no gateway configured, no option 3');
    assertNoReply(decide(discover(pi4Mac(2)), view, cfg), 'pool-exhausted');
    assert.equal(addressAvailable('10.0.0.0', pi4Mac(2), view, cfg, NOW), false);
    assert.equal(addressAvailable('10.0.0.3', pi4Mac(2), view, cfg, NOW), false);
  });

  it('pool exhausted by live bindings → pool-exhausted, nothing reclaimed', () => {
    const cfg = fullCfg({ rangeStart: '10.0.0.100', rangeEnd: '10.0.0.101' });
    // Bound 10 minutes ago with a one-hour lease: held (restart rule) until 2 hours after binding.
    const view = viewOf(
      detected(pi4Mac(1)),
      approved(pi4Mac(1)),
      detected(pi4Mac(2)),
      approved(pi4Mac(2)),
      detected(PI4),
      approved(PI4),
      leaseBound(pi4Mac(1), '10.0.0.100', NOW - 600_000),
      leaseBound(pi4Mac(2), '10.0.0.101', NOW - 600_000),
    );
    const d = decide(discover(PI4), view, cfg);
    assertNoReply(d, 'pool-exhausted');
    assert.equal(effectsOf(d, 'release').length, 0);
  });

  it('pool exhausted → the binding that expired longest ago is reclaimed (release reclaimed) and offered', () => {
    const cfg = fullCfg({ rangeStart: '10.0.0.100', rangeEnd: '10.0.0.102' });
    const [a, b, c] = [pi4Mac(1), pi4Mac(2), pi4Mac(3)];
    const view = viewOf(
      ...[a, b, c, PI4].flatMap((m) => [detected(m), approved(m)]),
      leaseBound(a, '10.0.0.100', NOW - 5 * 3_600_000), // expired 3 h ago
      leaseBound(b, '10.0.0.101', NOW - 8 * 3_600_000), // expired 6 h ago: the oldest
      leaseBound(c, '10.0.0.102', NOW - 600_000), // live
    );
    const d = decide(discover(PI4), view, cfg);
    assert.equal(replyOf(d).yiaddr, '10.0.0.101');
    assert.deepEqual(effectsOf(d, 'release'), [{ kind: 'release', mac: b, ip: '10.0.0.101', reason: 'reclaimed' }]);
    assert.ok(kinds(d).indexOf('release') < kinds(d).indexOf('offer'));
  });

  it('a reclaimed address must still be one bramble may hand out (not one outside a range that has since shrunk)', () => {
    // The range was .100–.102; it is now .101–.102. The binding of .100 expired longest ago, but
    // .100 is no longer in the pool: the next oldest expired binding in the pool is reclaimed.
    const cfg = fullCfg({ rangeStart: '10.0.0.101', rangeEnd: '10.0.0.102' });
    const [a, b, c] = [pi4Mac(1), pi4Mac(2), pi4Mac(3)];
    const view = viewOf(
      ...[a, b, c, PI4].flatMap((m) => [detected(m), approved(m)]),
      leaseBound(a, '10.0.0.100', NOW - 8 * 3_600_000),
      leaseBound(b, '10.0.0.101', NOW - 5 * 3_600_000),
      leaseBound(c, '10.0.0.102', NOW - 600_000),
    );
    const d = decide(discover(PI4), view, cfg);
    assert.equal(replyOf(d).yiaddr, '10.0.0.101');
    assert.deepEqual(effectsOf(d, 'release'), [{ kind: 'release', mac: b, ip: '10.0.0.101', reason: 'reclaimed' }]);
    // And the address offered is one its SELECTING REQUEST will be ACKed for.
    applyEffects(view, d.effects);
    assert.equal(messageType(replyOf(decide(selecting(PI4, SERVER, '10.0.0.101'), view, cfg))), DhcpMessageType.ACK);
  });

  it('the binding of a client with a fixed address is never reclaimed for another', () => {
    const cfg = fullCfg({ rangeStart: '10.0.0.100', rangeEnd: '10.0.0.100' }, { fixedAddresses: { [pi4Mac(1)]: '10.0.0.100' } });
    const view = viewOf(
      ...[pi4Mac(1), PI4].flatMap((m) => [detected(m), approved(m)]),
      leaseBound(pi4Mac(1), '10.0.0.100', NOW - 8 * 3_600_000),
    );
    assertNoReply(decide(discover(PI4), view, cfg), 'pool-exhausted');
  });

  it('a declined address is not offered until its hold (10 minutes) has passed', () => {
    const view = viewOf(detected(PI4), approved(PI4), addressDeclined(pi4Mac(7), RANGE_START, NOW));
    const cfg = fullCfg();
    assert.equal(replyOf(decide(discover(PI4), view, cfg)).yiaddr, '10.0.0.101');
    assert.equal(replyOf(decide(discover(PI4), view, cfg, { now: NOW + DECLINE_HOLD_MS + 1 })).yiaddr, RANGE_START);
  });

  it('no range configured → no-range; a client with a fixed address is still served', () => {
    const cfg = fullCfg({ rangeStart: null, rangeEnd: null }, { fixedAddresses: { [pi4Mac(1)]: '10.0.0.7' } });
    const view = approvedView(PI4, pi4Mac(1));
    const d = decide(discover(PI4), view, cfg);
    assertNoReply(d, 'no-range');
    assert.deepEqual(kinds(d), ['detect', 'boot-fact']);
    assert.equal(replyOf(decide(discover(pi4Mac(1)), view, cfg)).yiaddr, '10.0.0.7');
  });

  it('allocate: fixed, then binding, then offer, then requested, then the first free address', () => {
    const cfg = fullCfg();
    const view = viewOf(detected(PI4), approved(PI4));
    assert.deepEqual(allocate(PI4, null, view, cfg, NOW), { ip: RANGE_START, effects: [] });
    assert.deepEqual(allocate(PI4, '10.0.0.108', view, cfg, NOW), { ip: '10.0.0.108', effects: [] });
    view.offer(PI4, '10.0.0.104', NOW + 1000);
    assert.deepEqual(allocate(PI4, '10.0.0.108', view, cfg, NOW), { ip: '10.0.0.104', effects: [] });
    feed(view, leaseBound(PI4, '10.0.0.102', NOW));
    assert.deepEqual(allocate(PI4, '10.0.0.108', view, cfg, NOW), { ip: '10.0.0.102', effects: [] });
    const fixed = fullCfg({}, { fixedAddresses: { [PI4]: '10.0.0.9' } });
    assert.deepEqual(allocate(PI4, '10.0.0.108', view, fixed, NOW), { ip: '10.0.0.9', effects: [] });
  });
});

// =============================================================================================

describe('full mode: REQUEST in each RFC 2131 §4.3.2 state', () => {
  const cfg = fullCfg();
  const OTHER = pi4Mac(9);
  const THIRD = pi4Mac(10);

  /** PI4 and OTHER approved; PI4 offered RANGE_START (as after its DISCOVER). */
  function offered(): DhcpView {
    const view = approvedView(PI4, OTHER);
    const d = step(discover(PI4), view, cfg);
    assert.equal(replyOf(d).yiaddr, RANGE_START);
    return view;
  }

  /** PI4 bound to 10.0.0.105 ten minutes ago, OTHER bound to 10.0.0.106. */
  function bound(): DhcpView {
    return viewOf(
      detected(PI4),
      approved(PI4),
      detected(OTHER),
      approved(OTHER),
      leaseBound(PI4, '10.0.0.105', NOW - 600_000),
      leaseBound(OTHER, '10.0.0.106', NOW - 600_000),
    );
  }

  function assertAck(d: DhcpDecision, req: DhcpPacket, ip: string, persist: boolean): DhcpPacket {
    const r = replyOf(d);
    assert.equal(messageType(r), DhcpMessageType.ACK);
    assert.equal(r.xid, req.xid);
    assert.equal(r.yiaddr, ip);
    assert.equal(r.siaddr, SERVER);
    assert.equal(r.ciaddr, req.ciaddr, "table 3: ciaddr of the ACK is the request's");
    assertLeaseOptions(r);
    const pxe = req.options.has(DhcpOption.VENDOR_CLASS) && getString(req.options, DhcpOption.VENDOR_CLASS)!.startsWith('PXEClient');
    if (pxe) {
      assertPxeOptions(r, req);
    } else {
      for (const code of PXE_CODES) assert.equal(r.options.has(code), false, `option ${code} only for PXE requests`);
    }
    assert.equal(d.delayMs, 0);
    assert.deepEqual(effectsOf(d, 'bind'), [{ kind: 'bind', mac: req.mac!, ip, expiresAt: NOW + LEASE * 1000, persist }]);
    assert.deepEqual(effectsOf(d, 'learn-address'), [{ kind: 'learn-address', mac: req.mac!, ip }]);
    assert.deepEqual(effectsOf(d, 'boot-fact'), [{ kind: 'boot-fact', mac: req.mac!, stage: 'dhcp.acked', ip, xid: req.xid, pxe }]);
    return r;
  }

  describe('SELECTING (server id, requested address, ciaddr 0)', () => {
    it('our server id and the offered address → ACK, a new binding persisted (bind persist=true)', () => {
      const view = offered();
      const req = selecting(PI4, SERVER, RANGE_START);
      const d = step(req, view, cfg);
      assertAck(d, req, RANGE_START, true);
      assert.deepEqual(view.bindings.get(PI4), { mac: PI4, ip: RANGE_START, expiresAt: NOW + LEASE * 1000 });
      assert.equal(view.offers.has(PI4), false, 'the binding replaces the offer');
    });

    it('the same REQUEST again (retransmission) → ACK, persist=false (nothing new to write)', () => {
      const view = offered();
      step(selecting(PI4, SERVER, RANGE_START), view, cfg);
      const again = selecting(PI4, SERVER, RANGE_START);
      assertAck(decide(again, view, cfg, { now: NOW }), again, RANGE_START, false);
    });

    it('our server id, an address bound to someone else → NAK (broadcast), nothing bound', () => {
      const view = bound();
      const req = selecting(PI4, SERVER, '10.0.0.106');
      assertNak(decide(req, view, cfg), req);
    });

    it('our server id, an address outside the range or on another network → NAK', () => {
      const view = offered();
      for (const ip of ['10.0.0.50', '192.168.1.100', SERVER, GATEWAY]) {
        const req = selecting(PI4, SERVER, ip);
        assertNak(decide(req, view, cfg), req);
      }
    });

    it('our server id, an address offered to another client (offer outstanding) → NAK', () => {
      const view = offered();
      const req = selecting(OTHER, SERVER, RANGE_START);
      assertNak(decide(req, view, cfg), req);
    });

    it('a relayed NAK carries the broadcast bit (RFC 2131 §4.3.2) and goes to the relay', () => {
      const view = bound();
      const req = request({ type: DhcpMessageType.REQUEST, mac: PI4, serverId: SERVER, requested: '10.0.0.106', giaddr: '10.9.0.1' });
      const r = replyOf(decide(req, view, cfg));
      assert.equal(messageType(r), DhcpMessageType.NAK);
      assert.equal(r.flags & BROADCAST_FLAG, BROADCAST_FLAG);
      assert.deepEqual(replyDestination(req, r, { localPort: 67 }), { address: '10.9.0.1', port: 67, broadcast: false });
    });

    it('ANOTHER server id → no reply (not a NAK: RFC 2131 §3.1 step 4), the offer withdrawn and its address free again', () => {
      const view = offered();
      const d = step(selecting(PI4, OTHER_SERVER, '10.0.0.200'), view, cfg);
      assertNoReply(d, 'selected-other-server');
      assert.deepEqual(d.effects, [{ kind: 'withdraw-offer', mac: PI4 }]);
      assert.equal(view.offers.has(PI4), false);
      assert.equal(view.offeredTo.has(RANGE_START), false);
      assert.equal(replyOf(decide(discover(OTHER), view, cfg)).yiaddr, RANGE_START);
    });

    it('a fixed address: its owner is ACKed for it, a dynamic holder of it released', () => {
      const fixed = fullCfg({}, { fixedAddresses: { [PI4]: '10.0.0.106' } });
      const view = bound();
      const req = selecting(PI4, SERVER, '10.0.0.106');
      const d = decide(req, view, fixed);
      assertAck(d, req, '10.0.0.106', true);
      assert.deepEqual(effectsOf(d, 'release'), [{ kind: 'release', mac: OTHER, ip: '10.0.0.106', reason: 'reclaimed' }]);
      applyEffects(view, d.effects);
      assert.equal(view.owners.get('10.0.0.106'), PI4);
      assert.equal(view.bindings.has(OTHER), false);
      assert.equal(view.owners.has('10.0.0.105'), false, 'its old address is free');
    });
  });

  describe('INIT-REBOOT (requested address, no server id, ciaddr 0)', () => {
    it("the client's bound address → ACK, persist=false", () => {
      const req = initReboot(PI4, '10.0.0.105');
      assertAck(decide(req, bound(), cfg), req, '10.0.0.105', false);
    });

    it('a PXE INIT-REBOOT gets the PXE options with its ACK', () => {
      const req = request({ type: DhcpMessageType.REQUEST, mac: PI4, fp: 'pi4', requested: '10.0.0.105' });
      assertAck(decide(req, bound(), cfg), req, '10.0.0.105', false);
    });

    it('a wrong address on the right network → NAK', () => {
      for (const ip of ['10.0.0.104', '10.0.0.106', '10.0.0.50']) {
        const req = initReboot(PI4, ip);
        assertNak(decide(req, bound(), cfg), req);
      }
    });

    it('the wrong network → NAK, with or without a record of the client', () => {
      for (const view of [bound(), approvedView(PI4)]) {
        const req = initReboot(PI4, '192.168.1.105');
        assertNak(decide(req, view, cfg), req);
      }
    });

    it('no record of the client → silent (RFC 2131 §4.3.2 "MUST remain silent"), nothing bound', () => {
      const d = decide(initReboot(PI4, '10.0.0.107'), approvedView(PI4), cfg);
      assert.deepEqual(d, { reply: null, drop: 'no-binding', delayMs: 0, effects: [] });
    });

    it('a client with a fixed address and no binding: its fixed address → ACK (persisted), another → NAK', () => {
      const fixed = fullCfg({}, { fixedAddresses: { [PI4]: '10.0.0.7' } });
      const good = initReboot(PI4, '10.0.0.7');
      assertAck(decide(good, approvedView(PI4), fixed), good, '10.0.0.7', true);
      const bad = initReboot(PI4, '10.0.0.107');
      assertNak(decide(bad, approvedView(PI4), fixed), bad);
    });
  });

  describe('RENEWING / REBINDING (ciaddr, no server id, no requested address)', () => {
    it('RENEWING with the bound address → ACK, ciaddr echoed, lease extended, unicast to ciaddr', () => {
      const view = bound();
      const req = renewing(PI4, '10.0.0.105');
      const d = step(req, view, cfg);
      const r = assertAck(d, req, '10.0.0.105', false);
      assert.equal(r.ciaddr, '10.0.0.105');
      assert.equal(view.bindings.get(PI4)!.expiresAt, NOW + LEASE * 1000);
      assert.deepEqual(replyDestination(req, r, { localPort: 67 }), { address: '10.0.0.105', port: 68, broadcast: false });
    });

    it('RENEWING with an address owned by another client → NAK', () => {
      const req = renewing(PI4, '10.0.0.106');
      assertNak(decide(req, bound(), cfg), req);
    });

    it('RENEWING with an address that is not its binding (even a free one) → NAK', () => {
      const req = renewing(PI4, '10.0.0.108');
      assertNak(decide(req, bound(), cfg), req);
    });

    it('REBINDING (broadcast) with the bound address → ACK with ciaddr echoed and the broadcast flag kept', () => {
      const req = rebinding(PI4, '10.0.0.105');
      const r = assertAck(decide(req, bound(), cfg), req, '10.0.0.105', false);
      assert.equal(r.ciaddr, '10.0.0.105');
      assert.equal(r.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    });

    it('REBINDING from another network → NAK', () => {
      const req = rebinding(PI4, '192.168.1.105');
      assertNak(decide(req, bound(), cfg), req);
    });

    it('a REQUEST with neither server id, requested address nor ciaddr → NAK', () => {
      const req = request({ type: DhcpMessageType.REQUEST, mac: PI4, fp: 'os' });
      assertNak(decide(req, bound(), cfg), req);
    });
  });

  describe('DECLINE, RELEASE, INFORM', () => {
    it('DECLINE of the bound address → no reply, a decline effect holding it 10 minutes; then it is offered to no one', () => {
      const view = bound();
      const d = step(decline(PI4, '10.0.0.105'), view, cfg);
      assertNoReply(d, 'not-answered');
      assert.deepEqual(d.effects, [{ kind: 'decline', mac: PI4, ip: '10.0.0.105', until: NOW + DECLINE_HOLD_MS }]);
      assert.equal(view.bindings.has(PI4), false);
      assert.equal(view.owners.has('10.0.0.105'), false);
      feed(view, detected(THIRD));
      feed(view, approved(THIRD));
      for (const mac of [PI4, THIRD]) {
        assert.equal(replyOf(decide(discover(mac, 'os', { requested: '10.0.0.105' }), view, cfg)).yiaddr, RANGE_START);
        assert.equal(addressAvailable('10.0.0.105', mac, view, cfg, NOW + DECLINE_HOLD_MS - 1), false);
      }
      assert.equal(addressAvailable('10.0.0.105', THIRD, view, cfg, NOW + DECLINE_HOLD_MS + 1), true);
    });

    it('DECLINE of the offered address (after the OFFER, before the ACK) → decline effect', () => {
      const view = offered();
      const d = decide(decline(PI4, RANGE_START), view, cfg);
      assert.deepEqual(d.effects, [{ kind: 'decline', mac: PI4, ip: RANGE_START, until: NOW + DECLINE_HOLD_MS }]);
    });

    it("DECLINE of an address that is not the client's → nothing (a client cannot block others' addresses)", () => {
      const d = decide(decline(PI4, '10.0.0.106'), bound(), cfg);
      assert.deepEqual(d, { reply: null, drop: 'not-answered', delayMs: 0, effects: [] });
    });

    it('RELEASE of the bound address → release effect; the address is then free for another client', () => {
      const view = bound();
      const d = step(release(PI4, '10.0.0.105'), view, cfg);
      assertNoReply(d, 'not-answered');
      assert.deepEqual(d.effects, [{ kind: 'release', mac: PI4, ip: '10.0.0.105', reason: 'release' }]);
      feed(view, detected(THIRD));
      feed(view, approved(THIRD));
      assert.equal(replyOf(decide(discover(THIRD, 'os', { requested: '10.0.0.105' }), view, cfg)).yiaddr, '10.0.0.105');
    });

    it("RELEASE of an address that is not the client's → nothing", () => {
      assert.deepEqual(decide(release(PI4, '10.0.0.106'), bound(), cfg), { reply: null, drop: 'not-answered', delayMs: 0, effects: [] });
    });

    it('INFORM → ACK with configuration, ciaddr echoed, no yiaddr, no lease time (RFC 2131 §4.3.5); nothing bound', () => {
      const req = inform(PI4, '10.0.0.105');
      const d = decide(req, bound(), cfg);
      const r = replyOf(d);
      assert.equal(messageType(r), DhcpMessageType.ACK);
      assert.equal(r.yiaddr, '0.0.0.0');
      assert.equal(r.ciaddr, '10.0.0.105');
      for (const code of [DhcpOption.LEASE_TIME, DhcpOption.RENEWAL_TIME, DhcpOption.REBINDING_TIME]) {
        assert.equal(r.options.has(code), false, `option ${code}`);
      }
      assert.equal(getIp(r.options, DhcpOption.SUBNET_MASK), NETMASK);
      assert.equal(getIp(r.options, DhcpOption.ROUTER), GATEWAY);
      assert.deepEqual(getIpList(r.options, DhcpOption.DNS_SERVERS), DNS);
      assert.equal(getIp(r.options, DhcpOption.SERVER_ID), SERVER);
      assert.deepEqual(d.effects, [{ kind: 'learn-address', mac: PI4, ip: '10.0.0.105' }]);
      assert.deepEqual(replyDestination(req, r, { localPort: 67 }), { address: '10.0.0.105', port: 68, broadcast: false });
    });
  });
});

// =============================================================================================

describe('lease times (options 51, 58, 59)', () => {
  for (const seconds of [3600, 7200, 86_400, 3601, 121]) {
    it(`leaseSeconds ${seconds}: 51 = ${seconds}, 58 = half, 59 = 7/8 (whole seconds)`, () => {
      const cfg = fullCfg({ leaseSeconds: seconds });
      const view = approvedView(PI4);
      const offer = replyOf(step(discover(PI4), view, cfg));
      const ack = replyOf(decide(selecting(PI4, SERVER, offer.yiaddr), view, cfg));
      for (const r of [offer, ack]) {
        assert.equal(getUint32(r.options, DhcpOption.LEASE_TIME), seconds);
        assert.equal(getUint32(r.options, DhcpOption.RENEWAL_TIME), Math.floor(seconds / 2));
        assert.equal(getUint32(r.options, DhcpOption.REBINDING_TIME), Math.floor((seconds * 7) / 8));
        assert.ok(getUint32(r.options, DhcpOption.RENEWAL_TIME)! < getUint32(r.options, DhcpOption.REBINDING_TIME)!);
        assert.ok(getUint32(r.options, DhcpOption.REBINDING_TIME)! < seconds);
      }
      assert.equal(effectsOf(decide(selecting(PI4, SERVER, offer.yiaddr), view, cfg), 'bind')[0].expiresAt, NOW + seconds * 1000);
    });
  }
});

// =============================================================================================

describe('end to end: decider + codec', () => {
  it('a full-mode OFFER, encoded for the client, decodes back with every field and option', () => {
    const req = discover(PI4);
    const offer = replyOf(decide(req, approvedView(PI4), fullCfg()));
    const dropped: number[] = [];
    const bytes = encodePacket(offer, { maxSize: replyMaxSize(req), dropped });
    assert.deepEqual(dropped, [], 'every option fits');
    assert.ok(bytes.length >= 300 && bytes.length <= replyMaxSize(req));
    assert.deepEqual(bytes.subarray(236, 240), Buffer.from([0x63, 0x82, 0x53, 0x63]));
    assert.equal(bytes[240], DhcpOption.MESSAGE_TYPE, 'option 53 first');

    const back = decodePacket(bytes);
    assert.equal(back.op, BOOTREPLY);
    assert.equal(back.htype, 1);
    assert.equal(back.hlen, 6);
    assert.equal(back.hops, 0);
    assert.equal(back.xid, req.xid);
    assert.equal(back.secs, 0);
    assert.equal(back.mac, PI4);
    assert.equal(back.ciaddr, '0.0.0.0');
    assert.equal(back.yiaddr, RANGE_START);
    assert.equal(back.siaddr, SERVER);
    assert.equal(back.giaddr, '0.0.0.0');
    assert.equal(back.sname, '');
    assert.equal(back.file, '');
    assert.equal(messageType(back), DhcpMessageType.OFFER);
    assert.deepEqual(codes(back), sorted([...LEASE_CODES, ...PXE_CODES]));
    assertLeaseOptions(back);
    assert.deepEqual(back.options.get(DhcpOption.VENDOR_SPECIFIC), RPI_OPTION43);
    assert.equal(getString(back.options, DhcpOption.VENDOR_CLASS), 'PXEClient');
    assert.deepEqual(back.options.get(DhcpOption.CLIENT_GUID), PI4_GUID);
  });

  it('a proxy OFFER and a NAK encode and decode to the same options', () => {
    const view = approvedView(PI4, pi4Mac(9));
    feed(view, leaseBound(pi4Mac(9), '10.0.0.106', NOW - 1000));
    const req = discover(PI4);
    const nakReq = selecting(PI4, SERVER, '10.0.0.106');
    for (const reply of [replyOf(decide(req, view, proxyCfg())), replyOf(decide(nakReq, view, fullCfg()))]) {
      const back = decodePacket(encodePacket(reply, { maxSize: replyMaxSize(req) }));
      assert.deepEqual(codes(back), codes(reply));
      for (const [code, value] of reply.options) assert.deepEqual(back.options.get(code), value, `option ${code}`);
      assert.equal(back.flags, reply.flags);
      assert.equal(back.yiaddr, reply.yiaddr);
      assert.equal(back.siaddr, reply.siaddr);
    }
  });
});

// =============================================================================================

describe('a whole boot in full mode, as the server runs it', () => {
  it('Pi 4 firmware DORA, then the booted OS INIT-REBOOT and RENEWING keep the same address; another Pi gets another', () => {
    const view = approvedView(PI4, pi4Mac(9));
    const cfg = fullCfg();
    const offer = replyOf(step(discover(PI4), view, cfg));
    const ack = step(selecting(PI4, SERVER, offer.yiaddr), view, cfg);
    assert.equal(effectsOf(ack, 'bind')[0].persist, true);
    const ip = replyOf(ack).yiaddr;
    const later = NOW + 30_000;
    const reboot = step(initReboot(PI4, ip), view, cfg, { now: later });
    assert.equal(replyOf(reboot).yiaddr, ip);
    assert.equal(effectsOf(reboot, 'bind')[0].persist, false);
    const renew = step(renewing(PI4, ip), view, cfg, { now: later + 1_800_000 });
    assert.equal(replyOf(renew).yiaddr, ip);
    assert.equal(view.bindings.get(PI4)!.expiresAt, later + 1_800_000 + LEASE * 1000);
    // The other Pi, meanwhile, never gets that address.
    assert.notEqual(replyOf(step(discover(pi4Mac(9), 'pi4', { requested: ip }), view, cfg, { now: later })).yiaddr, ip);
  });
});

describe('full mode: Pi 3 boot ROM and restarts', () => {
  it('a Pi 3 (which never sends a REQUEST) gets a durable binding from its OFFER; a Pi 4 only an offer', () => {
    const view = approvedView(PI3, PI4);
    const d3 = step(discover(PI3, 'pi3'), view, fullCfg());
    const bind = effectsOf(d3, 'bind');
    assert.equal(bind.length, 1);
    assert.equal(bind[0].ip, replyOf(d3).yiaddr);
    assert.equal(bind[0].persist, true);
    assert.equal(view.bindings.get(PI3)?.ip, replyOf(d3).yiaddr);
    // The address is learnt too: its first TFTP request (bootcode.bin, no serial folder) is known by it.
    assert.deepEqual(effectsOf(d3, 'learn-address'), [{ kind: 'learn-address', mac: PI3, ip: replyOf(d3).yiaddr }]);
    assert.equal(effectsOf(step(discover(PI4), view, fullCfg()), 'learn-address').length, 0);
    // Its next DISCOVER (same address) needs no new record.
    assert.equal(effectsOf(step(discover(PI3, 'pi3'), view, fullCfg(), { now: NOW + 120_000 }), 'bind')[0].persist, false);
    assert.equal(effectsOf(step(discover(PI4), view, fullCfg()), 'bind').length, 0);
  });

  it('after a restart every binding is held at least one more lease time from now', () => {
    const view = viewOf(approved(PI4), leaseBound(PI4, '10.0.0.100', NOW - 10 * LEASE * 1000));
    assert.ok(view.bindings.get(PI4)!.expiresAt < NOW, 'by the events alone it looks expired');
    view.holdAfterRestart(NOW, LEASE);
    assert.equal(view.bindings.get(PI4)!.expiresAt, NOW + LEASE * 1000);
  });
});
