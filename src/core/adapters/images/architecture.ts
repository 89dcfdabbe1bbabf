/**
 * Whether this server can run an image's programs: natively (same architecture as the host), or
 * through qemu-user-static registered in binfmt_misc. Raspberry Pi OS is arm64 or armhf; a bramble
 * server is usually amd64, so `apt install` inside an image needs the emulator.
 *
 * bramble never registers an interpreter itself: binfmt_misc is global to the host (every process,
 * every container), so that is the admin's decision; the error says exactly how.
 *
 * Interpreters need the `F` (fix binary) flag: the kernel then opens the interpreter when it is
 * registered, so it works inside a chroot that has no qemu of its own. Without `F`, it works only if
 * the image itself contains the interpreter at the registered path (checked too).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError, ErrorCode } from '../../domain/shared/domain-error';

/** Node's `process.arch` → Debian's architecture name. */
const DEBIAN_ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'armhf',
  ia32: 'i386',
  riscv64: 'riscv64',
  ppc64: 'ppc64el',
  s390x: 's390x',
};

/** Debian architecture → the qemu-user binary (and binfmt entry `qemu-<name>`) that runs it. */
const QEMU_NAME: Record<string, string> = {
  arm64: 'aarch64',
  armhf: 'arm',
  armel: 'arm',
  amd64: 'x86_64',
  i386: 'i386',
  riscv64: 'riscv64',
  ppc64el: 'ppc64le',
  s390x: 's390x',
};

/** Kernel (`uname -m`) spellings that mean a Debian architecture, accepted too. */
const UNAME_ALIASES: Record<string, string> = { aarch64: 'arm64', x86_64: 'amd64', armv7l: 'armhf', armv6l: 'armhf', i686: 'i386' };

/** Architectures a host runs without emulation, besides its own (the CPU executes them). */
const NATIVE_TOO: Record<string, string[]> = { amd64: ['i386'] };

export function hostDebianArchitecture(nodeArch: string = process.arch): string {
  return DEBIAN_ARCH[nodeArch] ?? nodeArch;
}

/** A binfmt_misc entry as the kernel shows it in `/proc/sys/fs/binfmt_misc/<name>`. */
export interface BinfmtEntry {
  enabled: boolean;
  interpreter: string | null;
  flags: string;
}

export function parseBinfmtEntry(text: string): BinfmtEntry {
  const lines = text.split('\n');
  const value = (key: string): string | null => {
    const line = lines.find((l) => l.startsWith(`${key} `) || l.startsWith(`${key}:`));
    return line === undefined ? null : line.slice(key.length + 1).trim();
  };
  return { enabled: lines[0]?.trim() === 'enabled', interpreter: value('interpreter'), flags: value('flags') ?? '' };
}

/**
 * How programs of `architecture` run here: `native`, or `emulated` through the named binfmt entry.
 * Throws IMAGE_ARCH_UNSUPPORTED (saying how to fix it) when neither works. `null` (unknown) is
 * taken as native: the command then fails on its own with "Exec format error" if it is not.
 */
export function checkArchitecture(
  architecture: string | null,
  options: { hostArchitecture?: string; binfmtDir?: string; imageRoot?: string } = {},
): { mode: 'native' } | { mode: 'emulated'; binfmtEntry: string } {
  const host = options.hostArchitecture ?? hostDebianArchitecture();
  if (architecture !== null) architecture = UNAME_ALIASES[architecture] ?? architecture;
  if (architecture === null || architecture === host || NATIVE_TOO[host]?.includes(architecture)) return { mode: 'native' };
  const qemu = QEMU_NAME[architecture];
  const unsupported = (why: string): DomainError =>
    new DomainError(
      ErrorCode.IMAGE_ARCH_UNSUPPORTED,
      `image architecture ${architecture} cannot run on this ${host} server: ${why}` +
        (qemu
          ? `. To fix, as root on the server: apt-get install qemu-user-static; if /proc/sys/fs/binfmt_misc/register is missing, ` +
            `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; then register the emulator with ` +
            `cat /usr/lib/binfmt.d/qemu-${qemu}.conf > /proc/sys/fs/binfmt_misc/register (or systemctl restart systemd-binfmt)`
          : ''),
    );
  if (!qemu) throw unsupported('no emulator is known for it');
  const binfmtDir = options.binfmtDir ?? '/proc/sys/fs/binfmt_misc';
  const entryPath = join(binfmtDir, `qemu-${qemu}`);
  let entry: BinfmtEntry;
  try {
    entry = parseBinfmtEntry(readFileSync(entryPath, 'utf8'));
  } catch {
    throw unsupported(`no binfmt_misc interpreter qemu-${qemu} is registered (${entryPath} is missing)`);
  }
  if (!entry.enabled) throw unsupported(`the binfmt_misc interpreter qemu-${qemu} is registered but disabled (echo 1 > ${entryPath})`);
  const inImage = entry.interpreter !== null && options.imageRoot !== undefined && existsSync(join(options.imageRoot, entry.interpreter));
  if (!entry.flags.includes('F') && !inImage) {
    throw unsupported(`qemu-${qemu} is registered without the F flag, so it cannot run inside the image's chroot`);
  }
  return { mode: 'emulated', binfmtEntry: `qemu-${qemu}` };
}
