/**
 * A tiny root file system made from the host's own busybox, for tests that chroot into an image
 * without emulation: /bin/busybox (with the shared libraries `ldd` names, at the same paths),
 * /bin/sh and the usual applets as symlinks to it, the folders a chroot needs (proc, sys, dev, tmp,
 * run) and a few files in /etc to change.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const APPLETS = [
  'sh',
  'echo',
  'cat',
  'rm',
  'mkdir',
  'sleep',
  'ls',
  'chmod',
  'touch',
  'mv',
  'cp',
  'true',
  'false',
  'env',
  'id',
  'uname',
  'sort',
  'ln',
  'mkfifo',
];

/** Builds the image in `dir` (which must exist and be empty); returns `dir`. */
export function buildBusyboxImage(dir: string): string {
  const busybox = '/bin/busybox';
  for (const folder of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'opt', 'var/cache/apt', 'usr/share/doc']) {
    mkdirSync(join(dir, folder), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'root'), 0o700);
  copyFileSync(busybox, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const lib of sharedLibraries(busybox)) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib));
  }
  for (const applet of APPLETS) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/hostname'), 'raspberrypi\n');
  writeFileSync(join(dir, 'etc/issue'), 'Raspbian GNU/Linux 12 \\n \\l\n');
  writeFileSync(join(dir, 'etc/motd'), 'The programs included with the Debian GNU/Linux system are free software;\n');
  writeFileSync(join(dir, 'etc/resolv.conf'), 'nameserver 192.0.2.1\n');
  writeFileSync(join(dir, 'var/cache/apt/pkgcache.bin'), 'cache');
  writeFileSync(join(dir, 'usr/share/doc/README'), 'doc');
  return dir;
}

/** Absolute paths of the libraries a dynamically linked program loads (none for a static one). */
function sharedLibraries(program: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [program], { encoding: 'utf8' });
  } catch {
    return []; // "not a dynamic executable"
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}
