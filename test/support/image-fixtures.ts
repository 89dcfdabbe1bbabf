/**
 * Small Raspberry Pi OS-style images built in a test, without loop mounts: a root tree with the
 * things an import must keep (owners, odd modes, a symlink, a hard link pair, a device node, a FIFO,
 * a file capability), a disk image of it (sfdisk + mkfs.vfat + mcopy + `mke2fs -d`), and tarballs
 * (GNU tar, or hand-written ustar members for hostile names GNU tar would not write).
 *
 * Needs root (mknod, chown) and: fdisk (sfdisk), dosfstools, mtools, e2fsprogs, xz-utils, gzip,
 * libcap2-bin (setcap). Every path it makes is under the `dir` the caller gives (a mkdtemp folder).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type Codename = 'bookworm' | 'bullseye';

export interface RootTreeOptions {
  codename?: Codename;
  /** Debian architecture written into dpkg's status and the fake ELF headers (default arm64). */
  architecture?: 'arm64' | 'armhf' | 'amd64';
  /** Puts the boot files into the tree (for tarballs): `boot/firmware` (bookworm) or `boot`. Default false. */
  withBootFiles?: boolean;
  /** Device node and FIFO (needs root; default true). */
  specials?: boolean;
  /** Extra regular files: image path → content. */
  files?: Record<string, string | Buffer>;
}

/** What a test can expect of an imported copy of the tree. */
export interface RootTreeManifest {
  root: string;
  /** Image paths (`/usr/bin/ping`) → expected owner and permission bits (incl. setuid/sticky). */
  owners: Record<string, { uid: number; gid: number; mode: number }>;
  symlinks: Record<string, string>;
  hardLinks: [string, string];
  charDevice: { path: string; major: number; minor: number } | null;
  fifo: string | null;
  capability: { path: string; text: string };
  bootFiles: Record<string, string>;
  osRelease: { id: string; versionId: string; versionCodename: string; prettyName: string };
  architecture: string;
}

/** The files of a Raspberry Pi boot partition (small stand-ins with recognisable content). */
export const BOOT_FILES: Record<string, string> = {
  'config.txt': '[all]\narm_64bit=1\nenable_uart=1\n',
  'cmdline.txt': 'console=serial0,115200 console=tty1 root=PARTUUID=abcd-02 rootfstype=ext4 fsck.repair=yes rootwait\n',
  'start4.elf': 'fake start4.elf firmware\n',
  'fixup4.dat': 'fake fixup4.dat\n',
  'kernel8.img': 'fake kernel image\n'.repeat(64),
  'bcm2711-rpi-4-b.dtb': 'fake device tree\n',
  'overlays/vc4-kms-v3d.dtbo': 'fake overlay\n',
};

const ELF_MACHINE: Record<string, { machine: number; is64: boolean; flags: number }> = {
  arm64: { machine: 183, is64: true, flags: 0 },
  armhf: { machine: 40, is64: false, flags: 0x05000400 },
  amd64: { machine: 62, is64: true, flags: 0 },
};

/** The first 64 bytes of an ELF executable of `arch` (enough for the header parsers). */
export function fakeElf(arch: string): Buffer {
  const m = ELF_MACHINE[arch];
  const b = Buffer.alloc(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, m.is64 ? 2 : 1, 1, 1], 0);
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(m.machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeUInt32LE(m.flags, m.is64 ? 48 : 36);
  return b;
}

function run(cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], input, env: { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } });
}

function put(root: string, path: string, content: string | Buffer, mode = 0o644): void {
  const full = join(root, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, content);
  chmodSync(full, mode);
}

/** A small root file system in `<dir>/<name>` (default `root`). */
export function buildRootTree(dir: string, opts: RootTreeOptions = {}, name = 'root'): RootTreeManifest {
  const codename = opts.codename ?? 'bookworm';
  const arch = opts.architecture ?? 'arm64';
  const specials = opts.specials ?? true;
  const root = join(dir, name);
  mkdirSync(root);
  const versionId = codename === 'bookworm' ? '12' : '11';
  const osRelease = {
    id: 'debian',
    versionId,
    versionCodename: codename,
    prettyName: `Debian GNU/Linux ${versionId} (${codename})`,
  };
  put(
    root,
    'usr/lib/os-release',
    `PRETTY_NAME="${osRelease.prettyName}"\nNAME="Debian GNU/Linux"\nVERSION_ID="${versionId}"\nVERSION="${versionId} (${codename})"\nVERSION_CODENAME=${codename}\nID=debian\n`,
  );
  mkdirSync(join(root, 'etc'));
  symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
  put(root, 'etc/hostname', 'raspberrypi\n');
  put(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\n', 0o640);
  chownSync(join(root, 'etc/shadow'), 0, 42);
  const status = ['base-files', 'dash', 'coreutils', 'libc-bin']
    .map((p) => `Package: ${p}\nEssential: yes\nStatus: install ok installed\nArchitecture: ${arch}\nVersion: 1\n`)
    .concat(['Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n'])
    .join('\n');
  put(root, 'var/lib/dpkg/status', status);
  // Merged /usr, as Bookworm: bin -> usr/bin, sh -> dash.
  put(root, 'usr/bin/dash', fakeElf(arch), 0o755);
  put(root, 'usr/bin/env', fakeElf(arch), 0o755);
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('dash', join(root, 'usr/bin/sh'));
  put(root, 'usr/bin/passwd', fakeElf(arch), 0o4755);
  put(root, 'usr/bin/wall', fakeElf(arch), 0o755);
  chownSync(join(root, 'usr/bin/wall'), 0, 5); // before the chmod: chown clears setgid
  chmodSync(join(root, 'usr/bin/wall'), 0o2755);
  put(root, 'usr/bin/ping', fakeElf(arch), 0o755);
  execFileSync('setcap', ['cap_net_raw+ep', join(root, 'usr/bin/ping')]);
  put(root, 'usr/share/doc/a/copyright', 'shared content\n');
  linkSync(join(root, 'usr/share/doc/a/copyright'), join(root, 'usr/share/doc/a/copyright.hardlink'));
  mkdirSync(join(root, 'tmp'));
  chmodSync(join(root, 'tmp'), 0o1777);
  put(root, 'home/pi/.bashrc', 'export PS1=pi\n', 0o640);
  put(root, 'home/pi/notes.txt', 'hello\n', 0o600);
  chmodSync(join(root, 'home/pi'), 0o750);
  for (const p of ['home/pi', 'home/pi/.bashrc', 'home/pi/notes.txt']) chownSync(join(root, p), 1000, 1000);
  symlinkSync('notes.txt', join(root, 'home/pi/link-to-notes'));
  execFileSync('chown', ['-h', '1000:1000', join(root, 'home/pi/link-to-notes')]);
  symlinkSync('/usr/bin/dash', join(root, 'home/pi/absolute-link'));
  mkdirSync(join(root, 'dev'));
  let charDevice: RootTreeManifest['charDevice'] = null;
  let fifo: string | null = null;
  if (specials) {
    execFileSync('mknod', ['-m', '0620', join(root, 'dev/ttyAMA9'), 'c', '204', '73']);
    chownSync(join(root, 'dev/ttyAMA9'), 0, 5);
    chmodSync(join(root, 'dev/ttyAMA9'), 0o620);
    charDevice = { path: '/dev/ttyAMA9', major: 204, minor: 73 };
    execFileSync('mknod', ['-m', '0600', join(root, 'dev/initctl'), 'p']);
    fifo = '/dev/initctl';
  }
  mkdirSync(join(root, 'boot'));
  if (codename === 'bookworm') mkdirSync(join(root, 'boot/firmware'));
  if (opts.withBootFiles) {
    const bootDir = codename === 'bookworm' ? 'boot/firmware' : 'boot';
    for (const [p, content] of Object.entries(BOOT_FILES)) put(root, `${bootDir}/${p}`, content);
  }
  for (const [p, content] of Object.entries(opts.files ?? {})) put(root, p.replace(/^\//, ''), content);
  return {
    root,
    owners: {
      '/usr/bin/passwd': { uid: 0, gid: 0, mode: 0o4755 },
      '/usr/bin/wall': { uid: 0, gid: 5, mode: 0o2755 },
      '/tmp': { uid: 0, gid: 0, mode: 0o1777 },
      '/home/pi': { uid: 1000, gid: 1000, mode: 0o750 },
      '/home/pi/.bashrc': { uid: 1000, gid: 1000, mode: 0o640 },
      '/home/pi/notes.txt': { uid: 1000, gid: 1000, mode: 0o600 },
      '/etc/shadow': { uid: 0, gid: 42, mode: 0o640 },
      ...(charDevice ? { '/dev/ttyAMA9': { uid: 0, gid: 5, mode: 0o620 } } : {}),
      ...(fifo ? { '/dev/initctl': { uid: 0, gid: 0, mode: 0o600 } } : {}),
    },
    symlinks: {
      '/bin': 'usr/bin',
      '/usr/bin/sh': 'dash',
      '/etc/os-release': '../usr/lib/os-release',
      '/home/pi/link-to-notes': 'notes.txt',
      '/home/pi/absolute-link': '/usr/bin/dash',
    },
    hardLinks: ['/usr/share/doc/a/copyright', '/usr/share/doc/a/copyright.hardlink'],
    charDevice,
    fifo,
    capability: { path: '/usr/bin/ping', text: 'cap_net_raw=ep' },
    bootFiles: BOOT_FILES,
    osRelease,
    architecture: arch,
  };
}

/** Bytes of the regular files under `dir` plus 1 KiB per entry (a rough ext4 size). */
function roughSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += 1024;
    if (entry.isDirectory()) total += roughSize(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

export interface DiskImageOptions extends RootTreeOptions {
  /** An existing root tree to use (else one is built with buildRootTree). */
  root?: string;
  /** `xz`: returns `<name>.img.xz` (the .img is removed). */
  compression?: 'none' | 'xz';
  /** Leaves the second partition without a file system (an image IMAGE_INVALID must refuse). */
  noExt4?: boolean;
  /** The partition table (default mbr; gpt puts the same partitions behind a protective MBR). */
  scheme?: 'mbr' | 'gpt';
  /** The ext4 partition's size in MiB (default: the tree's size plus 16 MiB, doubled). */
  rootMiB?: number;
  name?: string;
  /** The boot partition's files (path → content); default BOOT_FILES. */
  bootFiles?: Record<string, string | Buffer>;
}

const MIB = 1024 * 1024;
/** FAT32 needs at least 65525 clusters: 34 MiB with 512-byte clusters. */
const FAT_MIB = 34;

/**
 * A Raspberry Pi OS-style disk image in `dir`: MBR (or GPT), partition 1 FAT32 (type 0c, at 1 MiB) with
 * BOOT_FILES, partition 2 Linux (type 83) with an ext4 file system made by `mke2fs -d` from the
 * root tree. Returns the image's path (.img or .img.xz).
 */
export function buildDiskImage(dir: string, opts: DiskImageOptions = {}): string {
  const name = opts.name ?? 'raspios';
  const root = opts.root ?? buildRootTree(dir, opts, `${name}-root`).root;
  const rootMiB = opts.rootMiB ?? Math.ceil((roughSize(root) + 16 * MIB) / MIB) * 2;
  const img = join(dir, `${name}.img`);
  const bootStart = 1 * MIB;
  const rootStart = bootStart + FAT_MIB * MIB;
  writeFileSync(img, '');
  // GPT keeps a backup table in the last 33 sectors: 1 MiB more.
  run('truncate', ['-s', String(rootStart + rootMiB * MIB + (opts.scheme === 'gpt' ? MIB : 0)), img]);
  const [label, fatType, linuxType] =
    opts.scheme === 'gpt' ? ['gpt', 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', '0FC63DAF-8483-4772-8E79-3D69D8477DE4'] : ['dos', 'c', '83'];
  run(
    'sfdisk',
    ['-q', img],
    `label: ${label}\nstart=${bootStart / 512}, size=${(FAT_MIB * MIB) / 512}, type=${fatType}\nstart=${rootStart / 512}, size=${(rootMiB * MIB) / 512}, type=${linuxType}\n`,
  );
  run('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'bootfs', `--offset=${bootStart / 512}`, img, String(FAT_MIB * 1024)]);
  const fat = `${img}@@${bootStart}`;
  const bootSrc = join(dir, `${name}-bootfiles`);
  for (const [p, content] of Object.entries(opts.bootFiles ?? BOOT_FILES)) put(bootSrc, p, content);
  run('mcopy', ['-s', '-p', '-m', '-i', fat, ...readdirSync(bootSrc).map((f) => join(bootSrc, f)), '::/']);
  if (!opts.noExt4) {
    const ext = join(dir, `${name}-root.ext4`);
    run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, ext, `${rootMiB}M`]);
    run('dd', [`if=${ext}`, `of=${img}`, 'bs=1M', `seek=${rootStart / MIB}`, 'conv=notrunc,sparse', 'status=none']);
    run('rm', ['-f', ext]);
  }
  if (opts.compression === 'xz') {
    run('xz', ['-T2', '-1', '-f', img]);
    return `${img}.xz`;
  }
  return img;
}

export interface TarballOptions extends RootTreeOptions {
  root?: string;
  compression?: 'none' | 'gzip' | 'xz';
  name?: string;
}

/** A root tarball of a tree (built with boot files if none is given): `<name>.tar[.gz|.xz]`. */
export function buildTarball(dir: string, opts: TarballOptions = {}): string {
  const name = opts.name ?? 'rootfs';
  const root = opts.root ?? buildRootTree(dir, { withBootFiles: true, ...opts }, `${name}-root`).root;
  const tar = join(dir, `${name}.tar`);
  run('tar', ['-c', '-f', tar, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-C', root, '.']);
  if (opts.compression === 'xz') {
    run('xz', ['-T2', '-1', '-f', tar]);
    return `${tar}.xz`;
  }
  if (opts.compression === 'gzip') {
    run('gzip', ['-1', '-f', tar]);
    return `${tar}.gz`;
  }
  return tar;
}

/** One ustar member (GNU tar would not write the hostile names a test needs). */
export function ustarMember(
  name: string,
  content: string | Buffer,
  opts: { type?: '0' | '5' | '2'; mode?: number; linkName?: string } = {},
): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  const field = (value: string, at: number, length: number): void => void header.write(value, at, length, 'utf8');
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0') + '\0';
  field(name, 0, 100);
  field(octal(opts.mode ?? (opts.type === '5' ? 0o755 : 0o644), 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(opts.type === '5' || opts.type === '2' ? 0 : data.length, 12), 124, 12);
  field(octal(1_700_000_000, 12), 136, 12);
  field('        ', 148, 8);
  field(opts.type ?? '0', 156, 1);
  if (opts.linkName) field(opts.linkName, 157, 100);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  field(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([header, opts.type === '5' || opts.type === '2' ? Buffer.alloc(0) : padded]);
}

/** A minimal OS root as ustar members plus `extra` members, ended properly: `<dir>/<name>`. */
export function buildRawTarball(dir: string, name: string, extra: Buffer[]): string {
  const members = [
    ustarMember('./', '', { type: '5' }),
    ustarMember('./etc/', '', { type: '5' }),
    ustarMember('./etc/os-release', 'ID=debian\nVERSION_CODENAME=bookworm\n'),
    ustarMember('./usr/', '', { type: '5' }),
    ustarMember('./usr/bin/', '', { type: '5' }),
    ustarMember('./boot/', '', { type: '5' }),
    ustarMember('./boot/firmware/', '', { type: '5' }),
    ustarMember('./boot/firmware/config.txt', 'arm_64bit=1\n'),
    ...extra,
    Buffer.alloc(1024),
  ];
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(members));
  return path;
}
