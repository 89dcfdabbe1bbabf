/**
 * The user and group names the Pi's own OS already has in its local /etc/passwd and /etc/group,
 * as data, each list with where it was read. reserved-names.ts matches against it.
 *
 * Why: a Pi looks names up with `passwd: files ldap` and `group: files ldap` (nsswitch.conf), and
 * sudo, polkit and udev grant rights by group NAME. A directory group called `sudo` (any gid)
 * would make its members root on every Pi through `%sudo` in /etc/sudoers; a directory user
 * called `pi` is shadowed by the local one, so its password and home silently stop working.
 * Hardware groups (`gpio`, `video`, ...) are given locally at login (pam_group, protocol notes
 * §5.3), never through the directory.
 *
 * The names are copied by hand from the sources below (read 2026-06, not at run time: bramble runs
 * on any Linux, not necessarily Debian). Adding a name only refuses NEW users and groups with it:
 * events already stored keep replaying.
 */

export interface ReservedNameList {
  /** Where the names were read, precise enough to read them again. */
  readonly source: string;
  /** What the names are on the Pi, for the error message (`a system group of the Pi's OS`). */
  readonly kind: 'user' | 'group' | 'user and group';
  readonly names: readonly string[];
}

export interface ReservedPrefix {
  readonly prefix: string;
  readonly source: string;
}

export const RESERVED_NAME_LISTS: readonly ReservedNameList[] = [
  {
    source: 'Debian 12 base-passwd 3.6.1, /usr/share/base-passwd/passwd.master',
    kind: 'user',
    names: [
      'root',
      'daemon',
      'bin',
      'sys',
      'sync',
      'games',
      'man',
      'lp',
      'mail',
      'news',
      'uucp',
      'proxy',
      'www-data',
      'backup',
      'list',
      'irc',
      '_apt',
      'nobody',
    ],
  },
  {
    source: 'Debian 12 base-passwd 3.6.1, /usr/share/base-passwd/group.master (also systemd 252 /usr/lib/sysusers.d/basic.conf)',
    kind: 'group',
    names: [
      'root',
      'daemon',
      'bin',
      'sys',
      'adm',
      'tty',
      'disk',
      'lp',
      'mail',
      'news',
      'uucp',
      'man',
      'proxy',
      'kmem',
      'dialout',
      'fax',
      'voice',
      'cdrom',
      'floppy',
      'tape',
      'sudo',
      'audio',
      'dip',
      'www-data',
      'backup',
      'operator',
      'list',
      'irc',
      'src',
      'shadow',
      'utmp',
      'video',
      'sasl',
      'plugdev',
      'staff',
      'games',
      'users',
      'nogroup',
    ],
  },
  {
    source:
      'RPi-Distro/pi-gen, branch bookworm (4be6bbd0933c900517cb309d4f4f44267d2c2cac): build.sh FIRST_USER_NAME default `pi`; ' +
      'stage2/01-sys-tweaks/01-run.sh `groupadd -f -r` input spi i2c gpio and `adduser pi` to netdev render; ' +
      'stage4/05-print-support/01-run.sh `adduser pi lpadmin`',
    kind: 'user and group',
    names: ['pi', 'input', 'spi', 'i2c', 'gpio', 'netdev', 'render', 'lpadmin'],
  },
  {
    source:
      'RPi-Distro/userconf-pi, branch bookworm (ca2620a35fcc7b8809203fcd30f055fe7c891b49): rename-user `WIZ_USER=rpi-first-boot-wizard`',
    kind: 'user',
    names: ['rpi-first-boot-wizard'],
  },
  {
    source:
      'Debian 12 packages of the Raspberry Pi OS image (pi-gen package lists) and of the LDAP client stack, their ' +
      'maintainer scripts and sysusers.d files: dbus 1.14.10 messagebus; polkitd 122 polkitd; udev 252.39 input sgx kvm render; ' +
      'avahi-daemon 0.8-10 avahi netdev; openssh-server 9.2p1 sshd; nfs-common 2.6.2 statd; lightdm 1.26.0 lightdm; ' +
      'cups-daemon 2.4.2 lpadmin; bluez 5.66 bluetooth; pulseaudio 16.1 pulse pulse-access; rtkit 0.13 rtkit; colord 1.4.6 colord scanner; ' +
      'sane-utils 1.2.1 saned scanner; dnsmasq-base 2.90 dnsmasq; tpm-udev 0.6 tss; usbmuxd 1.1.1 usbmux; geoclue-2.0 2.6.0 geoclue; ' +
      'sddm 0.19.0 sddm; nslcd 0.9.12 nslcd; ssl-cert 1.1.2 ssl-cert',
    kind: 'user and group',
    names: [
      'messagebus',
      'polkitd',
      'input',
      'sgx',
      'kvm',
      'render',
      'avahi',
      'netdev',
      'sshd',
      'statd',
      'lightdm',
      'lpadmin',
      'bluetooth',
      'pulse',
      'pulse-access',
      'rtkit',
      'colord',
      'scanner',
      'saned',
      'dnsmasq',
      'tss',
      'usbmux',
      'geoclue',
      'sddm',
      'nslcd',
      'ssl-cert',
    ],
  },
];

export const RESERVED_PREFIXES: readonly ReservedPrefix[] = [
  {
    prefix: 'systemd-',
    source: 'systemd 252 sysusers.d (systemd-journal, systemd-network, systemd-timesync, systemd-resolve, systemd-coredump, ...)',
  },
  {
    prefix: '_',
    source:
      "Debian's naming of new system accounts (https://wiki.debian.org/AccountHandlingInMaintainerScripts, after Debian Policy " +
      "§9.2.1): base-passwd's `_apt`, openssh-client 9.2p1's `_ssh` group",
  },
];
