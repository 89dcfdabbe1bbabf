/**
 * A stock Debian 12 (bookworm) amd64 root file system that boots diskless over NFS in a VM: the
 * client side of the "real OS boots from bramble" test (test/e2e/vm-boot.e2e.spec.ts), built with
 * mmdebstrap from the mirror apt already uses here (/etc/apt/sources.list.d/debian.sources, else
 * /etc/apt/sources.list), so nothing of ours runs on the client but what bramble's image
 * conversion writes.
 *
 * What is in it, and why (docs/test-lab.md "A real operating system booting in a virtual machine"):
 * - minbase + systemd-sysv (init), linux-image-amd64 and initramfs-tools: Debian's kernel has no
 *   built-in NFS root, so the initramfs does it; `/etc/initramfs-tools/conf.d/bramble-nfs` sets
 *   BOOT=nfs and MODULES=netboot (bookworm's initramfs.conf has no BOOT= line; conf.d is read after
 *   it, so the package's own conffile stays untouched).
 * - an initramfs script in `scripts/nfs-top/` that brings the links up and waits (bounded, 10 s)
 *   until one is operationally up: klibc's ipconfig otherwise sends its first DHCP before virtio's
 *   link is ready and loses seconds to its retry ("IP-Config: no response after 2 secs").
 * - nfs-common + netbase (mount.nfs for the /home line the conversion writes), nslcd + libnss-ldapd +
 *   libpam-ldapd (the directory user: NSS and PAM through nslcd, configured by the conversion),
 *   busybox (the initramfs's tools), curl (the BOOTED unit's first choice).
 * - a serial login needs nothing more: util-linux's agetty and login are in minbase, and systemd's
 *   getty generator starts serial-getty@ttyS0 for `console=ttyS0`.
 * Recommends are off and documentation, man pages and translations are left out (about a third of
 * the size). So are the kernel modules of hardware a QEMU q35 machine with one virtio NIC and no disk
 * never has (GPUs, Wi-Fi and wired NICs other than virtio, media, sound, SCSI, InfiniBand, USB...;
 * `VM_MODULES_LEFT_OUT`): they were 60% of the root (400 of 660 MB), and MODULES=netboot copied
 * every wired NIC driver into the initramfs. virtio_net and its failover, the NFS client and
 * everything under net/ stay. udev's hardware database sources go too (its compiled hwdb names
 * devices a VM does not have). dpkg unpacks without fsync (`force-unsafe-io`): a build that dies is
 * thrown away whole, so its durability buys nothing. A cold build went from 186–445 s to the
 * figure in docs/test-lab.md.
 *
 * The result is one tarball under /var/cache/bramble-test, named by a hash of every input (the
 * package list, the files written into the root, the sources, mmdebstrap's version and this
 * recipe's version), so a second run costs a stat. It is built into a temporary name in the same
 * folder and renamed into place: a crash leaves no half tarball under the final name (leftovers
 * `.building-*` of dead processes are removed at the next build, and so are the tarballs of older
 * recipes once a new one is in place). A process that finds another live one building the same
 * tarball waits for it instead of building it twice.
 *
 * mmdebstrap's root mode mounts /proc, /sys and /dev inside its temporary root; it runs under
 * `unshare -m --propagation private`, so those mounts exist only in that namespace and the host
 * never sees them (`--mode=unshare` would need a subordinate uid range for root; not set up here).
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import { pidAlive } from './netlab';

/** Bump when the recipe changes in a way the inputs below do not show. */
const RECIPE_VERSION = 2;

export const DEBIAN_VM_CACHE_DIR = '/var/cache/bramble-test';

export const DEBIAN_VM_PACKAGES: readonly string[] = [
  'systemd-sysv',
  'linux-image-amd64',
  'initramfs-tools',
  'busybox',
  'nfs-common',
  // /etc/protocols and /etc/services: mount.nfs looks up "tcp" there (without them the /home
  // mount fails: "mount.nfs: Failed to find 'tcp' protocol"). Priority important: every real
  // Debian install has it, minbase does not.
  'netbase',
  'nslcd',
  'libnss-ldapd',
  'libpam-ldapd',
  'curl',
];

/**
 * Kernel module folders (under lib/modules/<version>/kernel/) left out of the image: hardware the
 * test's VM (q35, virtio-net, serial console, no disk, no USB, no display) never has.
 */
export const VM_MODULES_LEFT_OUT: readonly string[] = [
  'drivers/gpu',
  'drivers/net/ethernet',
  'drivers/net/wireless',
  'drivers/net/can',
  'drivers/media',
  'drivers/scsi',
  'drivers/infiniband',
  'drivers/usb',
  'drivers/iio',
  'drivers/staging',
  'drivers/comedi',
  'drivers/mtd',
  'drivers/target',
  'drivers/isdn',
  'drivers/bluetooth',
  'drivers/hwmon',
  'drivers/mmc',
  'drivers/video',
  'sound',
  'net/bluetooth',
  'net/mac80211',
  'net/wireless',
  'fs/xfs',
  'fs/btrfs',
  'fs/ocfs2',
  'fs/f2fs',
  'lib/test_bpf.ko',
];

/** Appended to initramfs-tools' configuration (conf.d is sourced after initramfs.conf). */
export const INITRAMFS_CONF = 'BOOT=nfs\nMODULES=netboot\n';

/**
 * scripts/nfs-top/bramble-carrier: runs before the initramfs configures the network for the NFS
 * root. Every loop is bounded: at most 100 tries of 0.1 s.
 */
export const CARRIER_HOOK = `#!/bin/sh
# bramble test image: bring every link up and wait until one is operationally up before klibc's
# ipconfig sends DHCP (its first DISCOVER otherwise leaves before virtio-net's link is ready and is
# lost: ipconfig then waits 2 s or more to retry). Carrier alone is not enough: virtio reports it at
# once, while the kernel's link watch marks the link up (operstate) a moment later.
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
for dev in /sys/class/net/*; do
  name=\${dev##*/}
  [ "$name" = lo ] && continue
  ip link set "$name" up 2>/dev/null || busybox ip link set "$name" up 2>/dev/null
done
tries=0
while [ "$tries" -lt 100 ]; do
  for dev in /sys/class/net/*; do
    [ "\${dev##*/}" = lo ] && continue
    [ "$(cat "$dev/operstate" 2>/dev/null)" = up ] && exit 0
  done
  sleep 0.1 2>/dev/null || sleep 1
  tries=$((tries + 1))
done
exit 0
`;

export const VM_HOSTNAME = 'bramble-vm';

/** The apt sources this machine uses (deb822 or one-line), as mmdebstrap takes them. */
export function hostAptSources(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (existsSync(file) && readFileSync(file, 'utf8').trim()) return file;
  }
  throw new Error('no Debian apt sources on this machine (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)');
}

export interface DebianVmRecipe {
  suite: string;
  packages: readonly string[];
  /** Files written into the root before the packages are installed: image path → content, mode. */
  files: Record<string, { content: string; mode: number }>;
  /** The apt sources file (its content is part of the key). */
  sources: string;
  sourcesContent: string;
  mmdebstrapVersion: string;
}

export function debianVmRecipe(sources = hostAptSources(), mmdebstrapVersion = toolVersion()): DebianVmRecipe {
  return {
    suite: 'bookworm',
    packages: DEBIAN_VM_PACKAGES,
    files: {
      '/etc/initramfs-tools/conf.d/bramble-nfs': { content: INITRAMFS_CONF, mode: 0o644 },
      '/etc/initramfs-tools/scripts/nfs-top/bramble-carrier': { content: CARRIER_HOOK, mode: 0o755 },
    },
    sources,
    sourcesContent: readFileSync(sources, 'utf8'),
    mmdebstrapVersion,
  };
}

/** The cache key: a hash of everything that decides the tarball's content. Pure. */
export function recipeKey(recipe: DebianVmRecipe): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      recipe: RECIPE_VERSION,
      suite: recipe.suite,
      packages: [...recipe.packages].sort(),
      files: Object.entries(recipe.files).sort(([a], [b]) => a.localeCompare(b)),
      sources: recipe.sourcesContent,
      mmdebstrap: recipe.mmdebstrapVersion,
      hostname: VM_HOSTNAME,
    }),
  );
  return h.digest('hex').slice(0, 16);
}

/**
 * mmdebstrap's arguments for the recipe. `filesDir` holds the files of `recipe.files` under their
 * image paths (copied in by the essential hook, before the kernel's package builds the initramfs
 * once). Pure.
 */
export function mmdebstrapArgs(recipe: DebianVmRecipe, filesDir: string, output: string): string[] {
  return [
    '--mode=root',
    '--variant=minbase',
    '--format=tar',
    `--include=${recipe.packages.join(',')}`,
    '--aptopt=APT::Install-Recommends "false"',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    '--dpkgopt=path-exclude=/usr/share/info/*',
    // The package names them under /lib; bookworm's merged /usr puts them under /usr/lib.
    ...VM_MODULES_LEFT_OUT.flatMap((m) =>
      ['/lib', '/usr/lib'].map((root) => `--dpkgopt=path-exclude=${root}/modules/*/kernel/${m}${m.endsWith('.ko') ? '' : '/*'}`),
    ),
    '--dpkgopt=path-exclude=/usr/lib/udev/hwdb.d/*',
    '--dpkgopt=path-exclude=/lib/udev/hwdb.d/*',
    '--dpkgopt=force-unsafe-io',
    // cp -a keeps the modes written into filesDir; `$1` is the root being built.
    `--essential-hook=cp -a ${shellQuote(filesDir)}/. "$1"/`,
    `--customize-hook=rm -f "$1/etc/hostname" && echo ${VM_HOSTNAME} > "$1/etc/hostname" && chmod 644 "$1/etc/hostname"`,
    // The host's resolver means nothing in the lab; an empty machine-id is what a read-only root
    // wants (systemd mounts a transient one over it).
    '--customize-hook=rm -f "$1/etc/resolv.conf"; : > "$1/etc/machine-id"',
    recipe.suite,
    output,
    recipe.sources,
  ];
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function toolVersion(): string {
  return execFileSync('mmdebstrap', ['--version'], { encoding: 'utf8' }).trim();
}

/** Why the image cannot be built here, or null. */
export function debianVmImageUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'building the Debian VM image needs root';
  for (const tool of ['mmdebstrap', 'unshare']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (scripts/ensure-test-deps.sh)`;
    }
  }
  return null;
}

export interface DebianVmImage {
  /** The root file system as a tar archive (entries `./etc/...`), ready for `importImage`. */
  tarball: string;
  key: string;
  /** True when it came from the cache. */
  cached: boolean;
  /** Time spent (a stat when cached). */
  ms: number;
}

export interface DebianVmImageOptions {
  cacheDir?: string;
  /** Hard bound on the build (default 15 minutes). */
  timeoutMs?: number;
  /** Lines of mmdebstrap's output, as they come. */
  onOutput?: (text: string) => void;
}

/** The cached tarball for this machine's inputs, built first if it is not there. */
export async function ensureDebianVmImage(options: DebianVmImageOptions = {}): Promise<DebianVmImage> {
  const started = Date.now();
  const cacheDir = options.cacheDir ?? DEBIAN_VM_CACHE_DIR;
  const recipe = debianVmRecipe();
  const key = recipeKey(recipe);
  const tarball = path.join(cacheDir, `debian-vm-${key}.tar`);
  if (existsSync(tarball) && statSync(tarball).size > 0) return { tarball, key, cached: true, ms: Date.now() - started };

  mkdirSync(cacheDir, { recursive: true });
  removeDeadBuilds(cacheDir);
  // Another process building the same tarball (two specs starting at once): wait for it, bounded.
  const deadline = started + (options.timeoutMs ?? 15 * 60_000);
  while (liveBuilder(cacheDir, key) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2000));
    if (existsSync(tarball)) return { tarball, key, cached: true, ms: Date.now() - started };
  }
  const work = path.join(cacheDir, `.building-${process.pid}-${key}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  try {
    const filesDir = path.join(work, 'files');
    for (const [file, { content, mode }] of Object.entries(recipe.files)) {
      const target = path.join(filesDir, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
      chmodSync(target, mode);
    }
    const output = path.join(work, 'root.tar');
    await run(
      'unshare',
      ['-m', '--propagation', 'private', 'mmdebstrap', ...mmdebstrapArgs(recipe, filesDir, output)],
      options.timeoutMs ?? 15 * 60_000,
      options.onOutput,
      // mmdebstrap's temporary root goes here, beside the cache, not in a small /tmp.
      { TMPDIR: work },
    );
    if (!existsSync(output) || statSync(output).size === 0) throw new Error('mmdebstrap made no tarball');
    renameSync(output, tarball);
    // Older recipes' tarballs (650 MB each) are of no use any more.
    for (const name of readdirSync(cacheDir)) {
      if (/^debian-vm-[0-9a-f]+\.tar$/.test(name) && name !== path.basename(tarball)) rmSync(path.join(cacheDir, name), { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { tarball, key, cached: false, ms: Date.now() - started };
}

/** True when a live process other than this one is building `key` here. */
function liveBuilder(cacheDir: string, key: string): boolean {
  return readdirSync(cacheDir).some((name) => {
    const m = /^\.building-(\d+)-([0-9a-f]+)$/.exec(name);
    return m !== null && m[2] === key && Number(m[1]) !== process.pid && pidAlive(Number(m[1]));
  });
}

/** Removes `.building-<pid>-*` folders whose process is gone. */
function removeDeadBuilds(cacheDir: string): void {
  for (const name of readdirSync(cacheDir)) {
    const m = /^\.building-(\d+)-/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(cacheDir, name), { recursive: true, force: true });
    }
  }
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  onOutput: ((text: string) => void) | undefined,
  env: Record<string, string>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout kills mmdebstrap and everything it started.
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
    let tail = '';
    const take = (d: Buffer) => {
      const text = d.toString();
      tail = (tail + text).slice(-4000);
      onOutput?.(text);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.slice(0, 4).join(' ')} … failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
  });
}
