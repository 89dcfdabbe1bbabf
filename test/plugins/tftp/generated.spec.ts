/**
 * The generated boot files (tftp.generated.ts): cmdline.txt for an NFS root and config.txt with a
 * Pi's own lines. Sources: docs/pi-netboot-protocol.md §5.1, §5.2.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_TXT_MARKER, renderCmdline, renderConfigTxt, splitKernelArgs } from '../../../src/plugins/tftp/tftp.generated';

/** A stock Raspberry Pi OS Bookworm cmdline.txt, as on the image (first boot). */
const BOOKWORM =
  'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet ' +
  'init=/usr/lib/raspberrypi-sys-mods/firstboot splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB\n';

const NFS = { serverIp: '10.0.0.1', exportPath: '/srv/bramble/images/bookworm', extraArgs: '' };
const OURS = 'ip=dhcp root=/dev/nfs nfsroot=10.0.0.1:/srv/bramble/images/bookworm,vers=3,tcp ro rootwait';

describe('renderCmdline', () => {
  it('stock Bookworm line: SD-card root and first-boot hook replaced, the rest kept in order', () => {
    assert.equal(
      renderCmdline(BOOKWORM, NFS),
      'console=serial0,115200 console=tty1 quiet splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB ' + `${OURS}\n`,
    );
  });

  it('an existing ip= and nfsroot= (a line already made for NFS) are replaced, not doubled', () => {
    const original =
      'console=tty1 root=/dev/nfs nfsroot=192.168.1.5:/old,v3 ip=192.168.1.50::192.168.1.1:255.255.255.0::eth0:off rw rootwait';
    assert.equal(renderCmdline(original, NFS), `console=tty1 ${OURS}\n`);
  });

  it('ro, rw and rootwait appear once, where bramble puts them', () => {
    assert.equal(renderCmdline('ro rootwait quiet rw rootwait', NFS), `quiet ${OURS}\n`);
  });

  it('removes by key whatever the value, and only those keys', () => {
    assert.equal(
      renderCmdline('init= root=LABEL=x rootfstype=btrfs fsck.repair=no rootdelay=5 rootflags=noatime initrd=0x1 ipv6.disable=1', NFS),
      `rootdelay=5 rootflags=noatime initrd=0x1 ipv6.disable=1 ${OURS}\n`,
    );
  });

  it('quoted values stay whole, spaces and quotes included', () => {
    const original = 'console=tty1 dyndbg="file drivers/net/x.c +p" root=/dev/mmcblk0p2 "init=/bin/sh -x" quiet';
    assert.equal(renderCmdline(original, NFS), `console=tty1 dyndbg="file drivers/net/x.c +p" quiet ${OURS}\n`);
  });

  it('an unclosed quote runs to the end of the line, as in the kernel', () => {
    assert.deepEqual(splitKernelArgs('a b="c d e'), ['a', 'b="c d e']);
  });

  it('CRLF and several lines become one line', () => {
    assert.equal(renderCmdline('console=tty1\r\nroot=/dev/mmcblk0p2\r\n\r\nquiet\r\n', NFS), `console=tty1 quiet ${OURS}\n`);
  });

  it('tabs and runs of spaces are one space', () => {
    assert.equal(renderCmdline('  console=tty1\t\tquiet   ', NFS), `console=tty1 quiet ${OURS}\n`);
  });

  it("the client's extra args come last, one line", () => {
    assert.equal(
      renderCmdline(BOOKWORM, { ...NFS, extraArgs: '  video=HDMI-A-1:1920x1080@60\n  systemd.unit=multi-user.target\r\n' }),
      'console=serial0,115200 console=tty1 quiet splash plymouth.ignore-serial-consoles cfg80211.ieee80211_regdom=GB ' +
        `${OURS} video=HDMI-A-1:1920x1080@60 systemd.unit=multi-user.target\n`,
    );
  });

  it('extra args are kept as the admin wrote them (a later rw wins in the kernel), quotes intact', () => {
    assert.equal(renderCmdline('quiet', { ...NFS, extraArgs: 'rw  foo="a  b"' }), `quiet ${OURS} rw foo="a  b"\n`);
  });

  it("arguments after -- are init's: untouched and still after the --", () => {
    assert.equal(
      renderCmdline('console=tty1 root=/dev/sda2 -- single ro', { ...NFS, extraArgs: 'quiet' }),
      `console=tty1 ${OURS} quiet -- single ro\n`,
    );
  });

  it('an empty original gives just the NFS arguments', () => {
    assert.equal(renderCmdline('', NFS), `${OURS}\n`);
    assert.equal(renderCmdline('\n', NFS), `${OURS}\n`);
  });

  it('ends with exactly one newline and has no other', () => {
    const out = renderCmdline(`${BOOKWORM}\n\n`, { ...NFS, extraArgs: 'a\nb\n' });
    assert.ok(out.endsWith('\n'));
    assert.equal(out.indexOf('\n'), out.length - 1);
  });
});

describe('renderConfigTxt', () => {
  const STOCK = '# For more options see config.txt(5)\ndtparam=audio=on\ncamera_auto_detect=1\n\n[cm4]\notg_mode=1\n\n[all]\narm_64bit=1\n';

  it('no extra lines: the original byte for byte', () => {
    assert.equal(renderConfigTxt(STOCK, ''), STOCK);
    assert.equal(renderConfigTxt('dtparam=audio=on', '  \n\r\n'), 'dtparam=audio=on');
    assert.equal(renderConfigTxt('a=1\r\nb=2\r\n', ''), 'a=1\r\nb=2\r\n');
  });

  it('extra lines appended after the marker and [all]', () => {
    assert.equal(
      renderConfigTxt(STOCK, 'hdmi_force_hotplug=1\ndtoverlay=vc4-kms-v3d'),
      `${STOCK}${CONFIG_TXT_MARKER}\n[all]\nhdmi_force_hotplug=1\ndtoverlay=vc4-kms-v3d\n`,
    );
  });

  it('a missing final newline in the original is added', () => {
    assert.equal(renderConfigTxt('arm_64bit=1', 'gpu_mem=128'), `arm_64bit=1\n${CONFIG_TXT_MARKER}\n[all]\ngpu_mem=128\n`);
  });

  it('an original ending inside a [pi4] section: [all] makes the lines apply to every Pi', () => {
    assert.equal(
      renderConfigTxt('[pi4]\narm_boost=1\n', 'gpu_mem=128\n'),
      `[pi4]\narm_boost=1\n${CONFIG_TXT_MARKER}\n[all]\ngpu_mem=128\n`,
    );
  });

  it('CRLF in the extra lines becomes LF; the original is not touched', () => {
    assert.equal(renderConfigTxt('a=1\r\n', 'b=2\r\nc=3\r\n\r\n'), `a=1\r\n${CONFIG_TXT_MARKER}\n[all]\nb=2\nc=3\n`);
  });

  it('an empty original with extra lines', () => {
    assert.equal(renderConfigTxt('', 'gpu_mem=128'), `${CONFIG_TXT_MARKER}\n[all]\ngpu_mem=128\n`);
  });
});
