/**
 * tftp.ipxe.ts: which kernel and initrd a PC boots from an image's boot folder, and the iPXE
 * script that loads them (URLs with the client's MAC prefix, the Pi's NFS-root arguments).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseBootImages, compareVersions, renderIpxeScript, type IpxeScriptInput } from '../../../src/plugins/tftp/tftp.ipxe';

describe('compareVersions', () => {
  const ordered = [
    '5.10.0-9-amd64',
    '5.10.0-28-amd64',
    '6.1.0-9-amd64',
    '6.1.0-18-amd64',
    '6.1.0-28-amd64',
    '6.10.0-1-amd64',
    '6.10.0-1-amd64+b1',
  ];
  it('orders Debian kernel versions as numbers, not text', () => {
    const shuffled = [...ordered].reverse();
    shuffled.push(shuffled.shift()!);
    assert.deepEqual(shuffled.sort(compareVersions), ordered);
  });
  it('equal is 0; leading zeros differ only as text', () => {
    assert.equal(compareVersions('6.1.0', '6.1.0'), 0);
    assert.notEqual(compareVersions('6.01', '6.1'), 0);
  });
});

describe('chooseBootImages', () => {
  const rows: Array<[string, string[], ReturnType<typeof chooseBootImages>]> = [
    [
      'the newest version with both files',
      [
        'config-6.1.0-18-amd64',
        'vmlinuz-6.1.0-18-amd64',
        'initrd.img-6.1.0-18-amd64',
        'vmlinuz-6.1.0-9-amd64',
        'initrd.img-6.1.0-9-amd64',
        'System.map-6.1.0-18-amd64',
      ],
      { kernel: 'vmlinuz-6.1.0-18-amd64', initrd: 'initrd.img-6.1.0-18-amd64' },
    ],
    [
      '6.10 is newer than 6.9 (not text order)',
      ['vmlinuz-6.9.0-1-amd64', 'initrd.img-6.9.0-1-amd64', 'vmlinuz-6.10.0-1-amd64', 'initrd.img-6.10.0-1-amd64'],
      { kernel: 'vmlinuz-6.10.0-1-amd64', initrd: 'initrd.img-6.10.0-1-amd64' },
    ],
    [
      'a newer kernel without its initrd (half-installed) loses to a complete pair',
      ['vmlinuz-6.1.0-28-amd64', 'vmlinuz-6.1.0-18-amd64', 'initrd.img-6.1.0-18-amd64'],
      { kernel: 'vmlinuz-6.1.0-18-amd64', initrd: 'initrd.img-6.1.0-18-amd64' },
    ],
    ['no versioned pair: vmlinuz + initrd.img', ['vmlinuz', 'initrd.img', 'grub'], { kernel: 'vmlinuz', initrd: 'initrd.img' }],
    ['vmlinuz alone', ['vmlinuz'], { kernel: 'vmlinuz', initrd: null }],
    [
      'only unpaired versioned kernels: the newest, no initrd',
      ['vmlinuz-5.10.0-9-amd64', 'vmlinuz-6.1.0-9-amd64'],
      { kernel: 'vmlinuz-6.1.0-9-amd64', initrd: null },
    ],
    ['nothing bootable (a Pi image boot folder)', ['kernel8.img', 'start4.elf', 'config.txt', 'cmdline.txt'], null],
    ['empty folder', [], null],
    [
      'names unsafe in a script line or URL are never chosen',
      ['vmlinuz-6.1 boot', 'initrd.img-6.1 boot', 'vmlinuz-6.1$x', 'initrd.img-6.1$x', 'vmlinuz-5.1', 'initrd.img-5.1'],
      { kernel: 'vmlinuz-5.1', initrd: 'initrd.img-5.1' },
    ],
    ['vmlinuz- with no version is not a kernel version', ['vmlinuz-', 'initrd.img-'], null],
  ];
  for (const [name, names, expected] of rows) it(name, () => assert.deepEqual(chooseBootImages(names), expected));
});

describe('renderIpxeScript', () => {
  const input: IpxeScriptInput = {
    serverIp: '10.0.0.1',
    mac: '00:1b:21:0a:00:01',
    bootFolderNames: ['vmlinuz-6.1.0-18-amd64', 'initrd.img-6.1.0-18-amd64'],
    exportPath: '/srv/bramble/images/lab/v3',
    extraArgs: '',
    imageName: 'lab-debian',
    imageVersion: 3,
  };

  it('the whole script: header, kernel with initrd= and the NFS root arguments, initrd, boot', () => {
    assert.deepEqual(renderIpxeScript(input), {
      ok: true,
      kernel: 'vmlinuz-6.1.0-18-amd64',
      initrd: 'initrd.img-6.1.0-18-amd64',
      text: [
        '#!ipxe',
        '# bramble: 00:1b:21:0a:00:01, image lab-debian version 3',
        'kernel tftp://10.0.0.1/00-1b-21-0a-00-01/vmlinuz-6.1.0-18-amd64 initrd=initrd.img-6.1.0-18-amd64 ip=dhcp root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/images/lab/v3,vers=3,tcp ro rootwait',
        'initrd tftp://10.0.0.1/00-1b-21-0a-00-01/initrd.img-6.1.0-18-amd64',
        'boot',
        '',
      ].join('\n'),
    });
  });

  it("the client's own arguments come last (an admin's rw or console= wins)", () => {
    const s = renderIpxeScript({ ...input, extraArgs: '  console=ttyS0,115200n8   rw ' });
    assert.ok(s.ok);
    assert.match(s.text, / ro rootwait console=ttyS0,115200n8 rw\ninitrd /);
  });

  it('no initrd: no initrd= argument and no initrd line', () => {
    const s = renderIpxeScript({ ...input, bootFolderNames: ['vmlinuz'] });
    assert.ok(s.ok);
    assert.doesNotMatch(s.text, /initrd/);
    assert.match(s.text, /^kernel tftp:\/\/10\.0\.0\.1\/00-1b-21-0a-00-01\/vmlinuz ip=dhcp /m);
  });

  it('no kernel: a script that says so and exits 1 (the firmware tries its next boot device)', () => {
    const s = renderIpxeScript({ ...input, bootFolderNames: ['kernel8.img'], imageName: 'pi-os\n${evil}' });
    assert.equal(s.ok, false);
    assert.equal(
      s.text,
      '#!ipxe\n# bramble: 00:1b:21:0a:00:01, image pi-os $ {evil} version 3\necho bramble: the image pi-os $ {evil} has no kernel (vmlinuz-*) in its boot folder\nexit 1\n',
    );
  });
});
