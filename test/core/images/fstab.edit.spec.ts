import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertFstab, homeLine, mountPointOf } from '../../../src/core/adapters/images/fstab.edit';
import { BOOKWORM_FSTAB, BULLSEYE_FSTAB } from './fixtures';

const NFS3 = { serverIp: '10.42.0.1', exportPath: '/srv/bramble/homes', nfsVersion: 3 as const };
const none = (): boolean => false;

/** The block for NFSv3 homes when none of the optional folders exist, byte for byte. */
const BLOCK_NFS3 = [
  '# >>> bramble: network boot (this block is rewritten by every conversion) >>>',
  '# The root comes over NFS (cmdline.txt) and is shared read-only: what a running Pi writes goes to RAM.',
  'tmpfs /tmp tmpfs nosuid,nodev,mode=1777,size=25% 0 0',
  'tmpfs /var/tmp tmpfs nosuid,nodev,mode=1777,size=10% 0 0',
  'tmpfs /var/log tmpfs nosuid,nodev,noexec,mode=0755,size=100m 0 0',
  'tmpfs /var/spool tmpfs nosuid,nodev,noexec,mode=0755,size=16m 0 0',
  'tmpfs /var/lib/sudo tmpfs nosuid,nodev,noexec,mode=0711,size=1m 0 0',
  'tmpfs /media tmpfs nosuid,nodev,mode=0755,size=1m 0 0',
  '# /home over NFS: vers= and proto=tcp named (kernel defaults changed over time); hard (a server',
  '# hiccup stalls, never corrupts); nolock on NFSv3 (no statd/lockd on a read-only root; NFSv4 locks',
  '# in-protocol); nosuid,nodev (users write here); _netdev (mounted once the network is up).',
  '10.42.0.1:/srv/bramble/homes /home nfs vers=3,proto=tcp,hard,nolock,nosuid,nodev,noatime,_netdev 0 0',
  '# <<< bramble <<<',
];

describe('convertFstab', () => {
  it('Bookworm: the PARTUUID root and /boot/firmware lines go, proc and comments stay, the block is added', () => {
    const { text, mountPoints, replacedLines } = convertFstab(BOOKWORM_FSTAB, { homes: NFS3, present: none });
    assert.equal(
      text,
      [
        'proc            /proc           proc    defaults          0       0',
        '# a swapfile is not a swap partition, no line here',
        '#   use  dphys-swapfile swap[on|off]  for that',
        '',
        ...BLOCK_NFS3,
        '',
      ].join('\n'),
    );
    assert.deepEqual(mountPoints, ['/tmp', '/var/tmp', '/var/log', '/var/spool', '/var/lib/sudo', '/media', '/home']);
    assert.deepEqual(replacedLines, []);
  });

  it('Bullseye: the /boot line goes the same way', () => {
    const { text } = convertFstab(BULLSEYE_FSTAB, { homes: NFS3, present: none });
    assert.equal(text, convertFstab(BOOKWORM_FSTAB, { homes: NFS3, present: none }).text);
    assert.doesNotMatch(text, /PARTUUID|vfat|ext4/);
  });

  it('removes root and boot lines however they name the partition, and swap lines', () => {
    const original = [
      '/dev/mmcblk0p1 /boot vfat defaults 0 2',
      'LABEL=rootfs / ext4 defaults,noatime 0 1',
      'LABEL=bootfs /boot/firmware/ vfat defaults 0 2',
      'UUID=1234 none swap sw 0 0',
      '/dev/sda1 /mnt/usb ext4 defaults,nofail 0 2',
      '',
    ].join('\n');
    const { text } = convertFstab(original, { homes: null, present: none });
    assert.equal(text.split('\n')[0], '/dev/sda1 /mnt/usb ext4 defaults,nofail 0 2');
    assert.doesNotMatch(text, /mmcblk|LABEL=|swap/);
  });

  it('keeps admin lines it does not know; replaces (and reports) admin lines for folders it mounts', () => {
    const original = `${BOOKWORM_FSTAB}tmpfs /tmp tmpfs defaults 0 0\nnas:/data /data nfs defaults 0 0\n`;
    const { text, replacedLines } = convertFstab(original, { homes: NFS3, present: none });
    assert.deepEqual(replacedLines, ['tmpfs /tmp tmpfs defaults 0 0']);
    assert.match(text, /^nas:\/data \/data nfs defaults 0 0$/m);
    assert.equal(text.match(/ \/tmp /g)?.length, 1);
  });

  it('is idempotent: converting the result again changes nothing, also with other inputs replacing the block', () => {
    const once = convertFstab(BOOKWORM_FSTAB, { homes: NFS3, present: none }).text;
    assert.equal(convertFstab(once, { homes: NFS3, present: none }).text, once);
    const v4 = convertFstab(once, { homes: { ...NFS3, nfsVersion: 4 }, present: none }).text;
    assert.equal(v4.match(/>>> bramble/g)?.length, 1, 'one block, replaced');
    assert.match(v4, /vers=4,proto=tcp,hard,nosuid/);
    assert.equal(convertFstab(v4, { homes: { ...NFS3, nfsVersion: 4 }, present: none }).text, v4);
  });

  it('mounts the optional folders only when the image has them', () => {
    const present = (p: string): boolean => p === '/var/lib/dhcpcd' || p === '/var/lib/systemd/timesync';
    const { text, mountPoints } = convertFstab(BOOKWORM_FSTAB, { homes: null, present });
    assert.match(text, /^tmpfs \/var\/lib\/dhcpcd tmpfs /m);
    assert.match(text, /^tmpfs \/var\/lib\/systemd\/timesync tmpfs /m);
    assert.doesNotMatch(text, /NetworkManager|lightdm|\/var\/lib\/dhcp /);
    assert.ok(mountPoints.includes('/var/lib/dhcpcd'));
  });

  it('a missing fstab gets just the block', () => {
    assert.equal(convertFstab(null, { homes: NFS3, present: none }).text, `${BLOCK_NFS3.join('\n')}\n`);
  });

  it('homeLine: tmpfs without NFS, no nolock on NFSv4', () => {
    assert.equal(homeLine(null), 'tmpfs /home tmpfs nosuid,nodev,mode=0755,size=25% 0 0');
    assert.equal(
      homeLine({ ...NFS3, nfsVersion: 4 }),
      '10.42.0.1:/srv/bramble/homes /home nfs vers=4,proto=tcp,hard,nosuid,nodev,noatime,_netdev 0 0',
    );
  });

  it('mountPointOf reads the second field, unescaping \\040 and dropping a trailing slash', () => {
    assert.deepEqual(mountPointOf('a /my\\040disk/ ext4'), { spec: 'a', file: '/my disk', type: 'ext4' });
    assert.equal(mountPointOf('  # comment'), null);
    assert.equal(mountPointOf(''), null);
  });
});
