/**
 * `/etc/fstab` for a Pi that boots its root over NFS, shared read-only by many Pis
 * (docs/pi-netboot-protocol.md §5.2). Pure: text in, text out.
 *
 * - The SD-card lines go: the root (`/`) and the boot partition (`/boot/firmware` on Bookworm and
 *   later, `/boot` before), whatever names them (`PARTUUID=`, `/dev/mmcblk0p2`, `LABEL=rootfs`), and
 *   swap lines. The kernel mounts the root itself (`root=/dev/nfs` in cmdline.txt, §5.1); the boot
 *   folder is part of that root tree, so it needs no line at all.
 * - Everything a running system writes gets a RAM file system (tmpfs): the root is read-only and
 *   shared, so these writes must stay per-Pi and vanish at reboot. The list is PiServer's (§5.2),
 *   with the systemd state folders named one by one (a tmpfs over all of /var/lib/systemd would
 *   hide the image's own state, such as the enabled-units database of deb-systemd-helper). Folders
 *   users can write get `nosuid,nodev`, and `noexec` where nothing is run from them. Sizes are caps
 *   (tmpfs uses RAM only as filled); percentages follow the Pi's RAM.
 * - `/home` from bramble's NFS export when there is one, else a tmpfs.
 * - bramble's lines live in one block between marker comments: a second conversion replaces the
 *   block instead of appending, and the admin's own lines outside it are kept. An admin line for a
 *   folder bramble mounts would mount twice: it is removed (and reported).
 */

export const FSTAB_BEGIN = '# >>> bramble: network boot (this block is rewritten by every conversion) >>>';
export const FSTAB_END = '# <<< bramble <<<';

/** Folders whose SD-card lines go (the kernel mounts the root; the boot folder is in it). */
const SD_MOUNT_POINTS = new Set(['/', '/boot', '/boot/firmware']);

export interface TmpfsMount {
  path: string;
  options: string;
  /** Mounted only when the folder exists in the image (else the line would fail at every boot). */
  onlyIfPresent: boolean;
}

/** tmpfs mounts, in mount order (a parent before its children). */
export const TMPFS_MOUNTS: TmpfsMount[] = [
  { path: '/tmp', options: 'nosuid,nodev,mode=1777,size=25%', onlyIfPresent: false },
  { path: '/var/tmp', options: 'nosuid,nodev,mode=1777,size=10%', onlyIfPresent: false },
  { path: '/var/log', options: 'nosuid,nodev,noexec,mode=0755,size=100m', onlyIfPresent: false },
  { path: '/var/spool', options: 'nosuid,nodev,noexec,mode=0755,size=16m', onlyIfPresent: false },
  { path: '/var/lib/sudo', options: 'nosuid,nodev,noexec,mode=0711,size=1m', onlyIfPresent: false },
  { path: '/var/lib/dhcp', options: 'nosuid,nodev,noexec,mode=0755,size=1m', onlyIfPresent: true },
  { path: '/var/lib/dhcpcd', options: 'nosuid,nodev,noexec,mode=0755,size=1m', onlyIfPresent: true },
  { path: '/var/lib/NetworkManager', options: 'nosuid,nodev,noexec,mode=0700,size=4m', onlyIfPresent: true },
  { path: '/var/lib/systemd/rfkill', options: 'nosuid,nodev,noexec,mode=0755,size=1m', onlyIfPresent: true },
  { path: '/var/lib/systemd/coredump', options: 'nosuid,nodev,noexec,mode=0755,size=64m', onlyIfPresent: true },
  { path: '/var/lib/systemd/timesync', options: 'nosuid,nodev,noexec,mode=0755,size=1m', onlyIfPresent: true },
  { path: '/var/lib/systemd/linger', options: 'nosuid,nodev,noexec,mode=0755,size=1m', onlyIfPresent: true },
  { path: '/var/lib/lightdm', options: 'nosuid,nodev,mode=0750,size=16m', onlyIfPresent: true },
  { path: '/media', options: 'nosuid,nodev,mode=0755,size=1m', onlyIfPresent: false },
];

export interface FstabInputs {
  /** NFS homes: `server:export`, or null for a tmpfs /home. */
  homes: { serverIp: string; exportPath: string; nfsVersion: 3 | 4 } | null;
  /** Which `onlyIfPresent` folders exist in the image. */
  present: (path: string) => boolean;
}

export interface FstabEdit {
  text: string;
  /** Folders the block mounts on (they must exist in the image: the root is read-only at boot). */
  mountPoints: string[];
  /** Admin lines removed because bramble's block mounts the same folder. */
  replacedLines: string[];
}

/** The `/home` line. The options, one by one, are explained in the comment the block carries. */
export function homeLine(homes: FstabInputs['homes']): string {
  if (homes === null) return 'tmpfs /home tmpfs nosuid,nodev,mode=0755,size=25% 0 0';
  const lock = homes.nfsVersion === 3 ? ',nolock' : '';
  return `${homes.serverIp}:${homes.exportPath} /home nfs vers=${homes.nfsVersion},proto=tcp,hard${lock},nosuid,nodev,noatime,_netdev 0 0`;
}

const HOME_COMMENT = [
  '# /home over NFS: vers= and proto=tcp named (kernel defaults changed over time); hard (a server',
  '# hiccup stalls, never corrupts); nolock on NFSv3 (no statd/lockd on a read-only root; NFSv4 locks',
  '# in-protocol); nosuid,nodev (users write here); _netdev (mounted once the network is up).',
];

/** The block bramble owns. */
export function fstabBlock(inputs: FstabInputs): { lines: string[]; mountPoints: string[] } {
  const mounts = TMPFS_MOUNTS.filter((m) => !m.onlyIfPresent || inputs.present(m.path));
  const lines = [
    FSTAB_BEGIN,
    '# The root comes over NFS (cmdline.txt) and is shared read-only: what a running Pi writes goes to RAM.',
    ...mounts.map((m) => `tmpfs ${m.path} tmpfs ${m.options} 0 0`),
    ...(inputs.homes ? HOME_COMMENT : []),
    homeLine(inputs.homes),
    FSTAB_END,
  ];
  return { lines, mountPoints: [...mounts.map((m) => m.path), '/home'] };
}

/** The mount point (second field) of an fstab line, or null for comments and blank lines. */
export function mountPointOf(line: string): { spec: string; file: string; type: string } | null {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  const fields = trimmed.split(/\s+/);
  if (fields.length < 2) return null;
  // fstab escapes spaces in paths as \040; a trailing slash names the same folder.
  const file = fields[1].replace(/\\040/g, ' ').replace(/(.)\/+$/, '$1');
  return { spec: fields[0], file, type: fields[2] ?? '' };
}

/** The converted fstab. Idempotent: convertFstab(convertFstab(x)) === convertFstab(x). */
export function convertFstab(original: string | null, inputs: FstabInputs): FstabEdit {
  const block = fstabBlock(inputs);
  const ours = new Set(block.mountPoints);
  const kept: string[] = [];
  const replacedLines: string[] = [];
  let inBlock = false;
  for (const line of (original ?? '').split('\n')) {
    if (line.trim() === FSTAB_BEGIN) {
      inBlock = true;
      continue;
    }
    if (inBlock) {
      if (line.trim() === FSTAB_END) inBlock = false;
      continue;
    }
    const entry = mountPointOf(line);
    if (entry && (SD_MOUNT_POINTS.has(entry.file) || entry.type === 'swap')) continue;
    if (entry && ours.has(entry.file)) {
      replacedLines.push(line.trim());
      continue;
    }
    kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1].trim() === '') kept.pop();
  const text = [...kept, ...(kept.length > 0 ? [''] : []), ...block.lines, ''].join('\n');
  return { text, mountPoints: block.mountPoints, replacedLines };
}
