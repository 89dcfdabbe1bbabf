/** The emulated models' fingerprints, files and parsers (tools/pi-emulator/profiles.ts, dhcp-client.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePacket, DhcpOption, encodePacket, getParameterList } from '../../../src/plugins/dhcp/dhcp.codec';
import { detectPi } from '../../../src/plugins/dhcp/pi-detection';
import { buildDiscover } from '../../../tools/pi-emulator/dhcp-client';
import {
  clientGuid,
  firmwareFiles,
  kernelFiles,
  parseConfigTxt,
  parseNfsRoot,
  prefixProbeFiles,
  probePrefix,
  PROFILES,
  serialHex,
} from '../../../tools/pi-emulator/profiles';

describe('option 97 (docs/pi-netboot-protocol.md §1.3)', () => {
  it('a Pi 4 sends type 0, "RPi4", its revision, the low MAC bytes and its serial, little-endian', () => {
    assert.equal(
      clientGuid('pi4', 'dc:a6:32:01:36:c2', 0x1a2b3c4d).toString('hex'),
      [
        '00', // type
        '52506934', // "RPi4"
        '1131c000', // revision 0x00c03111, LE
        '320136c2', // MAC bytes 3..6
        '4d3c2b1a', // serial 0x1a2b3c4d, LE
      ].join(''),
    );
  });

  it('a Pi 5 sends "RPi5" and its own revision; a Pi 3B the ROM constant (00 + sixteen 44)', () => {
    const g5 = clientGuid('pi5', '2c:cf:67:00:00:01', 1);
    assert.equal(g5.subarray(1, 5).toString('latin1'), 'RPi5');
    assert.equal(g5.readUInt32LE(5), 0x00d04170);
    assert.equal(clientGuid('pi3b', 'b8:27:eb:00:00:01', 0x12345678).toString('hex'), `00${'44'.repeat(16)}`);
  });
});

describe("the emulated DISCOVERs as bramble's own Pi detection reads them", () => {
  for (const [model, mac, serial, expectModel, expectSerial] of [
    ['pi3b', 'b8:27:eb:00:00:03', 0xdeadbeef, 'RPi3', null],
    ['pi4', 'dc:a6:32:00:00:04', 0x1a2b3c4d, 'RPi4', '1a2b3c4d'],
    ['pi5', '2c:cf:67:00:00:05', 0x00c0ffee, 'RPi5', '00c0ffee'],
  ] as const) {
    it(`${model}: a PXE Pi, model ${expectModel}, serial ${expectSerial ?? 'unknown (the 3B ROM sends none)'}`, () => {
      const packet = decodePacket(encodePacket(buildDiscover({ model, mac, serial }, 0x1234, 0)));
      const id = detectPi(packet);
      assert.ok(id, 'detected as a Pi');
      assert.equal(id.mac, mac);
      assert.equal(id.pxe, true);
      assert.equal(id.arch, 0);
      assert.equal(id.serial, expectSerial);
      if (model !== 'pi3b') assert.equal(id.model, expectModel);
      assert.deepEqual(packet.options.get(DhcpOption.CLIENT_NDI), Buffer.from([1, 2, 1]));
      assert.equal(packet.options.get(DhcpOption.VENDOR_CLASS)?.toString('latin1'), 'PXEClient:Arch:00000:UNDI:002001');
      assert.deepEqual(getParameterList(packet.options), PROFILES[model].parameterList);
    });
  }

  it('the Pi 3B ROM does not ask for options 1 and 3; the Pi 4 does (§1.2)', () => {
    assert.ok(!PROFILES.pi3b.parameterList.includes(1) && !PROFILES.pi3b.parameterList.includes(3));
    assert.ok(PROFILES.pi4.parameterList.includes(1) && PROFILES.pi4.parameterList.includes(3));
  });
});

describe('prefixes and files (§3.1, §3.2)', () => {
  it('the serial prefix is 8 lower-case hex digits; TFTP_PREFIX 1 and 2 give the string and the dashed MAC', () => {
    assert.equal(serialHex(0x765fc593), '765fc593');
    assert.equal(serialHex(0xabc), '00000abc');
    assert.equal(probePrefix('pi4', 0x9ffefdef, 'dc:a6:32:01:36:c2'), '9ffefdef/');
    assert.equal(probePrefix('pi4', 1, 'DC:A6:32:01:36:C2', { kind: 'mac' }), 'dc-a6-32-01-36-c2/');
    assert.equal(probePrefix('pi4', 1, 'dc:a6:32:01:36:c2', { kind: 'string', value: 'tftp_test' }), 'tftp_test/');
    assert.equal(probePrefix('pi4', 1, 'dc:a6:32:01:36:c2', { kind: 'string', value: '' }), '');
    assert.equal(probePrefix('pi4', 1, 'dc:a6:32:01:36:c2', { kind: 'string', value: 'x'.repeat(40) }), `${'x'.repeat(32)}/`);
    // The Pi 3 has no TFTP_PREFIX: always its serial.
    assert.equal(probePrefix('pi3b', 0x44, 'b8:27:eb:00:00:01', { kind: 'mac' }), '00000044/');
  });

  it('each model probes its own file: start.elf (Pi 3), start4.elf then start.elf (Pi 4), config.txt (Pi 5)', () => {
    assert.deepEqual(prefixProbeFiles('pi3b'), ['start.elf']);
    assert.deepEqual(prefixProbeFiles('pi4'), ['start4.elf', 'start.elf']);
    assert.deepEqual(prefixProbeFiles('pi5'), ['config.txt']);
  });

  it('the Pi 3 ROM reads bootcode.bin unprefixed without options; the Pi 5 reads no GPU firmware', () => {
    const pi3 = firmwareFiles('pi3b');
    assert.deepEqual(pi3.beforeProbe[0], { name: 'bootcode.bin', required: true, prefixed: false, tsize: false, stage: 'FIRMWARE' });
    assert.deepEqual(
      firmwareFiles('pi4')
        .afterProbe.filter((f) => f.required)
        .map((f) => f.name),
      ['start4.elf', 'fixup4.dat'],
    );
    assert.ok(!firmwareFiles('pi5').afterProbe.some((f) => /start|fixup/.test(f.name)));
    assert.deepEqual(
      firmwareFiles('pi5').afterProbe.map((f) => f.name),
      ['config.txt'],
    );
  });

  it('kernel files follow config.txt: kernel=, initramfs, device_tree in [all] and the model section only', () => {
    const text =
      '[all]\narm_64bit=1\n[pi4]\nkernel=kernel-pi4.img\n[pi5]\nkernel=kernel-pi5.img\n[cm4]\ninitramfs wrong.img\n[all]\ninitramfs initrd.img followkernel # note\n';
    assert.deepEqual(parseConfigTxt(text, 'pi4'), { kernel: 'kernel-pi4.img', initramfs: 'initrd.img', deviceTree: null });
    assert.deepEqual(parseConfigTxt(text, 'pi3b'), { kernel: null, initramfs: 'initrd.img', deviceTree: null });
    assert.deepEqual(
      kernelFiles('pi4', parseConfigTxt(text, 'pi4')).map((f) => f.name),
      ['bcm2711-rpi-4-b.dtb', 'cmdline.txt', 'kernel-pi4.img', 'initrd.img'],
    );
    const pi5 = kernelFiles('pi5', parseConfigTxt('', 'pi5'));
    assert.deepEqual(
      pi5.map((f) => [f.name, f.required, f.unlessLoaded ?? null]),
      [
        ['bcm2712-rpi-5-b.dtb', true, null],
        ['cmdline.txt', true, null],
        ['kernel_2712.img', false, null],
        ['kernel8.img', true, 'kernel_2712.img'],
      ],
    );
    assert.equal(kernelFiles('pi3b', parseConfigTxt('device_tree=my.dtb\n', 'pi3b'))[0].name, 'my.dtb');
  });

  it('nfsroot= of cmdline.txt: server, path, options; the last one wins; absent or malformed gives null', () => {
    assert.deepEqual(parseNfsRoot('ip=dhcp root=/dev/nfs nfsroot=10.0.0.1:/srv/images/pi-os/v2,vers=3,tcp ro rootwait\n'), {
      server: '10.0.0.1',
      path: '/srv/images/pi-os/v2',
      options: ['vers=3', 'tcp'],
    });
    assert.deepEqual(parseNfsRoot('nfsroot=10.0.0.1:/a nfsroot=10.0.0.2:/b'), { server: '10.0.0.2', path: '/b', options: [] });
    assert.equal(parseNfsRoot('root=/dev/mmcblk0p2 rootwait'), null);
    assert.equal(parseNfsRoot('nfsroot=/srv/no-server'), null);
  });
});
