/**
 * The exports projection: bramble's clients, images and settings → the list of NFS exports, pure.
 * Both backends render this one list (nfs.ganesha-config.ts, nfs.kernel-exports.ts), so who may
 * mount what is decided in one place and table-tested.
 *
 * - Every version of an image still present is exported read-only (a Pi that booted an older
 *   version keeps reading it until it reboots), at its real path: the TFTP plugin writes
 *   `nfsroot=<server>:<version path>` into cmdline.txt, so the export's pseudo path is its path.
 * - An image's exports go to the approved clients (with a known address) that are assigned to the
 *   image or last booted one of its versions — or, when `clientSubnet` is set, to that subnet.
 * - The homes folder is exported read-write, root squashed, to every approved client's address, and
 *   never to a subnet: AUTH_SYS believes the uid a client sends, so write access rests on the
 *   approved Pis giving no directory user root.
 * - An export nobody may mount is left out (it appears once a client is approved).
 * - A path a config file cannot carry safely (nfs.paths.ts) is refused: left out and reported.
 */
import { isIpv4, type ClientRecord, type ImageRecord } from '../../core/plugin-api';
import { pathProblem } from './nfs.paths';

export type NfsVersion = 3 | 4;

export interface NfsExport {
  /** Absolute path on the server; also the pseudo (NFSv4 / mount) path. */
  readonly path: string;
  readonly access: 'ro' | 'rw';
  /** IPv4 addresses and CIDR subnets, sorted, at least one. */
  readonly clients: readonly string[];
  readonly kind: 'image' | 'homes';
  /** For image exports: every (image, version) served from this path. */
  readonly images: readonly { imageId: string; version: number }[];
}

export interface RefusedExport {
  readonly path: string;
  readonly reason: string;
  readonly imageId: string | null;
}

export interface ExportsInput {
  clients: readonly ClientRecord[];
  images: readonly ImageRecord[];
  homesPath: string;
  clientSubnet: string | null;
}

export interface ExportsProjection {
  exports: NfsExport[];
  refused: RefusedExport[];
}

function approvedAddresses(clients: readonly ClientRecord[], wanted: (c: ClientRecord) => boolean): string[] {
  const out = new Set<string>();
  for (const c of clients) {
    if (c.status === 'approved' && c.ip !== null && isIpv4(c.ip) && wanted(c)) out.add(c.ip);
  }
  return [...out].sort(compareAddresses);
}

function compareAddresses(a: string, b: string): number {
  const key = (s: string) =>
    s
      .split(/[./]/)
      .map((n) => n.padStart(3, '0'))
      .join('.');
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

function normalise(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

export function projectExports(input: ExportsInput): ExportsProjection {
  const refused: RefusedExport[] = [];
  const byPath = new Map<string, { clients: Set<string>; images: { imageId: string; version: number }[] }>();

  for (const image of input.images) {
    const clients = input.clientSubnet
      ? [input.clientSubnet]
      : approvedAddresses(input.clients, (c) => c.imageId === image.id || c.bootedImage?.imageId === image.id);
    for (const v of image.versions) {
      const p = normalise(v.path);
      const problem = pathProblem(p);
      if (problem) {
        refused.push({ path: v.path, reason: problem, imageId: image.id });
        continue;
      }
      if (clients.length === 0) continue;
      const entry = byPath.get(p) ?? { clients: new Set<string>(), images: [] };
      for (const c of clients) entry.clients.add(c);
      entry.images.push({ imageId: image.id, version: v.version });
      byPath.set(p, entry);
    }
  }

  const exports: NfsExport[] = [...byPath.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, e]) => ({ path: p, access: 'ro', clients: [...e.clients].sort(compareAddresses), kind: 'image', images: e.images }));

  const homes = normalise(input.homesPath);
  const homesProblem = pathProblem(homes);
  if (homesProblem) {
    refused.push({ path: input.homesPath, reason: homesProblem, imageId: null });
  } else if (byPath.has(homes)) {
    refused.push({ path: homes, reason: 'homesPath is also an image root', imageId: null });
  } else {
    const clients = approvedAddresses(input.clients, () => true);
    if (clients.length > 0) exports.push({ path: homes, access: 'rw', clients, kind: 'homes', images: [] });
  }
  return { exports, refused };
}
