/**
 * Lab PCs next to the Pis, with real clients in lab namespaces: busybox udhcpc posing as a BIOS
 * PXE ROM, a UEFI PXE ROM and iPXE (their options 60, 93, 94, 77), curl fetching what the replies
 * name over TFTP. bramble runs in-process with its DHCP and TFTP plugins (test/support/pc-lab.ts).
 *
 * Full mode: an unknown PC is recorded (model pc-bios / pc-uefi) and gets nothing; approved without
 * an image it still gets nothing; approved with one, its ROM gets an address and its boot file
 * (`<mac>/undionly.kpxe` or `<mac>/ipxe.efi`), iPXE gets `<mac>/bramble.ipxe`, and those files
 * come over TFTP: the iPXE binaries byte for byte from /usr/lib/ipxe, the script naming the image's
 * kernel and initrd, which come too. An ARM64 UEFI ROM is refused (no reply, no record).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { IPXE_DIR, LAB_KERNEL_VERSION, pcLabUnavailable, startPcLab, type PcLab } from '../../support/pc-lab';
import { eventually, recordingLogger } from '../../support/temp';

const skip = pcLabUnavailable();

const BIOS_PC = '00:1b:21:0a:00:01';
const UEFI_PC = '00:1b:21:0a:00:02';
const NEW_PC = '00:1b:21:0a:00:03';
const ARM_PC = '00:1b:21:0a:00:04';

describe('lab PCs in full mode (udhcpc as PXE ROMs, curl over TFTP)', { skip: skip ?? false }, () => {
  let lab: PcLab;
  const log = recordingLogger();

  const clientRecord = (mac: string) => lab.dhcp.core.queries.client(mac);

  before(async () => {
    lab = await startPcLab({ logger: log.logger });
    await lab.dhcpSettings({ mode: 'full', rangeStart: lab.dhcp.ip(100), rangeEnd: lab.dhcp.ip(150), netmask: '255.255.255.0' });
  });
  after(async () => {
    await lab?.close();
  });

  it('an unknown PC is recorded as pc-bios / pc-uefi and gets nothing; approved without an image, still nothing', async () => {
    await lab.addPc('bios', BIOS_PC);
    await lab.addPc('uefi', UEFI_PC);
    const [bios, uefi] = await Promise.all([lab.pxe('bios', 'bios'), lab.pxe('uefi', 'uefi')]);
    assert.equal(bios.bound, undefined, 'no lease for an unknown BIOS PC');
    assert.equal(uefi.bound, undefined, 'no lease for an unknown UEFI PC');
    await eventually(() => clientRecord(BIOS_PC) !== null && clientRecord(UEFI_PC) !== null, 5000, 'the PCs recorded');
    assert.equal(clientRecord(BIOS_PC)?.model, 'pc-bios');
    assert.equal(clientRecord(UEFI_PC)?.model, 'pc-uefi');
    assert.equal(clientRecord(BIOS_PC)?.status, 'pending');

    await lab.approve(BIOS_PC, null);
    const noImage = await lab.pxe('bios', 'bios');
    assert.equal(noImage.bound, undefined, 'approved without an image: nothing to boot, no reply');
  });

  it('approved with an image: the BIOS ROM gets an address and <mac>/undionly.kpxe, byte for byte from the ipxe package', async () => {
    await lab.approve(BIOS_PC);
    const events = await lab.pxe('bios', 'bios');
    assert.ok(events.bound, `a lease (events: ${Object.keys(events).join(', ')})`);
    const bound = events.bound;
    assert.equal(bound.siaddr, lab.serverIp, 'siaddr: the TFTP server');
    assert.equal(bound.boot_file, '00-1b-21-0a-00-01/undionly.kpxe', 'the BOOTP file field');
    assert.equal(bound.bootfile, '00-1b-21-0a-00-01/undionly.kpxe', 'option 67');
    assert.equal(bound.tftp, lab.serverIp, 'option 66');
    assert.equal(bound.opt43, undefined, 'full mode: no PXE option 43 (a plain DHCP offer with a boot file)');
    assert.equal(bound.opt60, undefined, 'full mode: no option 60 PXEClient');

    await lab.setAddress('bios', Number(bound.ip.split('.')[3]));
    const got = await lab.tftp('bios', bound.boot_file);
    assert.ok(got.data, got.stderr);
    assert.ok(got.data.equals(readFileSync(`${IPXE_DIR}/undionly.kpxe`)), 'the package file, byte for byte');
  });

  it('the UEFI ROM gets <mac>/ipxe.efi (an absolute symlink in the package, followed), iPXE gets <mac>/bramble.ipxe', async () => {
    await lab.approve(UEFI_PC);
    const rom = await lab.pxe('uefi', 'uefi');
    assert.equal(rom.bound?.boot_file, '00-1b-21-0a-00-02/ipxe.efi');
    await lab.setAddress('uefi', Number(rom.bound.ip.split('.')[3]));
    const efi = await lab.tftp('uefi', rom.bound.boot_file);
    assert.ok(efi.data, efi.stderr);
    assert.ok(efi.data.equals(readFileSync(`${IPXE_DIR}/ipxe.efi`)), 'ipxe.efi, byte for byte');

    const ipxe = await lab.pxe('uefi', 'ipxe-uefi');
    assert.equal(ipxe.bound?.boot_file, '00-1b-21-0a-00-02/bramble.ipxe', 'iPXE is not given iPXE again');
  });

  it('the script names the image kernel and initrd with the NFS root arguments, and both come over TFTP', async () => {
    const ipxe = await lab.pxe('bios', 'ipxe-bios');
    assert.equal(ipxe.bound?.boot_file, '00-1b-21-0a-00-01/bramble.ipxe');
    const script = await lab.tftp('bios', ipxe.bound.boot_file);
    assert.ok(script.data, script.stderr);
    const text = script.data.toString('utf8');
    const base = `tftp://${lab.serverIp}/00-1b-21-0a-00-01`;
    assert.match(text, /^#!ipxe\n/);
    const kernelLine = text.split('\n').find((l) => l.startsWith('kernel '));
    assert.equal(
      kernelLine,
      `kernel ${base}/vmlinuz-${LAB_KERNEL_VERSION} initrd=initrd.img-${LAB_KERNEL_VERSION} ip=dhcp root=/dev/nfs nfsroot=${lab.serverIp}:${lab.image.root},vers=3,tcp ro rootwait`,
    );
    assert.ok(text.includes(`\ninitrd ${base}/initrd.img-${LAB_KERNEL_VERSION}\nboot\n`), text);

    for (const [url, expected] of [
      [`vmlinuz-${LAB_KERNEL_VERSION}`, lab.image.kernel],
      [`initrd.img-${LAB_KERNEL_VERSION}`, lab.image.initrd],
    ] as const) {
      const got = await lab.tftp('bios', `00-1b-21-0a-00-01/${url}`);
      assert.ok(got.data?.equals(expected), `${url}: ${got.stderr}`);
    }
    const served = log.lines.filter((l) => l.msg === 'file served' && l.mac === BIOS_PC).map((l) => l.file);
    for (const f of ['undionly.kpxe', 'bramble.ipxe', `vmlinuz-${LAB_KERNEL_VERSION}`, `initrd.img-${LAB_KERNEL_VERSION}`]) {
      assert.ok(served.includes(f), `${f} served to the PC (served: ${served.join(', ')})`);
    }
  });

  it('an ARM64 UEFI ROM is refused politely: no reply, no record, one log line naming the architecture', async () => {
    await lab.addPc('arm', ARM_PC);
    const events = await lab.pxe('arm', 'arm64-uefi');
    assert.equal(events.bound, undefined);
    assert.equal(clientRecord(ARM_PC), null, 'not recorded');
    const lines = log.lines.filter((l) => l.mac === ARM_PC && typeof l.architecture === 'string');
    assert.equal(lines.length, 1, 'logged once, though the ROM asked more than once');
    assert.equal(lines[0].architecture, 'ARM 64-bit UEFI');
  });

  it('every observation was recorded: no DHCP or TFTP fact refused by the core', () => {
    const refused = log.lines.filter((l) => /could not record/.test(String(l.msg)));
    assert.deepEqual(refused, []);
  });

  it('a PC of another client is not served: a pending PC cannot fetch iPXE or a script by naming its MAC', async () => {
    await lab.addPc('newpc', NEW_PC);
    await lab.pxe('newpc', 'bios', { tries: 1 });
    await eventually(() => clientRecord(NEW_PC) !== null, 5000, 'the new PC recorded');
    await lab.setAddress('newpc', 90);
    for (const name of ['00-1b-21-0a-00-03/undionly.kpxe', '00-1b-21-0a-00-03/bramble.ipxe', 'undionly.kpxe']) {
      const got = await lab.tftp('newpc', name);
      assert.equal(got.data, null, `${name} refused`);
    }
  });
});
