/**
 * pc-detection.ts: which packets are lab PCs, which architecture, whether iPXE already runs, and
 * the boot file each gets. Byte fixtures captured from QEMU's iPXE ROM and from udhcpc posing as
 * PXE ROMs (test/support/pxe-fixtures.ts), then tables over option 93, option 60 and option 77.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpOption, getString, type DhcpPacket } from '../../../src/plugins/dhcp/dhcp.codec';
import { detectPc, isIpxe, pcBootFile, pxeArchitecture } from '../../../src/plugins/dhcp/pc-detection';
import { detectPi } from '../../../src/plugins/dhcp/pi-detection';
import { pxeFixture, pxeFixtureBytes } from '../../support/pxe-fixtures';

function withOptions(p: DhcpPacket, set: Record<number, Buffer | null>): DhcpPacket {
  const options = new Map(p.options);
  for (const [code, value] of Object.entries(set)) {
    if (value === null) options.delete(Number(code));
    else options.set(Number(code), value);
  }
  return { ...p, options };
}

const arch = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const vendor = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('pc-detection: captured firmware', () => {
  it("QEMU's iPXE ROM: the bytes as captured, not a Pi, a BIOS PC that runs iPXE, given the script", () => {
    const bytes = pxeFixtureBytes('ipxe-qemu-virtio-discover');
    assert.equal(bytes.length, 400);
    assert.equal(bytes.readUInt32BE(236), 0x63825363, 'magic cookie');
    const p = pxeFixture('ipxe-qemu-virtio-discover');
    assert.equal(p.mac, '52:54:00:12:34:56');
    assert.equal(getString(p.options, DhcpOption.VENDOR_CLASS), 'PXEClient:Arch:00000:UNDI:002001');
    assert.deepEqual(p.options.get(DhcpOption.CLIENT_ARCH), Buffer.from([0, 0]));
    assert.deepEqual(p.options.get(DhcpOption.CLIENT_NDI), Buffer.from([1, 2, 1]));
    assert.equal(p.options.get(77)?.toString('latin1'), 'iPXE');
    assert.equal(p.options.get(175)?.length, 48, "iPXE's encapsulated options");
    assert.deepEqual(p.options.get(DhcpOption.CLIENT_GUID), Buffer.alloc(17), 'type 0 and a zero UUID');

    assert.equal(detectPi(p), null, 'the Pi fingerprint (60, 93, 94, 97) but no Pi: not a Pi');
    const d = detectPc(p, null);
    assert.deepEqual(d, {
      kind: 'pc',
      identity: { mac: '52:54:00:12:34:56', serial: null, model: 'pc-bios', via: 'pxe-arch', pxe: true, arch: 0, ipxe: true },
    });
    assert.equal(d?.kind === 'pc' && pcBootFile(d.identity), '52-54-00-12-34-56/bramble.ipxe');
  });

  it('udhcpc as a BIOS PXE ROM → pc-bios, undionly.kpxe; as an x64 UEFI ROM → pc-uefi, ipxe.efi', () => {
    const bios = detectPc(pxeFixture('udhcpc-bios-pxe-discover'), null);
    const uefi = detectPc(pxeFixture('udhcpc-uefi-pxe-discover'), null);
    assert.equal(bios?.kind, 'pc');
    assert.equal(uefi?.kind, 'pc');
    if (bios?.kind !== 'pc' || uefi?.kind !== 'pc') return;
    assert.deepEqual(
      [bios.identity.model, bios.identity.arch, bios.identity.ipxe, pcBootFile(bios.identity)],
      ['pc-bios', 0, false, '00-1b-21-0a-0b-0c/undionly.kpxe'],
    );
    assert.deepEqual(
      [uefi.identity.model, uefi.identity.arch, uefi.identity.ipxe, pcBootFile(uefi.identity)],
      ['pc-uefi', 7, false, '00-1b-21-0a-0b-0c/ipxe.efi'],
    );
  });
});

describe('pc-detection: architectures (option 93, else option 60)', () => {
  const base = pxeFixture('udhcpc-bios-pxe-discover');
  const rows: Array<[string, Record<number, Buffer | null>, string]> = [
    ['93 = 0 → pc-bios', { 93: arch(0) }, 'pc:pc-bios'],
    ['93 = 7 → pc-uefi', { 93: arch(7) }, 'pc:pc-uefi'],
    ['93 = 9 → pc-uefi (RFC 4578 original numbering)', { 93: arch(9) }, 'pc:pc-uefi'],
    ['93 = 6 → refused, x86 32-bit UEFI', { 93: arch(6) }, 'unsupported:x86 32-bit UEFI'],
    ['93 = 10 → refused, ARM 32-bit UEFI', { 93: arch(10) }, 'unsupported:ARM 32-bit UEFI'],
    ['93 = 11 → refused, ARM 64-bit UEFI', { 93: arch(11) }, 'unsupported:ARM 64-bit UEFI'],
    ['93 = 16 → refused, x64 UEFI HTTP boot', { 93: arch(16) }, 'unsupported:x64 UEFI HTTP boot'],
    ['93 = 0x1234 → refused, named by number', { 93: arch(0x1234) }, 'unsupported:type 4660'],
    ['93 lists two: the first counts', { 93: Buffer.from([0, 7, 0, 0]) }, 'pc:pc-uefi'],
    ['93 wins over 60', { 93: arch(7), 60: vendor('PXEClient:Arch:00000:UNDI:002001') }, 'pc:pc-uefi'],
    ['no 93: Arch of 60 (00007)', { 93: null, 60: vendor('PXEClient:Arch:00007:UNDI:003016') }, 'pc:pc-uefi'],
    ['no 93: Arch of 60 (00011)', { 93: null, 60: vendor('PXEClient:Arch:00011:UNDI:003000') }, 'unsupported:ARM 64-bit UEFI'],
    ['no 93, 60 is bare PXEClient', { 93: null, 60: vendor('PXEClient') }, 'unsupported:no architecture given'],
    ['93 one byte (malformed): Arch of 60', { 93: Buffer.from([7]) }, 'pc:pc-bios'],
  ];
  for (const [name, set, expected] of rows) {
    it(name, () => {
      const d = detectPc(withOptions(base, set), null);
      assert.ok(d);
      assert.equal(d.kind === 'pc' ? `pc:${d.identity.model}` : `unsupported:${d.archName}`, expected);
    });
  }

  it('pxeArchitecture reads 93 big-endian', () => {
    assert.equal(pxeArchitecture(withOptions(base, { 93: Buffer.from([0x01, 0x02]) })), 0x0102);
  });
});

describe('pc-detection: iPXE (option 77 user class, option 175)', () => {
  const rows: Array<[string, Record<number, Buffer | null>, boolean]> = [
    ['77 raw "iPXE" (as iPXE sends it)', { 77: vendor('iPXE') }, true],
    ['77 RFC 3004 list [iPXE]', { 77: Buffer.concat([Buffer.from([4]), vendor('iPXE')]) }, true],
    ['77 RFC 3004 list [foo, iPXE]', { 77: Buffer.concat([Buffer.from([3]), vendor('foo'), Buffer.from([4]), vendor('iPXE')]) }, true],
    ['77 "iPXEx"', { 77: vendor('iPXEx') }, false],
    ['77 "ipxe" (case matters, as for dnsmasq)', { 77: vendor('ipxe') }, false],
    ['77 RFC 3004 entry running past the end', { 77: Buffer.from([9, 0x69, 0x50]) }, false],
    ['77 zero-length entry', { 77: Buffer.from([0]) }, false],
    ['no 77, 175 present', { 175: Buffer.from([0xb1, 0x05, 0x01, 0x1a, 0xf4, 0x10, 0x00]) }, true],
    ['neither', {}, false],
  ];
  const base = pxeFixture('udhcpc-bios-pxe-discover');
  for (const [name, set, expected] of rows) {
    it(name, () => assert.equal(isIpxe(withOptions(base, set)), expected));
  }
});

describe("pc-detection: a PC's packets without PXE", () => {
  const os = withOptions(pxeFixture('udhcpc-bios-pxe-discover'), { 60: vendor('udhcp 1.35.0'), 93: null, 94: null });
  it('from a MAC bramble recorded as a PC: that PC, not PXE', () => {
    assert.deepEqual(detectPc(os, { model: 'pc-uefi' }), {
      kind: 'pc',
      identity: { mac: '00:1b:21:0a:0b:0c', serial: null, model: 'pc-uefi', via: 'known', pxe: false, arch: null, ipxe: false },
    });
    assert.equal(detectPc(withOptions(os, { 60: null }), { model: 'pc-bios' })?.kind, 'pc', 'no option 60 at all');
  });
  it('from any other MAC (unknown, or a client of another model): nobody', () => {
    assert.equal(detectPc(os, null), null);
    assert.equal(detectPc(os, { model: null }), null);
    assert.equal(detectPc(os, { model: 'RPi4' }), null);
  });
  it('no Ethernet MAC: nobody, PXE or not', () => {
    assert.equal(detectPc({ ...pxeFixture('udhcpc-bios-pxe-discover'), mac: null }, null), null);
  });
});
