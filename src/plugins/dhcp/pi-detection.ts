/**
 * Which DHCP packets come from a Raspberry Pi, and what they say about it. Pure.
 *
 * A packet is a Pi when
 *   - its option 97 (client GUID, RFC 4578 §2.3: type byte 0 + 16 bytes) starts with a Pi FourCC
 *     (`RPi4` / `RPi5`): via 'option97' — this also works behind an overridden MAC, or
 *   - its MAC prefix is a Raspberry Pi OUI: via 'oui'.
 * Option 60 `PXEClient:...` (with 93 = 0, 94 = 1.2.1) is NOT enough: iPXE and x86 PXE ROMs send the
 * same fingerprint. It only sets `pxe: true` on a packet already identified as a Pi. That is why
 * `via` has no 'option60' value: option 60 never identifies a Pi on its own.
 * Everything else gives null and must be ignored entirely (proxy mode: the LAN's server answers it).
 * A packet without an Ethernet MAC (htype 1, hlen 6) is never a Pi: there is nothing to serve it by.
 *
 * Option 97 on a Pi 4/5 (bootloader documentation of DHCP_OPTION97): "the concatenation of the
 * fourcc for RPi4 (0x34695052 - little endian), the board revision (e.g. 0x00c03111) (4-bytes), the
 * least significant 4 bytes of the mac address and the 4-byte serial number". The FourCC is a
 * little-endian word (bytes 52 50 69 34 = "RPi4"), so bramble reads the revision and the serial as
 * little-endian 32-bit words too:
 *   [0]      0x00 (GUID type)
 *   [1..4]   FourCC "RPi4" / "RPi5"
 *   [5..8]   board revision, uint32 LE (new-style code: bits 4–11 = board type)
 *   [9..12]  low 4 bytes of the MAC (not used: the MAC comes from chaddr)
 *   [13..16] serial number, uint32 LE → 8 lower-case hex digits, the TFTP folder name
 * Older bootloaders (and DHCP_OPTION97=0) send the serial repeated 4 times with no FourCC; when the
 * four words are equal, that gives the serial too (read little-endian like the new format).
 */
import type { DhcpPacket } from './dhcp.codec';
import { PI_BOARD_TYPES, PI_GUID_FOURCCS, PI_OUIS } from './pi-oui.data';

export interface PiIdentity {
  /** `aa:bb:cc:dd:ee:ff`, lower case. */
  mac: string;
  /** Low 8 hex digits of the serial number (lower case), from option 97; null when unknown. */
  serial: string | null;
  /** From the board revision in option 97 (else its FourCC), else from the OUI when it names one model. */
  model: string | null;
  via: 'oui' | 'option97';
  /** Option 60 starts with `PXEClient`. */
  pxe: boolean;
  /** First architecture in option 93 (RFC 4578 §2.1; 0 = the Pi's value, "x86 BIOS"), else null. */
  arch: number | null;
}

interface OuiRow {
  models: readonly string[];
}

/** OUI as a 24-bit number → row; built once from the data table. */
const OUI_INDEX = new Map<number, OuiRow>();
for (const row of PI_OUIS) OUI_INDEX.set(parseInt(row.prefix.replace(/:/g, ''), 16), row);

/**
 * Words of an option 97 that name no board: all zeros, all ones, and the Pi 3B ROM's constant (the
 * BCM2837A0 sends `00` then sixteen `44` bytes from every board: docs/pi-netboot-protocol.md §1.3).
 * Read as the old serial×4 format they would give every such Pi the same serial.
 */
const PLACEHOLDER_GUID_WORDS = new Set([0, 0xffffffff, 0x44444444]);

/** FourCC as the LE 32-bit word read from option 97 bytes 1..4 → its name. */
const FOURCC_INDEX = new Map<number, string>();
for (const name of PI_GUID_FOURCCS) FOURCC_INDEX.set(Buffer.from(name, 'latin1').readUInt32LE(0), name);

const PXE_CLIENT = Buffer.from('PXEClient', 'latin1');

/** Byte-wise prefix test: cheaper than Buffer#compare for a 9-byte prefix. */
function startsWith(value: Buffer | undefined, prefix: Buffer): boolean {
  if (value === undefined || value.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (value[i] !== prefix[i]) return false;
  return true;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Model of a new-style board revision code, or null (old-style code or unknown type). */
export function modelFromRevision(revision: number): string | null {
  if ((revision & 0x800000) === 0) return null;
  return PI_BOARD_TYPES[(revision >>> 4) & 0xff] ?? null;
}

export function detectPi(packet: DhcpPacket): PiIdentity | null {
  const mac = packet.mac;
  if (mac === null) return null;

  let via: PiIdentity['via'] | null = null;
  let serial: string | null = null;
  let model: string | null = null;

  const guid = packet.options.get(97);
  if (guid !== undefined && guid.length === 17 && guid[0] === 0) {
    const w1 = guid.readUInt32LE(1);
    const fourcc = FOURCC_INDEX.get(w1);
    if (fourcc !== undefined) {
      via = 'option97';
      serial = hex8(guid.readUInt32LE(13));
      model = modelFromRevision(guid.readUInt32LE(5)) ?? fourcc;
    } else if (
      !PLACEHOLDER_GUID_WORDS.has(w1) &&
      w1 === guid.readUInt32LE(5) &&
      w1 === guid.readUInt32LE(9) &&
      w1 === guid.readUInt32LE(13)
    ) {
      // Old format: serial ×4 (placeholders are not serials: see PLACEHOLDER_GUID_WORDS).
      // Only used when the OUI below says Pi.
      serial = hex8(w1);
    }
  }

  if (via === null) {
    const ch = packet.chaddr;
    const row = OUI_INDEX.get((ch[0] << 16) | (ch[1] << 8) | ch[2]);
    if (row === undefined) return null;
    via = 'oui';
    if (row.models.length === 1) model = row.models[0];
  }

  const pxe = startsWith(packet.options.get(60), PXE_CLIENT);
  const archOpt = packet.options.get(93);
  const arch = archOpt !== undefined && archOpt.length >= 2 ? (archOpt[0] << 8) | archOpt[1] : null;

  return { mac, serial, model, via, pxe, arch };
}
