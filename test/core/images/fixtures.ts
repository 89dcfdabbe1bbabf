/**
 * Files of stock Raspberry Pi OS images, RECONSTRUCTED FROM MEMORY and the Raspberry Pi
 * documentation (not copied from a downloaded image): the shape matters (PARTUUID lines, the
 * swapfile comment, `/boot/firmware` on Bookworm vs `/boot` on Bullseye, the 010_pi-nopasswd rule),
 * the PARTUUIDs are made up.
 */

/** Raspberry Pi OS Bookworm (2023-10 and later): the boot partition at /boot/firmware. */
export const BOOKWORM_FSTAB = [
  'proc            /proc           proc    defaults          0       0',
  'PARTUUID=4e639091-01  /boot/firmware  vfat    defaults          0       2',
  'PARTUUID=4e639091-02  /               ext4    defaults,noatime  0       1',
  '# a swapfile is not a swap partition, no line here',
  '#   use  dphys-swapfile swap[on|off]  for that',
  '',
].join('\n');

/** Raspberry Pi OS Bullseye and older: the boot partition at /boot. */
export const BULLSEYE_FSTAB = [
  'proc            /proc           proc    defaults          0       0',
  'PARTUUID=738a4d67-01  /boot           vfat    defaults          0       2',
  'PARTUUID=738a4d67-02  /               ext4    defaults,noatime  0       1',
  '# a swapfile is not a swap partition, no line here',
  '#   use  dphys-swapfile swap[on|off]  for that',
  '',
].join('\n');

/** Debian 12's default nsswitch.conf, as Raspberry Pi OS Bookworm ships it. */
export const BOOKWORM_NSSWITCH = [
  '# /etc/nsswitch.conf',
  '#',
  '# Example configuration of GNU Name Service Switch functionality.',
  "# If you have the `glibc-doc-reference' and `info' packages installed, try:",
  '# `info libc "Name Service Switch"\' for information about this file.',
  '',
  'passwd:         files',
  'group:          files',
  'shadow:         files',
  'gshadow:        files',
  '',
  'hosts:          files mdns4_minimal [NOTFOUND=return] dns',
  'networks:       files',
  '',
  'protocols:      db files',
  'services:       db files',
  'ethers:         db files',
  'rpc:            db files',
  '',
  'netgroup:       nis',
  '',
].join('\n');

export const PI_NOPASSWD = 'pi ALL=(ALL) NOPASSWD: ALL\n';

export const DEBIAN_SUDOERS = [
  '#',
  "# This file MUST be edited with the 'visudo' command as root.",
  'Defaults\tenv_reset',
  'Defaults\tmail_badpass',
  'Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
  '',
  '# User privilege specification',
  'root\tALL=(ALL:ALL) ALL',
  '',
  '# Allow members of group sudo to execute any command',
  '%sudo\tALL=(ALL:ALL) ALL',
  '',
  '@includedir /etc/sudoers.d',
  '',
].join('\n');

export const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nslcd:x:105:111:nslcd name service LDAP connection daemon,,,:/run/nslcd:/usr/sbin/nologin',
  'pi:x:1000:1000:,,,:/home/pi:/bin/bash',
  '',
].join('\n');

export const GROUP = ['root:x:0:', 'sudo:x:27:pi', 'users:x:100:', 'nslcd:x:111:', 'pi:x:1000:', ''].join('\n');
