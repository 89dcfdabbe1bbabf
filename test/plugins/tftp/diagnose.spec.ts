/** The TFTP plugin's diagnosis (pure): the files each Pi generation needs, serial-folder mix-ups. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { piFamily, SerialNotes, tftpFindings, unmetNeeds, type TftpDiagnosisInput } from '../../../src/plugins/tftp/tftp.diagnose';

const PI4_FILES = ['start4.elf', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb', 'kernel8.img', 'config.txt', 'cmdline.txt'];

describe('TFTP diagnosis', () => {
  it('piFamily: by model, else by a MAC prefix that names one family, else unknown', () => {
    assert.equal(piFamily('RPi4', '00:11:22:33:44:55'), 'bcm2711');
    assert.equal(piFamily('CM5', '00:11:22:33:44:55'), 'bcm2712');
    assert.equal(piFamily(null, 'b8:27:eb:00:00:01'), 'bcm2837');
    assert.equal(piFamily(null, 'dc:a6:32:00:00:01'), 'bcm2711');
    assert.equal(piFamily(null, '2c:cf:67:00:00:01'), 'bcm2712');
    assert.equal(piFamily(null, '28:cd:c1:00:00:01'), null, 'this prefix ships on Pi 4 and Pi 5');
    assert.equal(piFamily('pc-bios', '52:54:00:00:00:01'), null);
  });

  it('unmetNeeds, table: each generation against the files of a Pi 4 image, a Pi 5 image and a Pi 3 image', () => {
    const needs = (family: Parameters<typeof unmetNeeds>[0], files: string[]) => unmetNeeds(family, files).map((n) => n.names[0]);
    assert.deepEqual(needs('bcm2711', PI4_FILES), []);
    assert.deepEqual(needs('bcm2711', ['bootcode.bin', 'start.elf', 'fixup.dat', 'kernel7.img']), [
      'start4.elf',
      'fixup4.dat',
      'bcm2711-*.dtb',
      'kernel8.img',
    ]);
    assert.deepEqual(needs('bcm2712', ['bcm2712-rpi-5-b.dtb', 'kernel_2712.img']), ['config.txt']);
    assert.deepEqual(needs('bcm2712', ['config.txt', 'kernel8.img']), ['bcm2712*.dtb']);
    assert.deepEqual(needs('bcm2837', ['start.elf', 'fixup.dat', 'kernel8.img']), ['bootcode.bin']);
    assert.deepEqual(needs('bcm2837', ['bootcode.bin', 'start_x.elf', 'fixup_x.dat', 'kernel.img']), []);
  });

  const input = (over: Partial<TftpDiagnosisInput>): TftpDiagnosisInput => ({
    mac: 'dc:a6:32:01:02:03',
    model: 'RPi4',
    image: { name: 'lab', version: 3, bootFolder: '/srv/lab/v3/boot/firmware' },
    bootFolderNames: PI4_FILES,
    serialNote: null,
    ...over,
  });

  it('a Pi 4 on an image without start4.elf: IMAGE_LACKS_MODEL_FILES naming the file, the image, the version and the folder', () => {
    const [f, ...rest] = tftpFindings(input({ bootFolderNames: PI4_FILES.filter((n) => n !== 'start4.elf') }));
    assert.equal(rest.length, 0);
    assert.equal(f.code, 'IMAGE_LACKS_MODEL_FILES');
    assert.equal(f.severity, 'error');
    assert.match(f.message, /a Pi 4/);
    assert.match(f.message, /start4\.elf or start4x\.elf/);
    assert.doesNotMatch(f.message, /fixup4/);
    assert.match(f.message, /image lab \(version 3\)/);
    assert.match(f.message, /\/srv\/lab\/v3\/boot\/firmware/);
    assert.deepEqual(tftpFindings(input({})), []);
  });

  it('no finding without an image or a known model; an unreadable boot folder is an error', () => {
    assert.deepEqual(tftpFindings(input({ image: null, bootFolderNames: null })), []);
    assert.deepEqual(tftpFindings(input({ model: null, mac: '28:cd:c1:00:00:01', bootFolderNames: [] })), []);
    assert.deepEqual(
      tftpFindings(input({ bootFolderNames: null })).map((f) => f.code),
      ['BOOT_FOLDER_UNREADABLE'],
    );
  });

  it('an EEPROM update left in the boot folder: a warning naming the files', () => {
    const [f] = tftpFindings(input({ bootFolderNames: [...PI4_FILES, 'pieeprom.upd', 'pieeprom.sig', 'recovery.bin'] }));
    assert.equal(f.code, 'EEPROM_UPDATE_IN_BOOT_FOLDER');
    assert.equal(f.severity, 'warning');
    assert.match(f.message, /pieeprom\.upd, pieeprom\.sig, recovery\.bin/);
    assert.deepEqual(tftpFindings(input({ bootFolderNames: [...PI4_FILES, 'recovery.bin'] })), [], 'recovery.bin alone updates nothing');
  });

  it('a PC: no kernel is an error, a kernel without initrd a warning, a missing iPXE binary a warning; a Pi gets none of these', () => {
    const pc = (names: string[], ipxePresent = true) =>
      tftpFindings(
        input({
          model: 'pc-bios',
          mac: '52:54:00:00:00:01',
          bootFolderNames: names,
          ipxe: { dir: '/usr/lib/ipxe', binary: 'undionly.kpxe', present: ipxePresent },
        }),
      ).map((f) => `${f.code}:${f.severity}`);
    assert.deepEqual(pc(['vmlinuz-6.1.0-28-amd64', 'initrd.img-6.1.0-28-amd64', 'config-6.1.0-28-amd64']), []);
    assert.deepEqual(pc(['config-6.1.0-28-amd64']), ['IMAGE_HAS_NO_KERNEL:error']);
    assert.deepEqual(pc(['vmlinuz-6.1.0-28-amd64']), ['IMAGE_HAS_NO_INITRD:warning']);
    assert.deepEqual(pc(['vmlinuz', 'initrd.img'], false), ['IPXE_BINARY_MISSING:warning']);
    const [missing] = tftpFindings(
      input({
        model: 'pc-uefi',
        bootFolderNames: ['vmlinuz', 'initrd.img'],
        ipxe: { dir: '/opt/ipxe', binary: 'ipxe.efi', present: false },
      }),
    );
    assert.match(missing.message, /ipxe\.efi is not in \/opt\/ipxe/);
    assert.deepEqual(tftpFindings(input({ ipxe: { dir: '/x', binary: 'undionly.kpxe', present: false } })), [], 'a Pi needs no iPXE');
  });

  it('SerialNotes: a folder naming another client, a folder that is not the serial on record; nothing for the own serial', () => {
    const notes = new SerialNotes();
    const me = { mac: 'dc:a6:32:00:00:01', serial: '1111aaaa' };
    notes.observe('1111aaaa', 'start4.elf', me, null, 1);
    assert.equal(notes.get(me.mac), null, 'its own folder');
    notes.observe('1111aaaa', 'start4.elf', { mac: me.mac, serial: null }, null, 2);
    assert.equal(notes.get(me.mac), null, 'no serial on record: nothing to compare');
    notes.observe('2222bbbb', 'start4.elf', me, null, 3);
    assert.deepEqual(notes.get(me.mac), { folder: '2222bbbb', file: 'start4.elf', recordedSerial: '1111aaaa', otherMac: null, at: 3 });
    assert.equal(notes.get(me.mac, 4), null, 'older than asked for');
    notes.observe('3333cccc', 'config.txt', me, { mac: 'dc:a6:32:00:00:02' }, 5);
    const [f] = tftpFindings(input({ mac: me.mac, serialNote: notes.get(me.mac) }));
    assert.equal(f.code, 'SERIAL_FOLDER_OF_ANOTHER_CLIENT');
    assert.match(f.message, /3333cccc\/.*dc:a6:32:00:00:02/);
    const [g] = tftpFindings(input({ serialNote: { folder: '2222bbbb', file: 'x', recordedSerial: '1111aaaa', otherMac: null, at: 0 } }));
    assert.equal(g.code, 'SERIAL_FOLDER_MISMATCH');
    assert.equal(g.severity, 'warning');
    notes.observe('4444dddd', 'x', null, null, 6);
    for (let i = 0; i < 4_100; i++) notes.observe('2222bbbb', 'x', { mac: `m${i}`, serial: '1111aaaa' }, null, 10);
    assert.equal(notes.get(me.mac), null, 'bounded: the oldest note was dropped');
  });
});
