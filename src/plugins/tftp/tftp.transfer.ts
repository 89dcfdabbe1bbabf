/**
 * The read-transfer state machine of the TFTP server (RFC 1350, OACK RFC 2347, windows RFC 7440),
 * separate from any socket: events in (ACK, client ERROR, timer), effects out (send the OACK, send
 * a DATA block from a file range, done). The caller owns the socket, the file and the timer.
 *
 * Pure and cheap: it runs once per packet on the hot path. Each event returns a new small state
 * object and an effects array; an event that changes nothing (a duplicate ACK, a timer before its
 * deadline, anything after the end) returns the same state and a shared empty, frozen array.
 * Time comes in as `now` (milliseconds, any monotonic clock); nothing here reads a clock.
 *
 * Blocks
 * ------
 * A file of `size` bytes has floor(size / blockSize) + 1 blocks, numbered 1..N: the last is shorter
 * than blockSize, so a file of an exact multiple ends with an empty DATA and an empty file is one
 * empty block (RFC 1350 §6). The OACK counts as block 0: the client acknowledges it with ACK 0
 * (RFC 2347). Internally blocks are absolute numbers; on the wire they are 16 bits and roll over
 * to 0 after 65535 (docs/pi-netboot-protocol.md §3.3: "Roll over (to 0)"; Pi bootloaders before
 * 2025-09-23 fail on it, see `expectsRollover`). A wire ACK is mapped to the absolute block inside
 * the outstanding window, which has at most 65535 blocks, so the mapping is unique. An ACK for a
 * block outside the window (a duplicate, an old one) is ignored. With a window W close to 65535 an
 * OLD ACK (two or more windows back) could alias a block of the current window: keep
 * `maxWindowSize` small (RFC 7440 §4 measured gains up to 64 or so).
 *
 * Flow
 * ----
 * With an OACK: send it and wait for ACK 0. Without: send block 1 at once. Then send up to W
 * blocks (the window, RFC 7440; W = 1 without `windowsize`) and wait:
 * - an ACK for the last block of the window sends the next window;
 * - an ACK for an earlier block of the window means the blocks after it were lost (RFC 7440 §4:
 *   the receiver acknowledges the last block it got in order): a new window starts right after it;
 * - an ACK for a block already acknowledged is IGNORED: resending because of a duplicate ACK is the
 *   Sorcerer's Apprentice bug (RFC 1123 §4.2.3.1), and Pi firmware copes badly with duplicate data
 *   (docs §3.3, "Retransmit on timeout only");
 * - the ACK of the last block ends the transfer: done 'complete'.
 *
 * Timeouts: `deadline` is when the caller should call `onTimer` next (it may call it any time:
 * before the deadline it does nothing). Each event that makes progress (an ACK of an outstanding
 * block) sets `deadline = now + timeoutMs` and resets the retry count. When the deadline passes
 * without progress, the OACK (OACK phase) or the whole outstanding window, from the first
 * unacknowledged block, is sent again, `retransmissions` grows by the number of packets resent,
 * and `deadline = now + timeoutMs`. After `maxRetries` such resends in a row without progress the
 * next deadline ends the transfer: done 'timeout'. So the client gets (maxRetries + 1) ×
 * timeoutMs after the last progress before the server gives up.
 *
 * Client ERRORs: with `tsize` in the request, an ERROR with code 0 or 8 in the OACK phase or
 * after at most the first data block was acknowledged is the Pi firmware's size probe ("Early
 * terminate", docs §3.3): done 'probe', not a failure. Any other client ERROR: done 'client-error',
 * detail `code N: message`.
 */
import type { TftpOption } from './tftp.codec';
import type { Negotiated } from './tftp.options';

export type TransferOutcome = 'complete' | 'probe' | 'client-error' | 'timeout';

export interface SendOackEffect {
  type: 'send-oack';
  options: TftpOption[];
}

export interface SendDataEffect {
  type: 'send-data';
  /** 16-bit wire block number. */
  block: number;
  /** Byte range of the file (of the netascii copy for netascii requests). */
  offset: number;
  length: number;
}

export interface DoneEffect {
  type: 'done';
  outcome: TransferOutcome;
  /** Bytes acknowledged by the client (the file size when complete). */
  bytes: number;
  /** Data blocks acknowledged (all of them when complete). */
  blocks: number;
  /** Packets (OACK or DATA) sent again after timeouts. */
  retransmissions: number;
  /** From `startTransfer`'s `now` to this event's `now`. */
  durationMs: number;
  blockSize: number;
  windowSize: number;
  /** For 'probe' and 'client-error': `code N: message`; for 'timeout': how far it got. */
  detail?: string;
}

export type TransferEffect = SendOackEffect | SendDataEffect | DoneEffect;

export interface TransferState {
  readonly size: number;
  readonly blockSize: number;
  readonly windowSize: number;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Blocks in the file: blockCount(size, blockSize). */
  readonly totalBlocks: number;
  /** The OACK, kept for resending; null when none was sent. */
  readonly oack: TftpOption[] | null;
  /** The request had `tsize`: an early ERROR is a probe. */
  readonly tsizeAsked: boolean;
  /** Highest absolute block acknowledged: -1 while the OACK waits for ACK 0, 0 before any data. */
  readonly acked: number;
  /** Highest absolute block sent (the window is acked+1 .. sent; 0 = the OACK). */
  readonly sent: number;
  /** Timeouts in a row without progress (resends so far). */
  readonly retries: number;
  readonly retransmissions: number;
  readonly startedAt: number;
  /** When `onTimer` should be called next. */
  readonly deadline: number;
  readonly finished: boolean;
}

export interface Step {
  state: TransferState;
  effects: readonly TransferEffect[];
}

const NO_EFFECTS: readonly TransferEffect[] = Object.freeze([]);

/** Blocks needed for `size` bytes: floor(size / blockSize) + 1 (the last one short, maybe empty). */
export function blockCount(size: number, blockSize: number): number {
  return Math.floor(size / blockSize) + 1;
}

/**
 * True when the file needs more than 65535 blocks, so block numbers roll over to 0: Pi bootloaders
 * older than 2025-09-23 fail on that (docs/pi-netboot-protocol.md §3.3); the server warns.
 */
export function expectsRollover(size: number, blockSize: number): boolean {
  return blockCount(size, blockSize) > 0xffff;
}

/**
 * A state like `s` with the fields that change replaced. Every state is built here, all fields in
 * one order: one object shape on the hot path (an object spread made V8 copy each state through its
 * slow generic path: a fifth of the transfer worker's own CPU time in the 50-Pi benchmark).
 */
function next(
  s: TransferState,
  acked: number,
  sent: number,
  retries: number,
  retransmissions: number,
  deadline: number,
  finished: boolean,
): TransferState {
  return {
    size: s.size,
    blockSize: s.blockSize,
    windowSize: s.windowSize,
    timeoutMs: s.timeoutMs,
    maxRetries: s.maxRetries,
    totalBlocks: s.totalBlocks,
    oack: s.oack,
    tsizeAsked: s.tsizeAsked,
    acked,
    sent,
    retries,
    retransmissions,
    startedAt: s.startedAt,
    deadline,
    finished,
  };
}

/** Pushes DATA effects for blocks from..min(from + W - 1, total); returns the last block sent. */
function pushWindow(s: TransferState, from: number, effects: TransferEffect[]): number {
  const last = Math.min(from + s.windowSize - 1, s.totalBlocks);
  for (let b = from; b <= last; b++) {
    const offset = (b - 1) * s.blockSize;
    effects.push({ type: 'send-data', block: b & 0xffff, offset, length: Math.min(s.blockSize, s.size - offset) });
  }
  return last;
}

function done(s: TransferState, outcome: TransferOutcome, now: number, detail?: string): Step {
  const complete = outcome === 'complete';
  const blocks = complete ? s.totalBlocks : Math.max(0, s.acked);
  const effect: DoneEffect = {
    type: 'done',
    outcome,
    bytes: complete ? s.size : Math.min(blocks * s.blockSize, s.size),
    blocks,
    retransmissions: s.retransmissions,
    durationMs: now - s.startedAt,
    blockSize: s.blockSize,
    windowSize: s.windowSize,
  };
  if (detail !== undefined) effect.detail = detail;
  return { state: next(s, complete ? s.totalBlocks : s.acked, s.sent, s.retries, s.retransmissions, s.deadline, true), effects: [effect] };
}

/**
 * Starts a read transfer of a file of `size` bytes with what `negotiate` gave: sends the OACK, or
 * the first window when there is none.
 */
export function startTransfer(neg: Negotiated, size: number, now: number): Step {
  const base: TransferState = {
    size,
    blockSize: neg.blockSize,
    windowSize: neg.windowSize,
    timeoutMs: neg.timeoutMs,
    maxRetries: neg.maxRetries,
    totalBlocks: blockCount(size, neg.blockSize),
    oack: neg.oack,
    tsizeAsked: neg.tsizeAsked,
    acked: -1,
    sent: 0,
    retries: 0,
    retransmissions: 0,
    startedAt: now,
    deadline: now + neg.timeoutMs,
    finished: false,
  };
  if (neg.oack !== null) return { state: base, effects: [{ type: 'send-oack', options: neg.oack }] };
  const effects: TransferEffect[] = [];
  const sent = pushWindow(base, 1, effects);
  return { state: next(base, 0, sent, 0, 0, base.deadline, false), effects };
}

/** The client acknowledged `wireBlock` (16-bit). */
export function onAck(state: TransferState, wireBlock: number, now: number): Step {
  if (state.finished) return { state, effects: NO_EFFECTS };
  const first = state.acked + 1;
  const abs = first + ((wireBlock - first) & 0xffff);
  if (abs > state.sent) return { state, effects: NO_EFFECTS }; // duplicate, old or bogus: ignored
  if (abs === state.totalBlocks) return done(state, 'complete', now);
  const effects: TransferEffect[] = [];
  const sent = pushWindow(state, abs + 1, effects);
  return { state: next(state, abs, sent, 0, state.retransmissions, now + state.timeoutMs, false), effects };
}

/** The client sent an ERROR packet (RFC 1350 §7: it ends the transfer, no reply). */
export function onClientError(state: TransferState, code: number, message: string, now: number): Step {
  if (state.finished) return { state, effects: NO_EFFECTS };
  const detail = `code ${code}: ${message}`;
  const probe = state.tsizeAsked && state.acked <= 1 && (code === 0 || code === 8);
  return done(state, probe ? 'probe' : 'client-error', now, detail);
}

/** The timer fired. Before `state.deadline` (or after the end) nothing happens. */
export function onTimer(state: TransferState, now: number): Step {
  if (state.finished || now < state.deadline) return { state, effects: NO_EFFECTS };
  if (state.retries >= state.maxRetries) {
    const where = state.acked < 0 ? 'waiting for ACK 0 of the OACK' : `block ${state.acked} of ${state.totalBlocks} acknowledged`;
    return done(state, 'timeout', now, `${state.retries + 1} timeouts of ${state.timeoutMs} ms in a row, ${where}`);
  }
  const effects: TransferEffect[] = [];
  if (state.acked < 0 && state.oack !== null) effects.push({ type: 'send-oack', options: state.oack });
  else pushWindow(state, state.acked + 1, effects);
  return {
    state: next(state, state.acked, state.sent, state.retries + 1, state.retransmissions + effects.length, now + state.timeoutMs, false),
    effects,
  };
}
