/**
 * The file name of a TFTP read request, checked and split into the Pi's per-Pi prefix and the path
 * inside the boot folder (docs/pi-netboot-protocol.md §3.1, §3.2). Pure: no file system, no views.
 *
 * The name arrives exactly as the packet carried it, decoded as latin1 (one character per byte, any
 * byte possible). Pi firmware only ever asks for short ASCII names such as `config.txt`,
 * `9ffefdef/start4.elf` or `overlays/vc4-kms-v3d.dtbo` (§3.2), so the rules below refuse, rather than
 * repair, anything else: a name that needs repairing did not come from a Pi's firmware, and one
 * spelling per file keeps the logs and the cache simple. The file layer (tftp.files.ts) checks again
 * at the file system (real paths, symlinks): this is the first of two fences, not the only one.
 */
import { parseMac } from '../../core/plugin-api';

/**
 * Why a name is refused. The first rule that fails, in this order, names the reason:
 *
 * - `empty`: no name at all. Nothing to serve.
 * - `too-long`: over {@link MAX_NAME_BYTES} bytes. Boot file names are short; a long name is a
 *   probe or garbage, and the bound keeps log lines and error packets small.
 * - `control-char`: a byte below 0x20 or 0x7f (DEL). NUL cannot arrive (it ends the name in the
 *   packet) but is treated the same. Control bytes in logs can rewrite a terminal (`\x1b[...`) or
 *   forge log lines (`\n`), and NUL truncates names in C-level APIs.
 * - `non-ascii`: a byte 0x80 or above (or, from a caller that did not decode latin1, any code point
 *   above 0x7f). Boot file names are ASCII; a non-ASCII name has no single meaning on disk (the
 *   latin1 decoding is ours, the file system's names are UTF-8 bytes).
 * - `backslash`: a `\` anywhere. It is not a separator on Linux, but it is on Windows and in some
 *   TFTP clients' minds (`a\..\b`); no boot file has one, so refusing costs nothing.
 * - `absolute`: a leading `/`. The firmware asks relative to the TFTP root; an absolute name is
 *   somebody hoping the server joins paths carelessly.
 * - `dot-dot`: any `..` segment (`../x`, `a/../../x`, `overlays/../../`): climbing out of the boot
 *   folder. Checked before the other segment rules so an attack is named as one.
 * - `dot-segment`: any `.` segment (`./config.txt`, `.`). Refused, not normalised: the firmware never
 *   sends it, and a second spelling of the same file is a second cache key and a confusing log line.
 * - `empty-segment`: `a//b`, or a trailing `/` (`config.txt/`, `....//`). No file has an empty name,
 *   and a trailing slash asks for a folder.
 *
 * Not refused, on purpose: `%2e%2e/x` (TFTP has no percent-encoding: that is a folder literally
 * named `%2e%2e`, harmless inside the boot folder); `....` or `...` (ordinary names on Linux, not
 * parent references); spaces and other printable ASCII.
 */
export type HostileNameReason =
  'empty' | 'too-long' | 'control-char' | 'non-ascii' | 'backslash' | 'absolute' | 'dot-dot' | 'dot-segment' | 'empty-segment';

/** Longest name accepted, in bytes (one latin1 character per byte). */
export const MAX_NAME_BYTES = 255;

/** Longest `TFTP_PREFIX_STR` the Pi 4 bootloader allows (§3.1). */
export const MAX_PREFIX_STR_LENGTH = 32;

/**
 * The first segment of a name with more than one segment, as the Pi's per-Pi prefix (§3.1):
 *
 * - `serial`: exactly 8 hex digits, either case, normalised to lower case. The firmware always
 *   prints the low 32 bits of the serial as 8 digits (`765fc593` for `00000000765fc593`, and serials
 *   starting `10000000` lose that part too, §3.1), so 16 digits never come from a Pi and are not
 *   treated as a serial (they are `other`): accepting them would only widen what a requester can
 *   claim to be.
 * - `mac`: `xx-xx-xx-xx-xx-xx` in hex, either case (`TFTP_PREFIX=2` sends lower case with dashes),
 *   as the canonical `aa:bb:cc:dd:ee:ff`. Only the dash form: colons, dots or bare digits are not
 *   what the firmware sends.
 * - `other`: anything else up to 32 characters: a `TFTP_PREFIX_STR`, or simply a real subfolder of
 *   the boot folder such as `overlays`. The caller cannot tell which from the name; see `fullPath`.
 *
 * A longer first segment cannot be a `TFTP_PREFIX_STR`, so it is no prefix (null).
 */
export type RequestPrefix = { kind: 'serial'; serial: string } | { kind: 'mac'; mac: string } | { kind: 'other'; value: string };

export type ParsedName =
  | {
      ok: true;
      /** The first segment read as a per-Pi prefix; null for a one-segment name. */
      prefix: RequestPrefix | null;
      /**
       * The path after the prefix when there is one (`start4.elf` for `9ffefdef/start4.elf`), else the
       * whole name. `/`-separated, no leading or trailing slash, no empty, `.` or `..` segment.
       */
      relPath: string;
      /** The whole name (same rules as relPath): for an `other` prefix, which may be a real folder. */
      fullPath: string;
    }
  | { ok: false; reason: HostileNameReason };

const SERIAL_PREFIX = /^[0-9a-f]{8}$/i;
const MAC_PREFIX = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i;

function hostile(reason: HostileNameReason): ParsedName {
  return { ok: false, reason };
}

/** The prefix a first segment stands for (see {@link RequestPrefix}). */
export function parsePrefix(segment: string): RequestPrefix | null {
  if (SERIAL_PREFIX.test(segment)) return { kind: 'serial', serial: segment.toLowerCase() };
  if (MAC_PREFIX.test(segment)) return { kind: 'mac', mac: parseMac(segment)! };
  if (segment.length <= MAX_PREFIX_STR_LENGTH) return { kind: 'other', value: segment };
  return null;
}

/**
 * Check a requested file name and split off its prefix. `raw` is the name as decoded from the
 * packet (latin1). See {@link HostileNameReason} for what is refused and why.
 */
export function parseRequestedName(raw: string): ParsedName {
  if (raw.length === 0) return hostile('empty');
  if (raw.length > MAX_NAME_BYTES) return hostile('too-long');
  let nonAscii = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return hostile('control-char');
    if (c >= 0x80) nonAscii = true;
  }
  if (nonAscii) return hostile('non-ascii');
  if (raw.includes('\\')) return hostile('backslash');
  if (raw.startsWith('/')) return hostile('absolute');
  const segments = raw.split('/');
  if (segments.includes('..')) return hostile('dot-dot');
  if (segments.includes('.')) return hostile('dot-segment');
  if (segments.includes('')) return hostile('empty-segment');

  const prefix = segments.length > 1 ? parsePrefix(segments[0]) : null;
  const relPath = prefix === null ? raw : segments.slice(1).join('/');
  return { ok: true, prefix, relPath, fullPath: raw };
}
