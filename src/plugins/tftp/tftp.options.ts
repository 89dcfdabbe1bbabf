/**
 * TFTP option negotiation for a read request: RFC 2347 (the option extension and OACK), RFC 2348
 * (`blksize`), RFC 2349 (`timeout`, `tsize`), RFC 7440 (`windowsize`).
 *
 * Pure: no I/O, no clock, no imports but a type. The server decides per request; the result tells
 * the transfer state machine (tftp.transfer.ts) its block size, window and timeout, and what OACK
 * to send.
 *
 * Rules (RFC 2347 "Negotiation Protocol": the server omits from the OACK every option it does not
 * support or accept, and the client then uses the default for it):
 * - unknown options are ignored (not echoed);
 * - `blksize`: 8..65464 (RFC 2348) accepted, clamped down to `limits.maxBlockSize` (RFC 2348 lets
 *   the server answer with a smaller size); anything else is ignored and 512 is used. Pi 4 and 5
 *   bootloaders ask 1024 or 1468 (docs/pi-netboot-protocol.md §3.3);
 * - `tsize`: in an RRQ the client sends 0 (RFC 2349 "Transfer Size Option"); any non-negative
 *   integer is accepted and the real file size is echoed. This is the Pi's size probe (§3.3);
 * - `timeout`: 1..255 seconds (RFC 2349 "Timeout Interval Option") used as given and echoed with
 *   the same value (RFC 2349: the OACK's value must match the request's); else ignored;
 * - `windowsize`: 1..65535 (RFC 7440 §3) clamped down to `limits.maxWindowSize` and echoed; else
 *   ignored (no firmware uses it, §3.3);
 * - an option sent twice (the codec already refuses that) counts once: the first wins;
 * - numbers must be plain decimal digits, at most 15 of them (so they are exact doubles): '1e3',
 *   ' 512', '512 ', '0x200', '+512', '-1', '', '5.0' are all malformed, and the option is ignored.
 *   Leading zeros are accepted ('0512' is 512), and the echoed value is the number written plainly.
 * The OACK lists accepted options in the order the client sent them; none accepted → no OACK, and
 * the data starts at once with 512-byte blocks (RFC 2347).
 */
import type { TftpOption } from './tftp.codec';

export interface TransferLimits {
  /** Largest block size granted, ≤ 65464 (RFC 2348). 1468 fills an Ethernet frame (§3.3). */
  maxBlockSize: number;
  /** Largest window granted (RFC 7440), ≥ 1. Keep it well under 32768: see tftp.transfer.ts. */
  maxWindowSize: number;
  /** Retransmission timeout when the client sends no `timeout` option, in milliseconds. */
  defaultTimeoutMs: number;
  /**
   * How many times the server resends (the OACK, or the outstanding window) after timeouts in a
   * row without progress before it gives the transfer up; 0 = never resend.
   */
  maxRetries: number;
}

export interface Negotiated {
  /** Bytes per DATA block: 512 unless `blksize` was accepted. */
  blockSize: number;
  /** Blocks sent before waiting for an ACK: 1 unless `windowsize` was accepted. */
  windowSize: number;
  /** Retransmission timeout in milliseconds: `timeout` × 1000, else `limits.defaultTimeoutMs`. */
  timeoutMs: number;
  /** Copied from `limits.maxRetries` (not negotiated), for the transfer state machine. */
  maxRetries: number;
  /** The client sent a valid `tsize`: an early ERROR is then the Pi's size probe (§3.3). */
  tsizeAsked: boolean;
  /** The OACK to send, or null: no OACK, data starts at once with 512-byte blocks. */
  oack: TftpOption[] | null;
}

export const TFTP_MIN_WINDOW_SIZE = 1;
/** RFC 7440 §3: windowsize is 1..65535. */
export const TFTP_MAX_WINDOW_SIZE = 65535;
const MAX_DIGITS = 15;

/** A plain decimal integer ('0'..'9' only, 1..15 digits), or -1 when `s` is anything else. */
export function parseDecimal(s: string): number {
  const n = s.length;
  if (n === 0 || n > MAX_DIGITS) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Negotiates the options of a read request for a file of `fileSize` bytes. */
export function negotiate(options: readonly TftpOption[], fileSize: number, limits: TransferLimits): Negotiated {
  let blockSize = 512;
  let windowSize = 1;
  let timeoutMs = limits.defaultTimeoutMs;
  let tsizeAsked = false;
  let oack: TftpOption[] | null = null;
  let seen = 0; // bit per known option already handled
  for (const o of options) {
    const name = o.name.toLowerCase();
    const v = parseDecimal(o.value);
    let echo: string | null = null;
    if (name === 'blksize') {
      if (seen & 1) continue;
      seen |= 1;
      if (v >= 8 && v <= 65464) {
        blockSize = Math.min(v, limits.maxBlockSize);
        echo = String(blockSize);
      }
    } else if (name === 'tsize') {
      if (seen & 2) continue;
      seen |= 2;
      if (v >= 0) {
        tsizeAsked = true;
        echo = String(fileSize);
      }
    } else if (name === 'timeout') {
      if (seen & 4) continue;
      seen |= 4;
      if (v >= 1 && v <= 255) {
        timeoutMs = v * 1000;
        echo = String(v);
      }
    } else if (name === 'windowsize') {
      if (seen & 8) continue;
      seen |= 8;
      if (v >= TFTP_MIN_WINDOW_SIZE && v <= TFTP_MAX_WINDOW_SIZE) {
        windowSize = Math.min(v, limits.maxWindowSize);
        echo = String(windowSize);
      }
    }
    if (echo !== null) (oack ??= []).push({ name, value: echo });
  }
  return { blockSize, windowSize, timeoutMs, maxRetries: limits.maxRetries, tsizeAsked, oack };
}
