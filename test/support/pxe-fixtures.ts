/**
 * DHCP packets of PC firmware, captured on the wire (test/fixtures/pxe/*.hex, 32 bytes a line):
 *
 * - ipxe-qemu-virtio-discover.hex: the DISCOVER of QEMU's iPXE ROM (Debian ipxe-qemu
 *   1.0.0+git-20190125, efi-virtio.rom, BIOS side, SeaBIOS 1.16, q35, TCG), MAC 52:54:00:12:34:56:
 *   53 = 1, 57 = 1472, 93 = 0 (x86 BIOS), 94 = 1.2.1 (UNDI 2.1), 60 = "PXEClient:Arch:00000:UNDI:002001",
 *   77 = "iPXE" (raw, not RFC 3004), 55 = 23 codes, 175 = iPXE's encapsulated options, 61 = 01 + MAC,
 *   97 = type 0 + 16 zero bytes (no SMBIOS UUID in the VM).
 * - udhcpc-bios-pxe-discover.hex / udhcpc-uefi-pxe-discover.hex: busybox udhcpc posing as a BIOS /
 *   x64 UEFI PXE ROM (`-V PXEClient:Arch:00000:UNDI:002001 -x 0x5d:0000 -x 0x5e:010201`, resp.
 *   `...Arch:00007:UNDI:003016 -x 0x5d:0007 -x 0x5e:010300`), MAC 00:1b:21:0a:0b:0c.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodePacket, type DhcpPacket } from '../../src/plugins/dhcp/dhcp.codec';

/** From dist/test/support back to the repository's test/fixtures (fixtures are not compiled). */
const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'pxe');

export type PxeFixture = 'ipxe-qemu-virtio-discover' | 'udhcpc-bios-pxe-discover' | 'udhcpc-uefi-pxe-discover';

export function pxeFixtureBytes(name: PxeFixture): Buffer {
  return Buffer.from(readFileSync(path.join(FIXTURES, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
}

/** The fixture decoded by bramble's codec (a fresh copy each call: tests may change it). */
export function pxeFixture(name: PxeFixture): DhcpPacket {
  return decodePacket(pxeFixtureBytes(name));
}
