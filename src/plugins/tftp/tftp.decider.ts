/**
 * The read-request decision: `file name + source address + the core's views → serve | refuse`.
 * Pure: no file system (whether the file exists is the file layer's answer, tftp.files.ts), no
 * clock, no sockets. docs/pi-netboot-protocol.md §3.1 (prefixes), §3.2 (the files), §5.1 and §5.2
 * (the generated files, the boot folder).
 *
 * bramble serves a Pi by its identity, whatever prefix it asks with (§3.1): the client is found,
 * its image gives the boot folder (`image.bootPath`, chosen by the core: `boot/firmware` when
 * present, else `boot`, §5.2), and a serial or MAC prefix is only a way of finding the client, so it
 * is stripped. Serving the prefixed probe (`<serial>/start4.elf`) from the image makes the Pi keep
 * its prefix for every later file, which is harmless: every prefixed name is stripped the same way.
 *
 * A lab PC (a client of model `pc-bios` / `pc-uefi`, detected by the DHCP plugin from its PXE
 * options) reads the same way, plus three names at the top that are not the image's: the iPXE
 * binaries `undionly.kpxe` and `ipxe.efi`, served from the plugin's `ipxeDir` (Debian's `ipxe`
 * package), and `bramble.ipxe`, its generated iPXE script (tftp.ipxe.ts). A Pi asking for those
 * names gets the image's files of that name, if any, as before. A client of no known model (one the
 * admin pre-registered, not yet detected) asking for exactly one of those three names is served as
 * a PC.
 */
import type { ClientRecord, ClientsView, ImageRecord, ReadonlyView } from '../../core/plugin-api';
import { IPXE_BINARIES, IPXE_SCRIPT_NAME } from './tftp.ipxe';
import { parseRequestedName, type HostileNameReason, type RequestPrefix } from './tftp.paths';

/** TFTP error codes used here [RFC 1350 §5]: 1 file not found, 2 access violation. */
export type TftpRefuseCode = 1 | 2;

export type RefuseReason = 'unknown-client' | 'not-approved' | 'no-image' | `hostile-name:${HostileNameReason}`;

export type RequestDecision =
  | {
      kind: 'refuse';
      code: TftpRefuseCode;
      reason: RefuseReason;
      /** Sent to the client in the ERROR packet: short, ASCII, names nothing about other clients. */
      message: string;
      /** The client the request was attributed to, when any (for logs and diagnostics). */
      client: ClientRecord | null;
    }
  | {
      kind: 'serve';
      client: ClientRecord;
      image: ImageRecord;
      /** Inside `image.bootPath`: `/`-separated, no leading slash, no `.`/`..`/empty segment. */
      relPath: string;
      /**
       * Rendered by tftp.generated.ts from the image's file and the client's settings (cmdline,
       * config), or by tftp.ipxe.ts from the boot folder's listing (ipxe-script); not sent as is.
       */
      generated: 'cmdline' | 'config' | 'ipxe-script' | null;
      /** Where `relPath` is read: the image's boot folder, or (a PC's iPXE binary) the plugin's `ipxeDir`. */
      source: 'image' | 'ipxe';
      /** A serial or MAC prefix was stripped from the name. */
      prefixed: boolean;
    };

export interface RequestInput {
  /** As decoded from the packet (latin1). */
  filename: string;
  /** The IPv4 address the request came from. */
  sourceIp: string;
  clients: Pick<ClientsView, 'get' | 'byIp' | 'bySerial'>;
  images: Pick<ReadonlyView<ImageRecord>, 'get'>;
}

/** The MAC prefix of Pi 1, 2 and 3 boards (§1.1). */
const PI3_OUI = 'b8:27:eb';

/** Error message texts: fixed, so nothing from the request is echoed back. */
const MESSAGES = {
  hostile: 'Illegal file name',
  unknown: 'Unknown client',
  notApproved: 'Client not approved',
  noImage: 'No image assigned',
} as const;

/**
 * The client a serial prefix names: the client with that serial (a Pi 4/5 told it in DHCP option 97,
 * or the admin entered it); else a Pi 3, whose MAC is `b8:27:eb` followed by the low three bytes of
 * its serial, and whose serial is only learnt from this very request (§1.3, §3.1). A client found by
 * MAC that already has a different serial is not the one meant.
 */
function clientBySerialPrefix(serial: string, clients: RequestInput['clients']): ClientRecord | null {
  const bySerial = clients.bySerial(serial);
  if (bySerial) return bySerial;
  const mac = `${PI3_OUI}:${serial.slice(2, 4)}:${serial.slice(4, 6)}:${serial.slice(6, 8)}`;
  const pi3 = clients.get(mac);
  if (pi3 && (pi3.serial === null || pi3.serial === serial)) return pi3;
  return null;
}

/**
 * Who is asking: the client a serial or MAC prefix names, when bramble knows it (the Pi's own
 * statement about itself; the IP → client map can be stale after an address changed hands); else
 * the client that last used the source address.
 */
function identify(prefix: RequestPrefix | null, sourceIp: string, clients: RequestInput['clients']): ClientRecord | null {
  let named: ClientRecord | null = null;
  if (prefix?.kind === 'serial') named = clientBySerialPrefix(prefix.serial, clients);
  else if (prefix?.kind === 'mac') named = clients.get(prefix.mac);
  return named ?? clients.byIp(sourceIp);
}

/**
 * Which generated file a path is: only the exact, lower-case names at the top of the boot folder.
 * The firmware asks for `cmdline.txt` and `config.txt` in lower case (§3.2) and the image tree is
 * on a case-sensitive file system; another spelling is served (or not found) as a plain file.
 */
function generatedKind(relPath: string): 'cmdline' | 'config' | null {
  if (relPath === 'cmdline.txt') return 'cmdline';
  if (relPath === 'config.txt') return 'config';
  return null;
}

/** A lab PC, as the DHCP plugin records one (pc-detection.ts). */
export function isPc(client: Pick<ClientRecord, 'model'>): boolean {
  return client.model === 'pc-bios' || client.model === 'pc-uefi';
}

export function decideRequest(input: RequestInput): RequestDecision {
  const parsed = parseRequestedName(input.filename);
  if (!parsed.ok) {
    return {
      kind: 'refuse',
      code: 2,
      reason: `hostile-name:${parsed.reason}`,
      message: MESSAGES.hostile,
      client: input.clients.byIp(input.sourceIp),
    };
  }
  const client = identify(parsed.prefix, input.sourceIp, input.clients);
  if (!client) return { kind: 'refuse', code: 2, reason: 'unknown-client', message: MESSAGES.unknown, client: null };
  if (client.status !== 'approved') return { kind: 'refuse', code: 2, reason: 'not-approved', message: MESSAGES.notApproved, client };
  const image = client.imageId === null ? null : input.images.get(client.imageId);
  if (!image) return { kind: 'refuse', code: 2, reason: 'no-image', message: MESSAGES.noImage, client };

  // A serial or MAC prefix is stripped; an `other` first segment may be a real folder (`overlays/`)
  // or a TFTP_PREFIX_STR: the whole path is served, and a prefix folder that does not exist is a
  // not-found, after which the Pi drops the prefix (§3.1).
  const prefixed = parsed.prefix?.kind === 'serial' || parsed.prefix?.kind === 'mac';
  const relPath = prefixed ? parsed.relPath : parsed.fullPath;
  const pcName = IPXE_BINARIES.includes(relPath) || relPath === IPXE_SCRIPT_NAME;
  // A client of no known model asking for a PC's names is a PC too: one the admin pre-registered,
  // whose first DISCOVER's detection (which sets the model) may not be in the view yet. Pi
  // firmware never asks for these names.
  if (isPc(client) || (client.model === null && pcName)) {
    if (IPXE_BINARIES.includes(relPath)) return { kind: 'serve', client, image, relPath, generated: null, source: 'ipxe', prefixed };
    if (relPath === IPXE_SCRIPT_NAME) return { kind: 'serve', client, image, relPath, generated: 'ipxe-script', source: 'image', prefixed };
    // A PC has no cmdline.txt or config.txt to generate: its files are the image's, as they are.
    return { kind: 'serve', client, image, relPath, generated: null, source: 'image', prefixed };
  }
  return { kind: 'serve', client, image, relPath, generated: generatedKind(relPath), source: 'image', prefixed };
}
