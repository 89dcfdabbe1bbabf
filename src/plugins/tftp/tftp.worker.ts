/**
 * The TFTP data path: a worker thread that runs every transfer (tftp.libc.ts says why it is not
 * node:dgram on the event loop). I/O only: each datagram goes to the pure transfer machine
 * (tftp.transfer.ts), and its effects are carried out here.
 *
 * The main thread (tftp.server.ts) decides each request, opens the file, creates the transfer's
 * socket (connected to the client: a new TID, RFC 1350 §4, whose kernel drops datagrams from any
 * other peer) and posts it here with the file's bytes (shared memory, not copied). This loop
 * blocks in epoll_wait on those sockets and on an eventfd the main thread signals after posting.
 * It posts back one message per finished transfer and, twice a second, the counters.
 *
 * Nothing a client sends can throw out of here: a datagram that is not an ACK or an ERROR is
 * counted and ignored, the transfer goes on, and its timer resends when the real ACK is lost.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodeOack, TftpDecodeError, TftpOpcode } from './tftp.codec';
import {
  addressOf,
  EAGAIN,
  ECONNREFUSED,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLIN,
  loadLibc,
  MSG_DONTWAIT,
  sendmmsgLayout,
  writeWord,
  type MessageLayout,
} from './tftp.libc';
import type { Negotiated } from './tftp.options';
import { onAck, onClientError, onTimer, startTransfer, type Step, type TransferEffect, type TransferState } from './tftp.transfer';

/** main → worker */
/** A transfer with nothing acknowledged this long may be superseded by a new request from its port. */
export const SUPERSEDE_AFTER_MS = 500;

export type WorkerRequest =
  | { type: 'start'; id: number; fd: number; data: Uint8Array; negotiated: Negotiated }
  /**
   * A new request came from this transfer's peer while the transfer has had no block acknowledged
   * for SUPERSEDE_AFTER_MS: the client is not in it (it never got the OACK, or it ended a size probe
   * with an ERROR that was lost, and asks again after its own timeout). The transfer ends as a
   * `probe` so the new request can be served; a transfer under way, or a younger one, is left
   * alone (the new request stays a duplicate).
   */
  | { type: 'supersede'; id: number; fd: number }
  /** Ends every transfer (closing its socket) and the loop. */
  | { type: 'stop' };

export type DoneEffect = Extract<TransferEffect, { type: 'done' }>;

export interface WorkerCounters {
  /** Datagrams on transfer sockets that were neither a well-formed ACK nor an ERROR, by reason. */
  malformed: Record<string, number>;
  /** Sends the kernel refused for lack of buffer space (the timer resends). */
  sendFailures: number;
  /** Blocks sent again after a timeout. */
  retransmissions: number;
  /** DATA bytes sent, retransmissions included. */
  bytesSent: number;
  active: number;
}

/** worker → main */
export type WorkerReport =
  /** `epollFd`: closed by the main thread if this worker dies without closing it. */
  | { type: 'ready'; epollFd: number }
  | { type: 'done'; id: number; done: DoneEffect }
  | { type: 'counters'; counters: WorkerCounters }
  | { type: 'stopped' };

export interface WorkerInit {
  /** eventfd the main thread signals after posting on `port`. */
  wakeFd: number;
  /**
   * One Int32 in shared memory: the main thread sets it to 1 when it signals wakeFd and signals
   * only when it was 0; the loop sets it back to 0 after it reads wakeFd and before it drains
   * `port`, so a request posted after that is signalled again and none waits unseen.
   */
  wakePending: Int32Array;
  port: MessagePort;
}

interface Transfer {
  id: number;
  fd: number;
  state: TransferState;
  batch: MessageBatch;
}

/**
 * The DATA packets of one window, sent with one sendmmsg(2) and without copying the file: each
 * message is two iovecs, the 4-byte header (kept here) and the block, pointing into the file's
 * shared bytes. The structures' layout comes from koffi (sendmmsgLayout); the socket is connected,
 * so no msg_name.
 */
class MessageBatch {
  readonly messages: Buffer;
  /** addressOf(messages), for sendmmsgAt. */
  readonly messagesAddress: number;
  private readonly iovecs: Buffer;
  private readonly headers: Buffer;
  private readonly dataAddress: number;
  count = 0;

  constructor(
    readonly capacity: number,
    /** Held here, beside the raw addresses into it (dataAddress): the bytes stay alive while they are sent. */
    private readonly data: Buffer,
    private readonly l: MessageLayout,
  ) {
    this.messages = Buffer.alloc(l.mmsghdr * capacity);
    this.messagesAddress = addressOf(this.messages);
    this.iovecs = Buffer.alloc(2 * l.iovec * capacity);
    this.headers = Buffer.alloc(4 * capacity);
    this.dataAddress = data.length > 0 ? addressOf(data) : 0;
    const iovecsAddress = addressOf(this.iovecs);
    const headersAddress = addressOf(this.headers);
    for (let i = 0; i < capacity; i++) {
      const message = l.mmsghdr * i;
      const header = 2 * l.iovec * i;
      writeWord(this.messages, message + l.msgIov, iovecsAddress + header, l);
      writeWord(this.messages, message + l.msgIovlen, 2, l);
      writeWord(this.iovecs, header + l.iovBase, headersAddress + 4 * i, l);
      writeWord(this.iovecs, header + l.iovLen, 4, l);
      this.headers.writeUInt16BE(TftpOpcode.DATA, 4 * i);
    }
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  add(block: number, offset: number, length: number): void {
    const i = this.count++;
    const l = this.l;
    const iov = 2 * l.iovec * i + l.iovec;
    this.headers.writeUInt16BE(block, 4 * i + 2);
    writeWord(this.iovecs, iov + l.iovBase, this.dataAddress + offset, l);
    writeWord(this.iovecs, iov + l.iovLen, length, l);
  }

  /** Bytes the kernel says it sent of message `i` (after sendmmsg). */
  sentBytes(i: number): number {
    return this.messages.readUInt32LE(this.l.mmsghdr * i + this.l.msgLen);
  }
}

/** The longest the loop sleeps with transfers running: the resolution of retransmission timers. */
const TIMER_TICK_MS = 50;
/**
 * How long the loop polls without sleeping while transfers run. One 50 MiB transfer at blksize
 * 1468 on a veth (curl): 1.07–1.36 s sleeping in epoll_wait at once, 0.83–1.03 s with 0.1 ms of
 * polling first (dnsmasq in the same runs: 1.10–1.34 s). The cost is at most this much CPU per
 * wake-up, and only while transfers run.
 */
const SPIN_MS = 0.1;
/**
 * Busy-poll only while this few transfers run. With many, the loop seldom finds nothing to do,
 * and a poll that does takes CPU the clients' side of the machine or the main thread could use:
 * in the 100-Pi storm (bench/boot-storm.bench.ts) the worker's CPU per block went from 14.7 µs
 * to 13.1–14.3 µs without it (perf stat, 5 s windows; koffi address arguments came in the same
 * change).
 */
const SPIN_MAX_TRANSFERS = 4;
/** The longest the loop sleeps when idle: bounds how long terminate() and process exit wait for it. */
const IDLE_TICK_MS = 200;
const MAX_EVENTS = 256;
const COUNTERS_EVERY_MS = 500;

function runLoop(init: WorkerInit): void {
  const c = loadLibc();
  const messageLayout = sendmmsgLayout();
  const ep = c.epollCreate1(0o2000000);
  if (ep < 0) throw new Error(`epoll_create1: ${c.strerror(c.errno())}`);
  const register = (fd: number): boolean => {
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeInt32LE(fd, 4);
    return c.epollCtl(ep, EPOLL_CTL_ADD, fd, ev) === 0;
  };
  register(init.wakeFd);

  const transfers = new Map<number, Transfer>();
  const events = Buffer.alloc(12 * MAX_EVENTS);
  const eventsAddress = addressOf(events);
  const recvBuffer = Buffer.alloc(65536);
  const recvAddress = addressOf(recvBuffer);
  const wakeBuffer = Buffer.alloc(8);
  const counters: WorkerCounters = { malformed: {}, sendFailures: 0, retransmissions: 0, bytesSent: 0, active: 0 };
  let lastTimerScan = performance.now();
  let lastCounters = 0;
  let running = true;

  const report = (message: WorkerReport): void => init.port.postMessage(message);

  function finish(t: Transfer, done: DoneEffect): void {
    c.epollCtl(ep, EPOLL_CTL_DEL, t.fd, null);
    c.close(t.fd);
    transfers.delete(t.fd);
    report({ type: 'done', id: t.id, done });
  }

  /** Sends the batched DATA packets; those the kernel refuses (no buffer space) wait for the timer. */
  function flush(t: Transfer): void {
    const batch = t.batch;
    if (batch.count === 0) return;
    const sent = c.sendmmsgAt(t.fd, batch.messagesAddress, batch.count, MSG_DONTWAIT);
    const ok = sent < 0 ? 0 : sent;
    for (let i = 0; i < ok; i++) counters.bytesSent += batch.sentBytes(i) - 4;
    counters.sendFailures += batch.count - ok;
    batch.count = 0;
  }

  function apply(t: Transfer, step: Step): void {
    const resentBefore = t.state ? t.state.retransmissions : 0;
    t.state = step.state;
    for (const effect of step.effects) {
      if (effect.type !== 'send-data') flush(t);
      switch (effect.type) {
        case 'send-data':
          if (t.batch.full) flush(t);
          t.batch.add(effect.block, effect.offset, effect.length);
          break;
        case 'send-oack': {
          const oack = encodeOack(effect.options);
          if (c.send(t.fd, oack, oack.length, MSG_DONTWAIT) < 0) counters.sendFailures++;
          break;
        }
        case 'done':
          finish(t, effect);
          break;
      }
    }
    flush(t);
    counters.retransmissions += step.state.retransmissions - resentBefore;
  }

  function start(request: Extract<WorkerRequest, { type: 'start' }>): void {
    const data = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength);
    const t: Transfer = {
      id: request.id,
      fd: request.fd,
      state: undefined as unknown as TransferState,
      batch: new MessageBatch(request.negotiated.windowSize, data, messageLayout),
    };
    if (!register(request.fd)) {
      c.close(request.fd);
      report({
        type: 'done',
        id: request.id,
        done: {
          type: 'done',
          outcome: 'client-error',
          bytes: 0,
          blocks: 0,
          retransmissions: 0,
          durationMs: 0,
          blockSize: request.negotiated.blockSize,
          windowSize: request.negotiated.windowSize,
          detail: `epoll_ctl: ${c.strerror(c.errno())}`,
        },
      });
      return;
    }
    transfers.set(request.fd, t);
    apply(t, startTransfer(request.negotiated, data.length, performance.now()));
  }

  function supersede(request: Extract<WorkerRequest, { type: 'supersede' }>): void {
    const t = transfers.get(request.fd);
    if (!t || t.id !== request.id || t.state.acked >= 0) return;
    // Younger than this, the request is a plain duplicate (sent twice, or crossed with our OACK):
    // the client may still take the OACK on its way. Older, the client has waited out its own
    // timeout without taking it: it is not in this transfer.
    if (performance.now() - t.state.startedAt < SUPERSEDE_AFTER_MS) return;
    finish(t, {
      type: 'done',
      outcome: 'probe',
      bytes: 0,
      blocks: 0,
      retransmissions: t.state.retransmissions,
      durationMs: 0,
      blockSize: t.state.blockSize,
      windowSize: t.state.windowSize,
      detail: 'superseded by a new request from the same port',
    });
  }

  function drainMessages(): void {
    // Taken, then cleared, then drained: a request posted after the clear is signalled again; one
    // posted before it is drained below (cleared before the read, a signal consumed by the read
    // would leave the flag set with no signal pending, and the next request unseen).
    c.read(init.wakeFd, wakeBuffer, 8);
    Atomics.store(init.wakePending, 0, 0);
    for (let m = receiveMessageOnPort(init.port); m; m = receiveMessageOnPort(init.port)) {
      const request = m.message as WorkerRequest;
      if (request.type === 'start') start(request);
      else if (request.type === 'supersede') supersede(request);
      else if (request.type === 'stop') running = false;
    }
  }

  function readable(t: Transfer, now: number): void {
    const len = c.recvAt(t.fd, recvAddress, recvBuffer.length, MSG_DONTWAIT);
    if (len < 0) {
      const errno = c.errno();
      if (errno === EAGAIN) return;
      // ICMP port unreachable for an earlier send: the client is gone (or never listened).
      if (errno === ECONNREFUSED) apply(t, onClientError(t.state, 0, 'port unreachable', now));
      return;
    }
    // The common case, without decoding: ACK = 00 04 + block.
    if (len === 4 && recvBuffer[0] === 0 && recvBuffer[1] === TftpOpcode.ACK) {
      apply(t, onAck(t.state, recvBuffer.readUInt16BE(2), now));
      return;
    }
    try {
      const packet = decodePacket(recvBuffer.subarray(0, len));
      if (packet.opcode === TftpOpcode.ERROR) apply(t, onClientError(t.state, packet.code, packet.message, now));
      else if (packet.opcode === TftpOpcode.ACK) apply(t, onAck(t.state, packet.block, now));
      else counters.malformed['unexpected-opcode'] = (counters.malformed['unexpected-opcode'] ?? 0) + 1;
    } catch (error) {
      const reason = error instanceof TftpDecodeError ? error.reason : 'undecodable';
      counters.malformed[reason] = (counters.malformed[reason] ?? 0) + 1;
    }
  }

  report({ type: 'ready', epollFd: ep });
  while (running) {
    let n = 0;
    if (transfers.size > SPIN_MAX_TRANSFERS) {
      n = c.epollWaitAt(ep, eventsAddress, MAX_EVENTS, TIMER_TICK_MS);
    } else if (transfers.size > 0) {
      // Busy-poll for a moment before sleeping, as the kernel's busy_poll does: a lock-step
      // transfer's speed is its round trip, and the next ACK usually comes within SPIN_MS; going
      // to sleep and being woken costs more than that wait.
      const until = performance.now() + SPIN_MS;
      do n = c.epollWaitAt(ep, eventsAddress, MAX_EVENTS, 0);
      while (n === 0 && performance.now() < until);
      if (n === 0) n = c.epollWaitAt(ep, eventsAddress, MAX_EVENTS, TIMER_TICK_MS);
    } else {
      // Never an endless wait: a worker inside a native call cannot be terminated (process exit waits for it).
      n = c.epollWaitAt(ep, eventsAddress, MAX_EVENTS, IDLE_TICK_MS);
    }
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const fd = events.readInt32LE(12 * i + 4);
      if (fd === init.wakeFd) {
        drainMessages();
        continue;
      }
      const t = transfers.get(fd);
      if (t) readable(t, now);
    }
    if (now - lastTimerScan >= TIMER_TICK_MS) {
      lastTimerScan = now;
      for (const t of [...transfers.values()]) if (now >= t.state.deadline) apply(t, onTimer(t.state, now));
    }
    if (now - lastCounters >= COUNTERS_EVERY_MS) {
      lastCounters = now;
      counters.active = transfers.size;
      report({ type: 'counters', counters: { ...counters, malformed: { ...counters.malformed } } });
    }
  }
  for (const t of [...transfers.values()]) {
    c.epollCtl(ep, EPOLL_CTL_DEL, t.fd, null);
    c.close(t.fd);
    transfers.delete(t.fd);
  }
  c.close(ep);
  counters.active = 0;
  report({ type: 'counters', counters });
  report({ type: 'stopped' });
}

if (parentPort && workerData && (workerData as { tftpWorker?: boolean }).tftpWorker) {
  const init = workerData as WorkerInit & { tftpWorker: true };
  runLoop(init);
}
