/**
 * Which Pi mounted which export, from nfs-ganesha's log, pure. ganesha 4.3 has no other way to tell
 * without dbus: at component NFSPROTO (shown as `NFS3`), level DEBUG, a successful NFSv3 MOUNT
 * writes two lines from the same service thread,
 *
 *   ... nfs-ganesha-30848[svc_5] mnt_Mnt :NFS3 :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=/srv/img/v1
 *   ... nfs-ganesha-30848[svc_5] mnt_Mnt :NFS3 :DEBUG :MOUNT: Entry supports 1 different flavours handle=0x43... for client ::ffff:10.0.0.21
 *
 * (checked: at that level a 1 MiB NFSv3 read adds no line, so the log does not grow per read). A
 * refused mount never writes the second line. NFSv4 has no MOUNT: its client creation carries the
 * address but not the export, so NFSv4 mounts are not reported. The Pi's root is an NFSv3 mount
 * (the TFTP plugin's `nfsroot=...,vers=3,tcp`).
 */
import type { BootFactInput, ClientRecord } from '../../core/plugin-api';
import type { NfsExport } from './nfs.exports';

export interface MountSeen {
  /** IPv4 address of the client (`::ffff:` removed). */
  ip: string;
  /** The path it asked for (an export's path, or a folder inside one). */
  path: string;
}

const CALLING = /\[([^\]]+)\] mnt_Mnt :\S+ :DEBUG :REQUEST PROCESSING: Calling MNT_MNT path=(.*)$/;
const GRANTED =
  /\[([^\]]+)\] mnt_Mnt :\S+ :DEBUG :MOUNT: Entry supports \d+ different flavours handle=\S+ for client (?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/;

/**
 * Reads log lines; remembers, per thread, the path of its last MNT call. `pending` carries that
 * memory from one chunk of the log to the next (a Map the caller keeps).
 */
export function parseMountLog(text: string, pending: Map<string, string>): MountSeen[] {
  const seen: MountSeen[] = [];
  for (const line of text.split('\n')) {
    const call = CALLING.exec(line);
    if (call) {
      pending.set(call[1], call[2]);
      if (pending.size > 1024) pending.delete(pending.keys().next().value as string);
      continue;
    }
    const granted = GRANTED.exec(line);
    if (granted) {
      const path = pending.get(granted[1]);
      pending.delete(granted[1]);
      if (path !== undefined) seen.push({ ip: granted[2], path });
    }
  }
  return seen;
}

/**
 * The boot fact for a mount: the client with that address, the image export holding the path (the
 * version its image assignment points at when several images share a path). Null for the homes, an
 * unknown address or a path outside every image export.
 */
export function rootMountFact(
  mount: MountSeen,
  exports: readonly NfsExport[],
  clientByIp: (ip: string) => ClientRecord | null,
): BootFactInput | null {
  const client = clientByIp(mount.ip);
  if (!client) return null;
  const p = mount.path.length > 1 ? mount.path.replace(/\/+$/, '') : mount.path;
  const exp = exports.find((e) => e.kind === 'image' && (p === e.path || p.startsWith(`${e.path}/`)));
  if (!exp || exp.images.length === 0) return null;
  const image = exp.images.find((i) => i.imageId === client.imageId) ?? exp.images[0];
  return {
    mac: client.mac,
    stage: 'nfs.root-mounted',
    ip: mount.ip,
    detail: { imageId: image.imageId, imageVersion: image.version, export: exp.path, nfsVersion: 3 },
  };
}
