/**
 * The reply decision for lab PCs (dhcp.decider.ts with pc-detection.ts), given / when / then:
 *   given  the core's clients (a Map standing in for ctx.views.clients) and the settings,
 *   when   a PC's request, from the captured firmware fixtures (test/support/pxe-fixtures.ts)
 *          with the message type and options a step of the exchange has,
 *   then   the reply's boot fields and options byte for byte, the drop reason, the effects.
 * Sources: RFC 2131, RFC 4578, PXE 2.1 (proxy offer, boot server ACK on port 4011), dnsmasq's
 * `dhcp-boot` (full mode) and `pxe-service` (proxy mode) replies.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePluginSettings } from '../../../src/core/domain/settings/plugin-settings';
import {
  BROADCAST_FLAG,
  DhcpMessageType,
  DhcpOption,
  decodePacket,
  encodePacket,
  getString,
  ipOption,
  messageType,
  messageTypeOption,
  type DhcpPacket,
} from '../../../src/plugins/dhcp/dhcp.codec';
import { buildDhcpConfig, DhcpSettingsSchema, type DhcpSettings } from '../../../src/plugins/dhcp/dhcp.config';
import { decideDhcp, type DhcpConfig, type DhcpDecision, type DhcpEffect } from '../../../src/plugins/dhcp/dhcp.decider';
import { DhcpView, type DhcpClient } from '../../../src/plugins/dhcp/dhcp.view';
import { pxeFixture, type PxeFixture } from '../../support/pxe-fixtures';

const NOW = Date.parse('2026-03-01T08:00:00.000Z');
const SERVER = '10.0.0.1';
const OTHER = '10.0.0.254';

const BIOS = '00:1b:21:0a:0b:0c';
const VM = '52:54:00:12:34:56';

/** Option 43 of a proxy offer to a PC, as PC_OPTION43 must be, byte for byte. */
const PC_OPTION43_BYTES = Buffer.concat([
  Buffer.from([0x06, 0x01, 0x0b]), // discovery control: no broadcast, no multicast, boot the offered file
  Buffer.from([0x0a, 0x04, 0x00]), // menu prompt, 4 bytes: timeout 0 …
  Buffer.from('PXE', 'latin1'), // … "PXE"
  Buffer.from([0x09, 0x17, 0x00, 0x00, 0x14]), // boot menu, 23 bytes: type 0, 20 characters …
  Buffer.from('bramble network boot', 'latin1'),
  Buffer.from([0xff]),
]);

type Fw = 'bios' | 'uefi' | 'ipxe';
const FIXTURE: Record<Fw, PxeFixture> = {
  bios: 'udhcpc-bios-pxe-discover',
  uefi: 'udhcpc-uefi-pxe-discover',
  ipxe: 'ipxe-qemu-virtio-discover',
};

interface Step {
  type?: DhcpMessageType;
  serverId?: string;
  requested?: string;
  ciaddr?: string;
  /** Replace option 60 (the OS's DHCP client is not PXE). */
  vendor?: string | null;
  /** Option 43 of the request (a boot server REQUEST names its boot item in sub-option 71). */
  opt43?: Buffer;
}

/** A request of this firmware, through the real codec. */
function request(fw: Fw, step: Step = {}): DhcpPacket {
  const p = pxeFixture(FIXTURE[fw]);
  const options = new Map(p.options);
  options.set(DhcpOption.MESSAGE_TYPE, messageTypeOption(step.type ?? DhcpMessageType.DISCOVER));
  if (step.serverId) options.set(DhcpOption.SERVER_ID, ipOption(step.serverId));
  if (step.requested) options.set(DhcpOption.REQUESTED_IP, ipOption(step.requested));
  if (step.vendor === null) options.delete(60);
  else if (step.vendor !== undefined) options.set(60, Buffer.from(step.vendor, 'latin1'));
  if (step.vendor !== undefined) {
    options.delete(93);
    options.delete(94);
    options.delete(77);
    options.delete(175);
  }
  if (step.opt43) options.set(43, step.opt43);
  return decodePacket(encodePacket({ ...p, ciaddr: step.ciaddr ?? '0.0.0.0', options }));
}

function view(clients: Record<string, DhcpClient>): DhcpView {
  const v = new DhcpView();
  v.clients = new Map(Object.entries(clients));
  return v;
}

const approvedWithImage = (model: string | null = null): DhcpClient => ({ status: 'approved', ip: null, imageId: 'img-1', model });

function cfg(mode: 'proxy' | 'full'): DhcpConfig {
  const s = effectivePluginSettings(DhcpSettingsSchema, {
    mode,
    rangeStart: '10.0.0.100',
    rangeEnd: '10.0.0.109',
    netmask: '255.255.255.0',
    gateway: OTHER,
  }) as DhcpSettings;
  return buildDhcpConfig(s, SERVER);
}

function decide(req: DhcpPacket, v: DhcpView, mode: 'proxy' | 'full', localPort = 67): DhcpDecision {
  return decideDhcp(req, { localPort, now: NOW }, v, cfg(mode));
}

function effects<K extends DhcpEffect['kind']>(d: DhcpDecision, kind: K): Array<Extract<DhcpEffect, { kind: K }>> {
  return d.effects.filter((e): e is Extract<DhcpEffect, { kind: K }> => e.kind === kind);
}

function reply(d: DhcpDecision): DhcpPacket {
  assert.equal(d.drop, null, `expected a reply, got drop ${String(d.drop)}`);
  assert.ok(d.reply);
  // Every reply must encode (and decode back to the same boot fields).
  const again = decodePacket(encodePacket(d.reply));
  assert.equal(again.file, d.reply.file);
  return d.reply;
}

const bootFileOf = (mac: string, name: string): string => `${mac.replace(/:/g, '-')}/${name}`;

describe('PC: who gets nothing', () => {
  for (const mode of ['proxy', 'full'] as const) {
    it(`${mode}: an unknown PC is recorded (pc-bios), not answered`, () => {
      const d = decide(request('bios'), view({}), mode);
      assert.equal(d.reply, null);
      assert.equal(d.drop, 'unknown-pc');
      assert.deepEqual(d.effects, [
        {
          kind: 'detect',
          status: 'unknown',
          identity: { mac: BIOS, serial: null, model: 'pc-bios', via: 'pxe-arch', pxe: true, arch: 0, ipxe: false },
        },
      ]);
    });
    it(`${mode}: pending and rejected PCs: nothing, not even a detection`, () => {
      assert.deepEqual(decide(request('bios'), view({ [BIOS]: { status: 'pending', ip: null } }), mode), {
        reply: null,
        drop: 'pending',
        delayMs: 0,
        effects: [],
      });
      assert.deepEqual(decide(request('bios'), view({ [BIOS]: { status: 'rejected', ip: null, imageId: 'img-1' } }), mode), {
        reply: null,
        drop: 'rejected',
        delayMs: 0,
        effects: [],
      });
    });
    it(`${mode}: approved without an image: re-detected and its DISCOVER reported, no reply`, () => {
      const d = decide(request('uefi'), view({ [BIOS]: { status: 'approved', ip: null, imageId: null } }), mode);
      assert.equal(d.reply, null);
      assert.equal(d.drop, 'no-image');
      assert.deepEqual(
        d.effects.map((e) => e.kind),
        ['detect', 'boot-fact'],
      );
      assert.equal(effects(d, 'detect')[0].identity.model, 'pc-uefi');
      assert.deepEqual(effects(d, 'boot-fact')[0], {
        kind: 'boot-fact',
        mac: BIOS,
        stage: 'dhcp.discover',
        ip: null,
        xid: request('uefi').xid,
        pxe: true,
      });
    });
    it(`${mode}: an ARM64 UEFI ROM: refused (unsupported-arch), only the note for the log`, () => {
      const arm = request('bios', {});
      arm.options.set(93, Buffer.from([0, 11]));
      const d = decide(arm, view({ [BIOS]: approvedWithImage('pc-bios') }), mode);
      assert.deepEqual(d, {
        reply: null,
        drop: 'unsupported-arch',
        delayMs: 0,
        effects: [{ kind: 'unsupported-pxe', mac: BIOS, arch: 11, archName: 'ARM 64-bit UEFI' }],
      });
    });
  }
});

describe('PC: full mode (a plain offer with a boot file, as dnsmasq dhcp-boot)', () => {
  for (const [fw, mac, name] of [
    ['bios', BIOS, 'undionly.kpxe'],
    ['uefi', BIOS, 'ipxe.efi'],
    ['ipxe', VM, 'bramble.ipxe'],
  ] as const) {
    it(`${fw}: DISCOVER → OFFER from the pool with siaddr, file, 66, 67 = ${name}; no 43/60`, () => {
      const d = decide(request(fw), view({ [mac]: approvedWithImage() }), 'full');
      const r = reply(d);
      assert.equal(messageType(r), DhcpMessageType.OFFER);
      assert.equal(r.yiaddr, '10.0.0.100');
      assert.equal(r.siaddr, SERVER);
      assert.equal(r.file, bootFileOf(mac, name));
      assert.equal(getString(r.options, DhcpOption.TFTP_SERVER_NAME), SERVER);
      assert.equal(getString(r.options, DhcpOption.BOOTFILE_NAME), bootFileOf(mac, name));
      for (const code of [43, 60, 97]) assert.equal(r.options.has(code), false, `no option ${code}`);
      assert.deepEqual(effects(d, 'boot-fact').at(-1), {
        kind: 'boot-fact',
        mac,
        stage: 'dhcp.offered',
        ip: '10.0.0.100',
        xid: r.xid,
        pxe: true,
        ...(fw === 'ipxe' ? { ipxe: true } : {}),
        bootFile: bootFileOf(mac, name),
      });
    });
  }

  it('REQUEST selecting bramble → ACK with the same boot file, the binding persisted', () => {
    const v = view({ [BIOS]: approvedWithImage() });
    const d = decide(request('bios', { type: DhcpMessageType.REQUEST, serverId: SERVER, requested: '10.0.0.100' }), v, 'full');
    const r = reply(d);
    assert.equal(messageType(r), DhcpMessageType.ACK);
    assert.equal(r.yiaddr, '10.0.0.100');
    assert.equal(r.file, bootFileOf(BIOS, 'undionly.kpxe'));
    assert.deepEqual(effects(d, 'bind')[0], { kind: 'bind', mac: BIOS, ip: '10.0.0.100', expiresAt: NOW + 3600_000, persist: true });
  });

  it("the PC's kernel (no PXE, MAC recorded as pc-bios) → a lease without boot file; an unknown non-PXE MAC → nothing", () => {
    const v = view({ [BIOS]: approvedWithImage('pc-bios') });
    const d = decide(request('bios', { vendor: 'Linux ipconfig' }), v, 'full');
    const r = reply(d);
    assert.equal(r.yiaddr, '10.0.0.100');
    assert.equal(r.file, '');
    for (const code of [43, 60, 66, 67]) assert.equal(r.options.has(code), false, `no option ${code}`);
    assert.equal(effects(d, 'boot-fact')[0].pxe, false);
    assert.equal(decide(request('bios', { vendor: null }), view({ [BIOS]: approvedWithImage(null) }), 'full').drop, 'not-a-pi');
  });

  it('the non-PXE OS of an approved PC is served even without an image (its lease is not a boot file)', () => {
    const v = view({ [BIOS]: { status: 'approved', ip: null, imageId: null, model: 'pc-uefi' } });
    assert.equal(messageType(reply(decide(request('bios', { vendor: 'dhcpcd-10' }), v, 'full'))), DhcpMessageType.OFFER);
  });
});

describe('PC: proxy mode (a proxy offer, then the boot server on port 4011, as dnsmasq pxe-service)', () => {
  it('DISCOVER → proxy OFFER: yiaddr 0, broadcast, siaddr, file, 60 PXEClient, 43 exactly PC_OPTION43', () => {
    const d = decide(request('bios'), view({ [BIOS]: approvedWithImage() }), 'proxy');
    const r = reply(d);
    assert.equal(messageType(r), DhcpMessageType.OFFER);
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.flags & BROADCAST_FLAG, BROADCAST_FLAG);
    assert.equal(r.siaddr, SERVER);
    assert.equal(r.file, bootFileOf(BIOS, 'undionly.kpxe'));
    assert.equal(getString(r.options, DhcpOption.BOOTFILE_NAME), bootFileOf(BIOS, 'undionly.kpxe'));
    assert.equal(getString(r.options, DhcpOption.VENDOR_CLASS), 'PXEClient');
    assert.deepEqual(r.options.get(DhcpOption.VENDOR_SPECIFIC), PC_OPTION43_BYTES);
    assert.equal(r.options.has(DhcpOption.LEASE_TIME), false, 'a proxy offer leases nothing');
    assert.equal(r.options.has(97), false, 'udhcpc sent no GUID: none echoed');
  });

  it("iPXE's DISCOVER → the script; its GUID echoed; its facts say ipxe", () => {
    const d = decide(request('ipxe'), view({ [VM]: approvedWithImage() }), 'proxy');
    const r = reply(d);
    assert.deepEqual(effects(d, 'boot-fact'), [
      { kind: 'boot-fact', mac: VM, stage: 'dhcp.discover', ip: null, xid: r.xid, pxe: true, ipxe: true },
      {
        kind: 'boot-fact',
        mac: VM,
        stage: 'dhcp.offered',
        ip: null,
        xid: r.xid,
        pxe: true,
        ipxe: true,
        bootFile: bootFileOf(VM, 'bramble.ipxe'),
      },
    ]);
    assert.equal(r.file, bootFileOf(VM, 'bramble.ipxe'));
    assert.deepEqual(r.options.get(97), Buffer.alloc(17));
  });

  it('REQUEST to port 4011 (ciaddr set, boot item 71) → ACK with the file, 43 echoing the item; the address learned', () => {
    const item = Buffer.from([0x47, 0x04, 0x00, 0x00, 0x00, 0x00, 0xff]); // type 0, layer 0
    const req = request('uefi', { type: DhcpMessageType.REQUEST, ciaddr: '10.0.0.57', serverId: SERVER, opt43: item });
    const d = decide(req, view({ [BIOS]: approvedWithImage() }), 'proxy', 4011);
    const r = reply(d);
    assert.equal(messageType(r), DhcpMessageType.ACK);
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.file, bootFileOf(BIOS, 'ipxe.efi'));
    assert.deepEqual(r.options.get(DhcpOption.VENDOR_SPECIFIC), item);
    assert.deepEqual(effects(d, 'learn-address'), [{ kind: 'learn-address', mac: BIOS, ip: '10.0.0.57' }]);
  });

  it("iPXE's ProxyDHCP REQUEST to 4011 (no option 43) → ACK with PC_OPTION43 and the script", () => {
    const req = request('ipxe', { type: DhcpMessageType.REQUEST, ciaddr: '10.0.0.58', serverId: SERVER });
    const r = reply(decide(req, view({ [VM]: approvedWithImage() }), 'proxy', 4011));
    assert.equal(r.file, bootFileOf(VM, 'bramble.ipxe'));
    assert.deepEqual(r.options.get(DhcpOption.VENDOR_SPECIFIC), PC_OPTION43_BYTES);
  });

  it("REQUEST on 67 selecting the LAN's server → silent, the address learned from option 50", () => {
    const req = request('bios', { type: DhcpMessageType.REQUEST, serverId: OTHER, requested: '10.0.0.77' });
    const d = decide(req, view({ [BIOS]: approvedWithImage() }), 'proxy');
    assert.equal(d.reply, null);
    assert.equal(d.drop, 'selected-other-server');
    assert.deepEqual(effects(d, 'learn-address'), [{ kind: 'learn-address', mac: BIOS, ip: '10.0.0.77' }]);
  });

  it("the PC's OS (not PXE): no reply, its address learned", () => {
    const req = request('bios', { type: DhcpMessageType.REQUEST, requested: '10.0.0.78', vendor: 'dhcpcd-10' });
    const d = decide(req, view({ [BIOS]: approvedWithImage('pc-bios') }), 'proxy');
    assert.equal(d.drop, 'not-pxe');
    assert.deepEqual(effects(d, 'learn-address'), [{ kind: 'learn-address', mac: BIOS, ip: '10.0.0.78' }]);
  });
});
