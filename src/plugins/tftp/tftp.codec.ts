/**
 * TFTP packet codec (RFC 1350 packets, RFC 2347 option extension and OACK).
 *
 * Pure: bytes in, typed packet out, and back. No sockets, no clock, no logging, no imports at all,
 * so it also runs inside a worker thread.
 *
 * Packets (RFC 1350 §5, RFC 2347 "Packet Formats"), all numbers big-endian 16-bit:
 *   RRQ / WRQ  | opcode 1/2 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ... |
 *   DATA       | opcode 3 | block # | 0..blksize bytes of data |
 *   ACK        | opcode 4 | block # |
 *   ERROR      | opcode 5 | error code | message | 0 |
 *   OACK       | opcode 6 | opt1 | 0 | value1 | 0 | ... |           (RFC 2347)
 *
 * What decode rejects (`TftpDecodeError.reason`, stable names for logs and metrics)
 * --------------------------------------------------------------------------------
 *   too-short              fewer than 2 bytes (no opcode), or a DATA / ERROR shorter than its
 *                          4-byte header
 *   unknown-opcode         opcode outside 1..6
 *   request-too-long       an RRQ/WRQ over 512 bytes: RFC 2347 "Packet Formats": "the request
 *                          packet must not exceed 512 octets"
 *   unterminated-filename  no NUL after the file name
 *   empty-filename         the file name is empty
 *   unterminated-mode      no NUL after the mode (also: no mode at all)
 *   unknown-mode           the mode is not netascii, octet or mail (compared case-insensitively,
 *                          RFC 1350 §5: "in any combination of upper and lower case")
 *   unterminated-option    an option name or value runs to the end without its NUL
 *   option-without-value   an option name and its NUL end the packet: the value is missing
 *   duplicate-option       the same option name twice (compared case-insensitively)
 *   too-many-options       more than TFTP_MAX_OPTIONS (16) options
 *   trailing-bytes         after the options, an empty option name (a NUL) followed by anything
 *                          but more NULs. NUL padding after the last option is accepted and
 *                          ignored (tftp-hpa stops at the first empty string the same way).
 *   bad-ack-length         an ACK that is not exactly 4 bytes
 *   data-too-long          a DATA with more than 65464 bytes of data (RFC 2348 maximum blksize)
 *
 * Leniency: an ERROR whose message has no terminating NUL is accepted (the message runs to the end
 * of the packet), and bytes after the message's NUL are ignored. An ERROR only ever ends a transfer,
 * so refusing a sloppy one would gain nothing and lose the client's reason.
 *
 * Representation choices
 * ----------------------
 * - Strings (file name, mode, option names and values, error messages) are decoded as latin1: one
 *   character per byte, every byte kept, control characters included. The path-safety layer that
 *   maps a file name to a file must see exactly what was sent; this codec does not judge names.
 * - Option names are lower-cased (RFC 2347: option names are case-insensitive); values are kept as
 *   sent. The mode is lower-cased.
 * - A decoded DATA's `data` is a VIEW into the input buffer (zero-copy). Node's dgram gives every
 *   message a fresh Buffer, so that is safe; copy it to keep it after reusing the input buffer.
 *
 * Performance: decode is one pass over the bytes (NUL search by Buffer#indexOf); a DATA or ACK
 * allocates only the packet object. Encoders allocate the output once; `writeDataHeader` allocates
 * nothing, for a send path that reads file data into a reused buffer after the 4-byte header.
 */

// ---------------------------------------------------------------------------------------------
// Constants

/** The well-known TFTP server port (RFC 1350 §4). */
export const TFTP_PORT = 69;

/** RFC 1350 §5 opcodes; OACK from RFC 2347. */
export const TftpOpcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 Appendix "Error Codes"; 8 from RFC 2347 (option negotiation refused). */
export const TftpErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTid: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;

/** Block size without a `blksize` option (RFC 1350 §2). */
export const TFTP_DEFAULT_BLOCK_SIZE = 512;
/** Smallest `blksize` (RFC 2348 "Blocksize Option Specification"). */
export const TFTP_MIN_BLOCK_SIZE = 8;
/** Largest `blksize` (RFC 2348 "Blocksize Option Specification": "between 8 and 65464 octets"). */
export const TFTP_MAX_BLOCK_SIZE = 65464;
/** RFC 2347 "Packet Formats": a request must not exceed 512 octets. */
export const TFTP_MAX_REQUEST_SIZE = 512;
/** Opcode + block number in front of DATA. */
export const TFTP_DATA_HEADER_SIZE = 4;
/** bramble's cap on options in one request or OACK (RFC 2347 sets none; real clients send ≤ 4). */
export const TFTP_MAX_OPTIONS = 16;
/** `encodeError` keeps packets within 512 bytes: 4 header bytes + message + NUL. */
export const TFTP_MAX_ERROR_MESSAGE = TFTP_MAX_REQUEST_SIZE - 5;

// ---------------------------------------------------------------------------------------------
// Types

export type TftpMode = 'octet' | 'netascii' | 'mail';

/** One RFC 2347 option. `name` is lower-cased on decode; `value` is kept as sent. */
export interface TftpOption {
  name: string;
  value: string;
}

/** RRQ (1) or WRQ (2). */
export interface TftpRequestPacket {
  opcode: typeof TftpOpcode.RRQ | typeof TftpOpcode.WRQ;
  /** latin1, exactly the bytes sent (not validated as a path). */
  filename: string;
  /** Lower-cased. */
  mode: TftpMode;
  /** In the order sent. */
  options: TftpOption[];
}

export interface TftpDataPacket {
  opcode: typeof TftpOpcode.DATA;
  /** 16-bit wire block number. */
  block: number;
  /** A view into the decoded buffer. */
  data: Buffer;
}

export interface TftpAckPacket {
  opcode: typeof TftpOpcode.ACK;
  /** 16-bit wire block number. */
  block: number;
}

export interface TftpErrorPacket {
  opcode: typeof TftpOpcode.ERROR;
  code: number;
  /** latin1, up to the first NUL (or the end of the packet when there is none). */
  message: string;
}

export interface TftpOackPacket {
  opcode: typeof TftpOpcode.OACK;
  options: TftpOption[];
}

export type TftpPacket = TftpRequestPacket | TftpDataPacket | TftpAckPacket | TftpErrorPacket | TftpOackPacket;

export type TftpDecodeReason =
  | 'too-short'
  | 'unknown-opcode'
  | 'request-too-long'
  | 'unterminated-filename'
  | 'empty-filename'
  | 'unterminated-mode'
  | 'unknown-mode'
  | 'unterminated-option'
  | 'option-without-value'
  | 'duplicate-option'
  | 'too-many-options'
  | 'trailing-bytes'
  | 'bad-ack-length'
  | 'data-too-long';

/** A malformed packet. `reason` is a stable code for logs and metrics; `offset` where it was found. */
export class TftpDecodeError extends Error {
  override readonly name = 'TftpDecodeError';
  constructor(
    readonly reason: TftpDecodeReason,
    readonly offset: number,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

export type TftpEncodeReason = 'bad-block' | 'bad-code' | 'bad-string' | 'empty-filename' | 'request-too-long' | 'data-too-long';

/** A packet bramble itself asked to build wrongly (a bug, never client input). */
export class TftpEncodeError extends Error {
  override readonly name = 'TftpEncodeError';
  constructor(
    readonly reason: TftpEncodeReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decode

/** Reads `name NUL value NUL` pairs from `start` to the end of `buf` (RFC 2347 "Packet Formats"). */
function decodeOptions(buf: Buffer, start: number): TftpOption[] {
  const options: TftpOption[] = [];
  const n = buf.length;
  let i = start;
  while (i < n) {
    if (buf[i] === 0) {
      // An empty name: NUL padding after the last option is tolerated, anything else is not.
      for (let k = i + 1; k < n; k++) {
        if (buf[k] !== 0) throw new TftpDecodeError('trailing-bytes', k, `byte ${buf[k]} after the options' end at offset ${i}`);
      }
      break;
    }
    const nameEnd = buf.indexOf(0, i);
    if (nameEnd < 0) throw new TftpDecodeError('unterminated-option', i, `option name at offset ${i} has no NUL`);
    if (nameEnd + 1 >= n) throw new TftpDecodeError('option-without-value', i, `option at offset ${i} has no value`);
    const valueEnd = buf.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw new TftpDecodeError('unterminated-option', nameEnd + 1, `option value at offset ${nameEnd + 1} has no NUL`);
    if (options.length === TFTP_MAX_OPTIONS) {
      throw new TftpDecodeError('too-many-options', i, `more than ${TFTP_MAX_OPTIONS} options`);
    }
    const name = buf.toString('latin1', i, nameEnd).toLowerCase();
    for (let k = 0; k < options.length; k++) {
      if (options[k].name === name) throw new TftpDecodeError('duplicate-option', i, `option ${JSON.stringify(name)} sent twice`);
    }
    options.push({ name, value: buf.toString('latin1', nameEnd + 1, valueEnd) });
    i = valueEnd + 1;
  }
  return options;
}

function decodeRequest(buf: Buffer, opcode: 1 | 2): TftpRequestPacket {
  if (buf.length > TFTP_MAX_REQUEST_SIZE) {
    throw new TftpDecodeError('request-too-long', TFTP_MAX_REQUEST_SIZE, `${buf.length} bytes, a request has at most 512`);
  }
  const nameEnd = buf.indexOf(0, 2);
  if (nameEnd < 0) throw new TftpDecodeError('unterminated-filename', 2, 'no NUL after the file name');
  if (nameEnd === 2) throw new TftpDecodeError('empty-filename', 2, 'the file name is empty');
  const modeEnd = buf.indexOf(0, nameEnd + 1);
  if (modeEnd < 0) throw new TftpDecodeError('unterminated-mode', nameEnd + 1, 'no NUL after the mode');
  const rawMode = buf.toString('latin1', nameEnd + 1, modeEnd);
  const mode = rawMode.toLowerCase();
  if (mode !== 'octet' && mode !== 'netascii' && mode !== 'mail') {
    throw new TftpDecodeError('unknown-mode', nameEnd + 1, `mode ${JSON.stringify(rawMode)}`);
  }
  return {
    opcode,
    filename: buf.toString('latin1', 2, nameEnd),
    mode,
    options: decodeOptions(buf, modeEnd + 1),
  };
}

/** Decodes one TFTP packet. Throws TftpDecodeError (only) on malformed input. */
export function decodePacket(buf: Buffer): TftpPacket {
  const n = buf.length;
  if (n < 2) throw new TftpDecodeError('too-short', n, `${n} bytes, no opcode`);
  const opcode = (buf[0] << 8) | buf[1];
  switch (opcode) {
    case TftpOpcode.RRQ:
    case TftpOpcode.WRQ:
      return decodeRequest(buf, opcode);
    case TftpOpcode.DATA:
      if (n < TFTP_DATA_HEADER_SIZE) throw new TftpDecodeError('too-short', n, `DATA of ${n} bytes, the header is 4`);
      if (n - TFTP_DATA_HEADER_SIZE > TFTP_MAX_BLOCK_SIZE) {
        throw new TftpDecodeError('data-too-long', TFTP_DATA_HEADER_SIZE, `${n - 4} bytes of data, at most ${TFTP_MAX_BLOCK_SIZE}`);
      }
      return { opcode, block: (buf[2] << 8) | buf[3], data: buf.subarray(TFTP_DATA_HEADER_SIZE) };
    case TftpOpcode.ACK:
      if (n !== 4) throw new TftpDecodeError('bad-ack-length', Math.min(n, 4), `ACK of ${n} bytes, an ACK is 4`);
      return { opcode, block: (buf[2] << 8) | buf[3] };
    case TftpOpcode.ERROR: {
      if (n < 4) throw new TftpDecodeError('too-short', n, `ERROR of ${n} bytes, the header is 4`);
      const end = buf.indexOf(0, 4);
      return { opcode, code: (buf[2] << 8) | buf[3], message: buf.toString('latin1', 4, end < 0 ? n : end) };
    }
    case TftpOpcode.OACK:
      return { opcode, options: decodeOptions(buf, 2) };
    default:
      throw new TftpDecodeError('unknown-opcode', 0, `opcode ${opcode}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Encode

function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > 0xffff) {
    throw new TftpEncodeError('bad-block', `block ${block} is not a 16-bit wire number`);
  }
}

/** Byte length of a string that must be written as latin1 with a NUL after it. */
function cstringLength(s: string, what: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0xff) throw new TftpEncodeError('bad-string', `${what} has a NUL or a non-latin1 character at ${i}`);
  }
  return s.length + 1;
}

function optionsLength(options: readonly TftpOption[]): number {
  let len = 0;
  for (const o of options) {
    if (o.name.length === 0) throw new TftpEncodeError('bad-string', 'empty option name');
    len += cstringLength(o.name, 'option name') + cstringLength(o.value, `option ${o.name}`);
  }
  return len;
}

function writeCString(target: Buffer, s: string, at: number): number {
  const end = at + target.write(s, at, 'latin1');
  target[end] = 0;
  return end + 1;
}

function writeOptions(target: Buffer, options: readonly TftpOption[], at: number): void {
  for (const o of options) {
    at = writeCString(target, o.name, at);
    at = writeCString(target, o.value, at);
  }
}

/**
 * Writes opcode 3 and `block` (16-bit wire number) into the first 4 bytes of `target`, which the
 * caller owns and fills with data from byte 4: the zero-allocation send path (RFC 1350 §5, DATA).
 */
export function writeDataHeader(target: Buffer, block: number): void {
  checkBlock(block);
  target[0] = 0;
  target[1] = TftpOpcode.DATA;
  target[2] = block >>> 8;
  target[3] = block & 0xff;
}

/** A DATA packet: header + a copy of `chunk` (0..65464 bytes, RFC 2348). */
export function encodeData(block: number, chunk: Buffer): Buffer {
  if (chunk.length > TFTP_MAX_BLOCK_SIZE) {
    throw new TftpEncodeError('data-too-long', `${chunk.length} bytes, a block has at most ${TFTP_MAX_BLOCK_SIZE}`);
  }
  const out = Buffer.allocUnsafe(TFTP_DATA_HEADER_SIZE + chunk.length);
  writeDataHeader(out, block);
  chunk.copy(out, TFTP_DATA_HEADER_SIZE);
  return out;
}

/** An ACK for `block` (16-bit wire number). */
export function encodeAck(block: number): Buffer {
  checkBlock(block);
  return Buffer.from([0, TftpOpcode.ACK, block >>> 8, block & 0xff]);
}

/**
 * An ERROR packet (RFC 1350 §5). RFC 1350 asks for a netascii message; every character outside
 * printable ASCII (0x20..0x7e; control characters, DEL, anything non-ASCII) becomes '?', and the
 * message is cut to TFTP_MAX_ERROR_MESSAGE (507) characters so the packet stays ≤ 512 bytes.
 * `code` is a 16-bit integer (normally a TftpErrorCode).
 */
export function encodeError(code: number, message: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new TftpEncodeError('bad-code', `error code ${code}`);
  const len = Math.min(message.length, TFTP_MAX_ERROR_MESSAGE);
  const out = Buffer.allocUnsafe(4 + len + 1);
  out[0] = 0;
  out[1] = TftpOpcode.ERROR;
  out[2] = code >>> 8;
  out[3] = code & 0xff;
  for (let i = 0; i < len; i++) {
    const c = message.charCodeAt(i);
    out[4 + i] = c >= 0x20 && c <= 0x7e ? c : 0x3f;
  }
  out[4 + len] = 0;
  return out;
}

/** An OACK (RFC 2347) listing `options` in order. Names and values: latin1 without NUL. */
export function encodeOack(options: readonly TftpOption[]): Buffer {
  const out = Buffer.allocUnsafe(2 + optionsLength(options));
  out[0] = 0;
  out[1] = TftpOpcode.OACK;
  writeOptions(out, options, 2);
  return out;
}

/**
 * An RRQ or WRQ (RFC 1350 §5, options RFC 2347), for test clients and benchmarks. Refuses what
 * `decodePacket` would refuse: an empty file name, NULs or non-latin1 characters, over 512 bytes.
 */
export function encodeRequest(
  opcode: TftpRequestPacket['opcode'],
  filename: string,
  mode: TftpMode,
  options: readonly TftpOption[] = [],
): Buffer {
  if (filename.length === 0) throw new TftpEncodeError('empty-filename', 'the file name is empty');
  const size = 2 + cstringLength(filename, 'file name') + cstringLength(mode, 'mode') + optionsLength(options);
  if (size > TFTP_MAX_REQUEST_SIZE) throw new TftpEncodeError('request-too-long', `${size} bytes, a request has at most 512`);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0;
  out[1] = opcode;
  let at = writeCString(out, filename, 2);
  at = writeCString(out, mode, at);
  writeOptions(out, options, at);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Netascii

/**
 * Converts file bytes to netascii (RFC 1350 §1 and §5 point to the Telnet NVT of RFC 764): LF
 * becomes CR LF and a bare CR becomes CR NUL. Each byte is converted on its own, the way tftp-hpa
 * does, so a CR LF already in the file becomes CR NUL CR LF. Returns `data` itself when it holds
 * neither byte. Netascii-mode requests are served from this converted copy (its length is what
 * `tsize` reports); Pi firmware always asks octet (docs/pi-netboot-protocol.md §3.3), tftp-hpa's
 * client asks netascii by default.
 */
export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === 0x0a || b === 0x0d) extra++;
  }
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (b === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else {
      out[o++] = b;
    }
  }
  return out;
}
