/**
 * nfs-ganesha's configuration for bramble's exports, rendered from the exports projection, pure.
 *
 * Choices (each found to matter by trying, see docs/test-lab.md "NFS"):
 * - `Mount_Path_Pseudo = true`: NFSv3 mounts name the pseudo path, which is the real path here, so
 *   `nfsroot=<server>:<path>` works for v3 and v4 alike.
 * - `Only_Numeric_Owners = true`: without an idmapd domain shared with the Pis, NFSv4 would show
 *   every owner as nobody (65534).
 * - Client lists inside `CLIENT { }` blocks, with `Access_Type = None` on the export itself: an
 *   address not listed gets nothing.
 * - `Enable_NLM = false`, `Enable_RQUOTA = false`: no lock manager or quota service to register.
 * - bramble's own recovery folder, `Graceless = true` (no 90 s grace period after each restart:
 *   a Pi root is read-only and homes hold no NFSv4 state worth reclaiming across a restart of the
 *   server), no Kerberos: it must not share state with a system ganesha.
 * - `Bind_Addr`: only the server address Pis reach bramble at, never every interface.
 * - Root squash on the homes export (`Squash = Root_Squash`): root on a Pi is nobody there. An
 *   image root is read-only and exported without it (`No_Root_Squash`, as PiServer does): the OS
 *   running from it is root, and must read its own root-only files (`/etc/shadow` for a console
 *   login, `/etc/nslcd.conf` 0640 for nslcd); squashed, both fail (a stock Debian VM booted from
 *   bramble: test/e2e/vm-boot.e2e.spec.ts, README "AUTH_SYS").
 */
import { isIpv4 } from '../../core/plugin-api';
import type { NfsExport, NfsVersion } from './nfs.exports';
import { pathProblem } from './nfs.paths';

export interface GaneshaExport extends NfsExport {
  /** 1..65535, stable for a path while ganesha runs (a reload keeps clients' handles valid). */
  readonly exportId: number;
}

export interface GaneshaConfigInput {
  exports: readonly GaneshaExport[];
  versions: readonly NfsVersion[];
  /** Address ganesha listens on. */
  bindAddress: string;
  /** Folder of bramble's NFSv4 client recovery records. */
  recoveryRoot: string;
  /** Log level of the default component: EVENT in service, DEBUG when tracing. */
  logLevel?: 'EVENT' | 'INFO' | 'DEBUG';
  /** Log NFSv3 MOUNTs with the client's address (NFSPROTO at DEBUG), for boot facts (nfs.mount-log.ts). */
  logMounts?: boolean;
}

/** A client entry ganesha takes: an IPv4 address or an IPv4 CIDR. */
export function isClientSpec(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/');
  if (rest.length > 0 || !isIpv4(ip)) return false;
  return bits === undefined || (/^\d{1,2}$/.test(bits) && Number(bits) <= 32);
}

function quoted(p: string): string {
  const problem = pathProblem(p);
  // The projection refuses these paths first; this is the last line before the file.
  if (problem) throw new Error(`refusing to write path ${JSON.stringify(p)}: ${problem}`);
  return `"${p}"`;
}

/** The first line of every file bramble writes for an NFS server. */
export const WRITTEN_BY_BRAMBLE = "# Written by bramble (plugin nfs): every change is overwritten. Edit bramble's settings instead.";

/** Throws unless `id` is 1..65535 and not in `ids`; then adds it (both renderers: export id or fsid). */
export function claimExportId(ids: Set<number>, id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > 65535 || ids.has(id)) throw new Error(`bad or repeated export id ${id}`);
  ids.add(id);
}

/** Throws unless every client is an IPv4 address or CIDR (both renderers). */
export function checkClients(clients: readonly string[]): void {
  for (const c of clients)
    if (!isClientSpec(c)) throw new Error(`refusing to write client ${JSON.stringify(c)}: not an IPv4 address or CIDR`);
}

function clientList(clients: readonly string[]): string {
  checkClients(clients);
  return clients.join(', ');
}

/** Root is squashed on every export but a read-only image root (see the file-top comment). */
export function squashes(e: Pick<NfsExport, 'kind' | 'access'>): boolean {
  return !(e.kind === 'image' && e.access === 'ro');
}

function protocols(versions: readonly NfsVersion[]): string {
  return [...new Set(versions)].sort().join(', ');
}

export function renderGaneshaConfig(input: GaneshaConfigInput): string {
  if (!isIpv4(input.bindAddress)) throw new Error(`refusing to bind ganesha to ${JSON.stringify(input.bindAddress)}: not an IPv4 address`);
  const ids = new Set<number>();
  const lines: string[] = [
    WRITTEN_BY_BRAMBLE,
    'NFS_CORE_PARAM {',
    `  Protocols = ${protocols(input.versions)};`,
    `  Bind_Addr = ${input.bindAddress};`,
    '  Mount_Path_Pseudo = true;',
    // A fixed mountd port (ganesha's default, 0, takes any free one), so a firewall can allow it:
    // 20048 is the port nfs-utils' mountd uses where it is pinned (the README's port table).
    '  MNT_Port = 20048;',
    '  Enable_NLM = false;',
    '  Enable_RQUOTA = false;',
    '  Enable_UDP = false;',
    '}',
    'NFS_KRB5 {',
    '  Active_krb5 = false;',
    '}',
    'NFSv4 {',
    '  RecoveryBackend = fs;',
    `  RecoveryRoot = ${quoted(input.recoveryRoot)};`,
    '  Graceless = true;',
    '  Only_Numeric_Owners = true;',
    '}',
    'LOG {',
    `  Default_Log_Level = ${input.logLevel ?? 'EVENT'};`,
    ...(input.logMounts ? ['  Components {', '    NFSPROTO = DEBUG;', '  }'] : []),
    '}',
  ];
  for (const e of input.exports) {
    claimExportId(ids, e.exportId);
    if (e.clients.length === 0) throw new Error(`export ${e.path} has no clients`);
    const what = e.kind === 'homes' ? 'home folders' : e.images.map((i) => `image ${i.imageId} v${i.version}`).join(', ');
    lines.push(
      `# ${what.replace(/[^\x20-\x7e]/g, '?')}`,
      'EXPORT {',
      `  Export_Id = ${e.exportId};`,
      `  Path = ${quoted(e.path)};`,
      `  Pseudo = ${quoted(e.path)};`,
      `  Protocols = ${protocols(input.versions)};`,
      '  Transports = TCP;',
      '  SecType = sys;',
      `  Squash = ${squashes(e) ? 'Root_Squash' : 'No_Root_Squash'};`,
      '  Access_Type = None;',
      '  FSAL {',
      '    Name = VFS;',
      '  }',
      '  CLIENT {',
      `    Clients = ${clientList(e.clients)};`,
      `    Access_Type = ${e.access === 'rw' ? 'RW' : 'RO'};`,
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
