/**
 * The TFTP data path: a worker thread that runs every transfer (tftp.libc.ts says why it is not
 * node:dgram on the event loop) and reads udp/69's requests. I/O only: each datagram goes to the
 * pure transfer machine (tftp.transfer.ts), and its effects are carried out here.
 *
 * Requests: the loop reads udp/69 at each turn, ahead of the transfers' ACKs. A request it can
 * decide from its copy of the clients, images, pins and checked files (tftp.mirror.ts says which)
 * starts here at once: its socket (connected to the client: a new TID, RFC 1350 §4, whose kernel
 * drops datagrams from any other peer) and its OACK or first block. Any other is forwarded to the
 * main thread (tftp.server.ts), which decides it, opens the file, creates the socket and posts the
 * transfer back with the file's bytes (shared memory, not copied), or answers it with an ERROR and
 * says it has settled. A request from the port of a running transfer, or of one being decided
 * there, always goes to the main thread, which owns the rules for duplicates.
 *
 * This loop blocks in epoll_wait on udp/69, the transfers' sockets and an eventfd the main thread
 * signals after posting. Once per turn it posts what happened, in order: transfers it started,
 * requests it forwarded, transfers that ended; and, twice a second, the counters.
 *
 * Nothing a client sends can throw out of here: a datagram that is not an ACK or an ERROR is
 * counted and ignored, the transfer goes on, and its timer resends when the real ACK is lost.
 */
import { closeSync, openSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodeOack, TftpDecodeError, TftpOpcode, type TftpPacket } from './tftp.codec';
import {
  addressOf,
  CLONE_NEWNET,
  createTftpSocket,
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
import { checkNow, DEFAULT_REVALIDATE_AFTER_MS, nodeBootFilesFs, readNow } from './tftp.files';
import { RequestMirror, type MirrorUpdate } from './tftp.mirror';
import { negotiate, type Negotiated, type TransferLimits } from './tftp.options';
import { onAck, onClientError, onTimer, startTransfer, type Step, type TransferEffect, type TransferState } from './tftp.transfer';

/** main → worker */
/** A transfer with nothing acknowledged this long may be superseded by a new request from its port. */
export const SUPERSEDE_AFTER_MS = 500;

/** Transfers running at once from one client address: a Pi reads one file at a time (a few with probes). */
export const MAX_TRANSFERS_PER_CLIENT = 8;
/** Transfers running at once in all: 500 Pis booting together read about one file each. */
export const MAX_TRANSFERS = 1024;
/**
 * Send and receive buffers of a transfer socket with a window (64 blocks of 1468 bytes fit). A
 * lock-step transfer (every Pi's) has one block in flight and keeps the kernel's defaults: two
 * setsockopt calls fewer on the path of each request.
 */
export const TRANSFER_BUFFER_BYTES = 256 * 1024;

/** What a transfer socket is bound to, and the limits a request negotiates within. */
export interface WorkerConfig {
  serverIp: string | null;
  iface: string | null;
  limits: TransferLimits;
}

export type WorkerRequest =
  /**
   * A transfer the main thread decided. `fwd`: the forwarded request it answers (absent when it
   * is not one: a request the worker before a restart forwarded).
   */
  | { type: 'start'; id: number; fd: number; data: Uint8Array; negotiated: Negotiated; peer: string; fwd?: number }
  /** The forwarded request `fwd` ended without a transfer (refused, not found, a duplicate, malformed). */
  | { type: 'settled'; fwd: number }
  | { type: 'mirror'; update: MirrorUpdate }
  | { type: 'config'; config: WorkerConfig }
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
  /** Requests started by the worker itself. */
  fastStarted: number;
  /** Requests forwarded to the main thread, by why (tftp.mirror.ts's reasons, `busy-port`, `no-socket`, `off`, `malformed`). */
  forwarded: Record<string, number>;
  /** Requests dropped because the main thread had MAX_FORWARDS undecided: it is not keeping up. */
  shed: number;
  /** Requests that waited for a file the main thread was opening (see PARK_MS), and of those, how many it then served. */
  parked: number;
  parkedServed: number;
  /** Requests from the port of a request waiting so: the same request sent again (answered once). */
  duplicates: number;
  /** Small files the worker read itself (READ_HERE_MAX_BYTES). */
  readHere: number;
}

/**
 * What the worker started itself: the main thread records it as if it had started it (its port
 * busy, its facts when it ends, the pin renewed).
 */
export interface StartedNote {
  kind: 'started';
  id: number;
  fd: number;
  peer: string;
  ip: string;
  mac: string;
  imageId: string;
  version: number;
  /** The boot's first request: the worker pinned the version (tftp.mirror.ts). */
  newPin: boolean;
  /** A generated file's text (kept under generatedRoot by the main thread). */
  generated: string | null;
  /** The file inside the boot folder, and the name as asked (serial folder notes). */
  file: string;
  filename: string;
  bytes: number;
  blockSize: number;
}

export interface ForwardedRequest {
  kind: 'request';
  fwd: number;
  /** The datagram as received (its own memory). */
  msg: Uint8Array;
  address: string;
  port: number;
}

export type BatchItem = StartedNote | ForwardedRequest | { kind: 'done'; id: number; done: DoneEffect };

/** worker → main */
export type WorkerReport =
  /** `epollFd`: closed by the main thread if this worker dies without closing it. */
  | { type: 'ready'; epollFd: number }
  /** One turn's events, in the order they happened. */
  | { type: 'batch'; items: BatchItem[] }
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
  /** udp/69 (owned by the main thread, which also sends its ERROR answers from it). */
  requestFd: number;
  /** Whether the worker starts requests itself (tftp.mirror.ts); else it forwards them all. */
  fastPath: boolean;
  /** The network namespace (a name under /run/netns) its transfer sockets are made in; null: the process's. */
  netns: string | null;
  config: WorkerConfig;
}

/** Requests read from udp/69 per turn at most: the running transfers get their turn too under a flood. */
const MAX_REQUESTS_PER_TURN = 64;
/** Forwarded requests the main thread has not settled yet, at most; past it requests are shed (udp/69's queue would have dropped them). */
const MAX_FORWARDS = 512;
/**
 * Parking: when a file has to be opened by the main thread (the first request for it, or the
 * first after it changed), the requests for it that come while that one is forwarded wait here,
 * up to this long, instead of going to the main thread too: in a storm that is the next 99 Pis,
 * all at once. They are decided again when the file arrives, else forwarded after the wait.
 */
const PARK_MS = 30;
/**
 * Files up to this size the worker reads itself when it has not got them (the device trees,
 * overlays, fixup and config files of a boot): a read from the page cache is microseconds, and
 * blocking the loop for it costs the running transfers less than the wait for the main thread
 * costs every Pi asking. Larger ones (kernels, initramfs, start*.elf) are the main thread's: their
 * transfers take seconds, and reading megabytes here would hold every transfer's next block.
 */
const READ_HERE_MAX_BYTES = 1024 * 1024;
/** After the main thread opened a file without sending it (not found, say), requests for it go straight to the main thread this long. */
const DECLINED_MS = 1000;
const MAX_PARKED = 1024;

interface Parked {
  packet: TftpPacket;
  msg: Uint8Array;
  ip: string;
  port: number;
  peer: string;
  at: number;
}

interface Transfer {
  id: number;
  fd: number;
  peer: string;
  ip: string;
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

function enterNamespace(c: ReturnType<typeof loadLibc>, netns: string): void {
  const fd = openSync(`/run/netns/${netns}`, 'r');
  try {
    if (c.setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns ${netns}: ${c.strerror(c.errno())}`);
  } finally {
    closeSync(fd);
  }
}

/** `a.b.c.d:port` of the struct sockaddr_in at `sa`. */
function peerOf(sa: Buffer): { ip: string; port: number } {
  return { ip: `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}`, port: sa.readUInt16BE(2) };
}

function runLoop(init: WorkerInit): void {
  const c = loadLibc();
  if (init.netns) enterNamespace(c, init.netns);
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
  if (init.requestFd >= 0 && !register(init.requestFd)) throw new Error(`epoll_ctl udp/69: ${c.strerror(c.errno())}`);

  let config = init.config;
  const mirror = new RequestMirror(nodeBootFilesFs.statNow!, checkNow, DEFAULT_REVALIDATE_AFTER_MS);
  /** By socket. */
  const transfers = new Map<number, Transfer>();
  const byPeer = new Map<string, Transfer>();
  /** Forwarded requests not settled yet: fwd → its peer and address. */
  const forwards = new Map<number, { peer: string; ip: string }>();
  const forwardsByPeer = new Map<string, number>();
  /** Transfers and forwarded requests per client address. */
  const perIp = new Map<string, number>();
  let nextFwd = 1;
  let nextFastId = -1;
  let items: BatchItem[] = [];
  const events = Buffer.alloc(12 * MAX_EVENTS);
  const eventsAddress = addressOf(events);
  const recvBuffer = Buffer.alloc(65536);
  const recvAddress = addressOf(recvBuffer);
  /** udp/69's datagrams: apart from recvBuffer, which the transfers' ACKs read into while a request is decided. */
  const requestBuffer = Buffer.alloc(65536);
  const requestAddress = addressOf(requestBuffer);
  const from = Buffer.alloc(16);
  const fromAddress = addressOf(from);
  const fromLength = Buffer.alloc(4);
  const fromLengthAddress = addressOf(fromLength);
  const wakeBuffer = Buffer.alloc(8);
  const counters: WorkerCounters = {
    malformed: {},
    sendFailures: 0,
    retransmissions: 0,
    bytesSent: 0,
    active: 0,
    fastStarted: 0,
    forwarded: {},
    shed: 0,
    parked: 0,
    parkedServed: 0,
    duplicates: 0,
    readHere: 0,
  };
  /** File key → the request forwarded to have it opened, and when. */
  const opening = new Map<string, { at: number; fwd: number }>();
  /** That request → its file key (until it settles). */
  const openers = new Map<number, string>();
  /**
   * File key → when the main thread last settled its opener without sending the file (not found,
   * refused, or not to be trusted): for a second requests for it are forwarded without waiting.
   */
  const declined = new Map<string, number>();
  /** File key → the requests waiting for it. */
  const parked = new Map<string, Parked[]>();
  const parkedPeers = new Set<string>();
  let parkedCount = 0;
  let lastTimerScan = performance.now();
  let lastCounters = 0;
  let running = true;

  const report = (message: WorkerReport): void => init.port.postMessage(message);
  const bump = (map: Map<string, number>, key: string, by: number): void => {
    const n = (map.get(key) ?? 0) + by;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };

  function finish(t: Transfer, done: DoneEffect): void {
    c.epollCtl(ep, EPOLL_CTL_DEL, t.fd, null);
    c.close(t.fd);
    transfers.delete(t.fd);
    if (byPeer.get(t.peer) === t) byPeer.delete(t.peer);
    bump(perIp, t.ip, -1);
    items.push({ kind: 'done', id: t.id, done });
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

  function settle(fwd: number | undefined): void {
    const f = fwd === undefined ? undefined : forwards.get(fwd);
    if (!f) return;
    forwards.delete(fwd!);
    bump(forwardsByPeer, f.peer, -1);
    bump(perIp, f.ip, -1);
    const key = openers.get(fwd!);
    if (key === undefined) return;
    // The file, when it came, came ahead of this (MirrorFeed.file): what still waits for it goes on.
    openers.delete(fwd!);
    if (opening.get(key)?.fwd === fwd) opening.delete(key);
    if (parked.has(key)) {
      declined.set(key, performance.now());
      unpark([key], performance.now());
    }
  }

  function begin(id: number, fd: number, bytes: Uint8Array, negotiated: Negotiated, peer: string): boolean {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ip = peer.slice(0, peer.lastIndexOf(':'));
    const t: Transfer = {
      id,
      fd,
      peer,
      ip,
      state: undefined as unknown as TransferState,
      batch: new MessageBatch(negotiated.windowSize, data, messageLayout),
    };
    if (!register(fd)) {
      c.close(fd);
      items.push({
        kind: 'done',
        id,
        done: {
          type: 'done',
          outcome: 'client-error',
          bytes: 0,
          blocks: 0,
          retransmissions: 0,
          durationMs: 0,
          blockSize: negotiated.blockSize,
          windowSize: negotiated.windowSize,
          detail: `epoll_ctl: ${c.strerror(c.errno())}`,
        },
      });
      return false;
    }
    transfers.set(fd, t);
    byPeer.set(peer, t);
    bump(perIp, ip, 1);
    apply(t, startTransfer(negotiated, data.length, performance.now()));
    return true;
  }

  function start(request: Extract<WorkerRequest, { type: 'start' }>): void {
    settle(request.fwd);
    begin(request.id, request.fd, request.data, request.negotiated, request.peer);
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
      else if (request.type === 'settled') settle(request.fwd);
      else if (request.type === 'mirror') {
        mirror.apply(request.update, Date.now());
        const keys = RequestMirror.fileKeys(request.update);
        for (const key of keys) declined.delete(key);
        if (keys.length > 0 && parkedCount > 0) unpark(keys, performance.now());
      } else if (request.type === 'config') config = request.config;
      else if (request.type === 'supersede') supersede(request);
      else if (request.type === 'stop') running = false;
    }
  }

  /** Hands a request to the main thread; its `fwd`, or -1 when shed. */
  function forward(msg: Uint8Array, ip: string, port: number, peer: string, why: string): number {
    if (forwards.size >= MAX_FORWARDS) {
      counters.shed++;
      return -1;
    }
    counters.forwarded[why] = (counters.forwarded[why] ?? 0) + 1;
    const fwd = nextFwd++;
    forwards.set(fwd, { peer, ip });
    bump(forwardsByPeer, peer, 1);
    bump(perIp, ip, 1);
    items.push({ kind: 'request', fwd, msg, address: ip, port });
    return fwd;
  }

  /**
   * Starts the request here when the mirror can decide it, or parks it, or forwards it as the one
   * that has its file opened: null. Else why to forward it. The port must be free (no transfer, no
   * forwarded request): the main thread owns the duplicate rules. `waited`: a parked request back
   * (it never waits twice).
   */
  function serveHere(
    packet: TftpPacket,
    ip: string,
    port: number,
    peer: string,
    now: number,
    msg: Uint8Array,
    waited = false,
  ): string | null {
    if (parkedPeers.has(peer)) {
      counters.duplicates++;
      return null;
    }
    const running = byPeer.get(peer);
    // A Pi ends its size probe with an ERROR and asks again from the same port at once: that
    // ERROR may be waiting on the probe's socket behind this request. Read it first.
    if (running) for (let i = 0; i < 4 && byPeer.get(peer) === running; i++) readable(running, now);
    if (byPeer.has(peer) || forwardsByPeer.has(peer)) return 'busy-port';
    if ((perIp.get(ip) ?? 0) >= MAX_TRANSFERS_PER_CLIENT || transfers.size + forwards.size >= MAX_TRANSFERS) return 'busy';
    let decision = mirror.decide(packet, ip, Date.now(), config.serverIp);
    if (decision.kind === 'forward' && decision.file && !declined.has(decision.file.key)) {
      // A small file is read here at once (tftp.files.ts readNow): microseconds, against a trip to
      // the main thread that every other Pi's request for it would wait for.
      const { bootPath, relPath } = decision.file;
      const read = readNow(bootPath, relPath, READ_HERE_MAX_BYTES);
      if (read) {
        counters.readHere++;
        mirror.apply({ files: [{ bootPath, relPath, ...read, trustUntil: Date.now() + DEFAULT_REVALIDATE_AFTER_MS }] }, Date.now());
        decision = mirror.decide(packet, ip, Date.now(), config.serverIp);
      }
    }
    if (decision.kind === 'forward') {
      const key = decision.file?.key;
      if (decision.why !== 'no-file' || key === undefined || waited) return decision.why;
      const refused = declined.get(key);
      if (refused !== undefined && now - refused < DECLINED_MS) return decision.why;
      const opener = opening.get(key);
      if (opener === undefined || now - opener.at > PARK_MS) {
        const fwd = forward(msg, ip, port, peer, decision.why);
        if (fwd > 0) {
          opening.set(key, { at: now, fwd });
          openers.set(fwd, key);
        }
        return null;
      }
      if (parkedCount >= MAX_PARKED) return decision.why;
      const list = parked.get(key) ?? [];
      list.push({ packet, msg, ip, port, peer, at: now });
      parked.set(key, list);
      parkedPeers.add(peer);
      parkedCount++;
      counters.parked++;
      return null;
    }
    if (packet.opcode !== TftpOpcode.RRQ) return 'not-rrq';
    const negotiated = negotiate(packet.options, decision.data.byteLength, config.limits);
    let fd: number;
    try {
      fd = createTftpSocket({
        address: config.serverIp ?? '0.0.0.0',
        port: 0,
        interface: config.iface,
        peer: { ip, port },
        bufferBytes: negotiated.windowSize > 1 ? TRANSFER_BUFFER_BYTES : undefined,
      });
    } catch {
      return 'no-socket';
    }
    const id = nextFastId--;
    items.push({
      kind: 'started',
      id,
      fd,
      peer,
      ip,
      mac: decision.mac,
      imageId: decision.imageId,
      version: decision.version,
      newPin: decision.newPin,
      generated: decision.generated,
      file: decision.relPath,
      filename: packet.filename,
      bytes: decision.data.byteLength,
      blockSize: negotiated.blockSize,
    });
    counters.fastStarted++;
    begin(id, fd, decision.data, negotiated, peer);
    return null;
  }

  function readRequests(now: number): void {
    for (let i = 0; i < MAX_REQUESTS_PER_TURN; i++) {
      fromLength.writeUInt32LE(16, 0);
      const len = c.recvfromAt(init.requestFd, requestAddress, requestBuffer.length, MSG_DONTWAIT, fromAddress, fromLengthAddress);
      if (len < 0) return; // EAGAIN: none left (or an ICMP error for an ERROR sent from udp/69: nothing to do)
      const { ip, port } = peerOf(from);
      const peer = `${ip}:${port}`;
      // Its own memory: a view of requestBuffer would be overwritten, and would post all 64 KiB.
      const msg = new Uint8Array(len);
      msg.set(requestBuffer.subarray(0, len));
      if (!init.fastPath) {
        forward(msg, ip, port, peer, 'off');
        continue;
      }
      let packet: TftpPacket;
      try {
        packet = decodePacket(Buffer.from(msg.buffer, 0, len));
      } catch {
        forward(msg, ip, port, peer, 'malformed'); // counted and logged there, with the others
        continue;
      }
      const why = serveHere(packet, ip, port, peer, now, msg);
      if (why !== null) forward(msg, ip, port, peer, why);
    }
  }

  /**
   * Decides again the requests parked for `keys` (their file arrived, or will not), or, past
   * PARK_MS, every one waiting that long: started here, or forwarded.
   */
  function unpark(keys: Iterable<string> | null, now: number): void {
    for (const key of keys ?? [...parked.keys()]) {
      const list = parked.get(key);
      if (!list) continue;
      const waiting: Parked[] = [];
      for (const p of list) {
        if (keys === null && now - p.at <= PARK_MS) {
          waiting.push(p);
          continue;
        }
        parkedPeers.delete(p.peer);
        parkedCount--;
        const why = serveHere(p.packet, p.ip, p.port, p.peer, now, p.msg, true);
        if (why === null) counters.parkedServed++;
        else forward(p.msg, p.ip, p.port, p.peer, why === 'no-file' ? 'parked-no-file' : why);
      }
      if (waiting.length > 0) parked.set(key, waiting);
      else parked.delete(key);
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
    // The main thread's messages first (mirror changes, settled requests), then the requests,
    // then the transfers' ACKs: a request waits for no block.
    let requests = false;
    for (let i = 0; i < n; i++) {
      const fd = events.readInt32LE(12 * i + 4);
      if (fd === init.wakeFd) drainMessages();
      else if (fd === init.requestFd) requests = true;
    }
    if (requests && running) readRequests(now);
    if (parkedCount > 0) unpark(null, now);
    for (let i = 0; i < n; i++) {
      const fd = events.readInt32LE(12 * i + 4);
      const t = transfers.get(fd);
      if (t) readable(t, now);
    }
    if (now - lastTimerScan >= TIMER_TICK_MS) {
      lastTimerScan = now;
      for (const t of [...transfers.values()]) if (now >= t.state.deadline) apply(t, onTimer(t.state, now));
    }
    if (items.length > 0) {
      report({ type: 'batch', items });
      items = [];
    }
    if (now - lastCounters >= COUNTERS_EVERY_MS) {
      lastCounters = now;
      mirror.sweep(Date.now());
      counters.active = transfers.size;
      for (const [key, at] of declined) if (now - at >= DECLINED_MS) declined.delete(key);
      report({ type: 'counters', counters: { ...counters, malformed: { ...counters.malformed }, forwarded: { ...counters.forwarded } } });
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
