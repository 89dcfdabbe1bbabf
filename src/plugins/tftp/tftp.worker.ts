/**
 * The TFTP data path: a worker thread that runs every transfer (tftp.libc.ts says why it is not
 * node:dgram on the event loop) and reads udp/69's requests. I/O only: each datagram goes to the
 * pure transfer machine (tftp.transfer.ts), and its effects are carried out here.
 *
 * Transfers: every transfer is served from one of a few transfer sockets (DATA_SOCKETS, made by the
 * main thread), each shared by many clients: a transfer is its client's address and port on one of
 * them, RFC 1350's pair of TIDs (DataSocket says how a port is chosen). At each turn the loop reads
 * a socket's ACKs with one recvmmsg(2) and sends the blocks they release with one sendmmsg(2).
 *
 * Requests: the loop reads udp/69 at each turn, ahead of the transfers' ACKs. A request it can
 * decide from its copy of the clients, images, pins and checked files (tftp.mirror.ts says which)
 * starts here at once: its OACK or first block leaves from its transfer socket. Any other is
 * forwarded to the main thread (tftp.server.ts), which decides it, opens the file and posts the
 * transfer back with the file's bytes (shared memory, not copied), or answers it with an ERROR and
 * says it has settled. A request from the port of a running transfer, or of one being decided
 * there, always goes to the main thread, which owns the rules for duplicates.
 *
 * This loop blocks in epoll_wait on udp/69, the transfer sockets and an eventfd the main thread
 * signals after posting. Once per turn it posts what happened, in order: transfers it started,
 * requests it forwarded, transfers that ended; and, twice a second, the counters.
 *
 * Nothing a client sends can throw out of here: a datagram from a transfer's client that is not an
 * ACK or an ERROR is counted and ignored, the transfer goes on, and its timer resends when the real
 * ACK is lost; one from anybody else is counted as a stray and dropped.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodeOack, TftpDecodeError, TftpOpcode, type TftpPacket } from './tftp.codec';
import {
  addressOf,
  EAGAIN,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLIN,
  loadLibc,
  MSG_DONTWAIT,
  sendmmsgLayout,
  sockaddr,
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
 * Transfer sockets: every transfer is served from one of these few ports, chosen per transfer
 * (see DataSocket), not from a socket of its own. A turn's DATA blocks for the clients of one port
 * leave in one sendmmsg(2), and their ACKs are read with one recvmmsg(2). Measured in the 100-Pi
 * storm (bench/boot-storm.bench.ts; perf, 8 s of each): with a socket per transfer (a recv and a
 * sendmmsg per block, a socket, bind, connect and epoll_ctl per transfer) the worker spent 65% of
 * its time in sendmmsg, 14% in user space (koffi, N-API, JavaScript), 9% in epoll_wait and 7% in
 * recv, where dnsmasq spent 66% in sendmsg, 5% in user space, 10% in recvfrom and 5% in poll.
 * Shared: 70% sendmmsg, 13% user space, 11% recvmmsg, 6% epoll_wait (a turn reads 1.5–4 ACKs in
 * all, so most calls carry one or two datagrams), and the storm went from 0.99–1.15× dnsmasq's time a
 * round (median 1.03×) to 0.85–1.07× (median 0.98× over 19 rounds). Two sockets instead of eight:
 * 1.02–1.08×. Sending all the sockets' blocks at the end of a turn (always in the same order) left
 * some Pis behind, the last finishing 0.8–1.2 s after the median one against 0.1 s: each socket's
 * blocks leave right after its ACKs are read.
 */
export const DATA_SOCKETS = 8;
/**
 * Send and receive buffers of each: the ACKs of every transfer on it, and windows of 64 blocks of
 * 1468 bytes for several clients.
 */
export const DATA_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

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
  | { type: 'start'; id: number; data: Uint8Array; negotiated: Negotiated; peer: string; fwd?: number }
  /** The forwarded request `fwd` ended without a transfer (refused, not found, a duplicate, malformed). */
  | { type: 'settled'; fwd: number }
  | { type: 'mirror'; update: MirrorUpdate }
  | { type: 'config'; config: WorkerConfig }
  /**
   * Transfer sockets for new transfers from now on (the server address changed). The ones before
   * serve their transfers to the end and are then closed here (BatchItem 'closed').
   */
  | { type: 'sockets'; fds: number[] }
  /**
   * A new request came from this transfer's peer while the transfer has had no block acknowledged
   * for SUPERSEDE_AFTER_MS: the client is not in it (it never got the OACK, or it ended a size probe
   * with an ERROR that was lost, and asks again after its own timeout). The transfer ends as a
   * `probe` so the new request can be served; a transfer under way, or a younger one, is left
   * alone (the new request stays a duplicate).
   */
  | { type: 'supersede'; id: number }
  /** Ends every transfer (closing its socket) and the loop. */
  | { type: 'stop' };

export type DoneEffect = Extract<TransferEffect, { type: 'done' }>;

export interface WorkerCounters {
  /** Datagrams from a transfer's client that were neither a well-formed ACK nor an ERROR, by reason. */
  malformed: Record<string, number>;
  /** Datagrams on a transfer socket from an address and port with no transfer there (RFC 1350's unknown TID): dropped. */
  strays: number;
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

export type BatchItem =
  | StartedNote
  | ForwardedRequest
  | { kind: 'done'; id: number; done: DoneEffect }
  /** A transfer socket of before a 'sockets' message, closed after its last transfer. */
  | { kind: 'closed'; fd: number };

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
  /** The transfer sockets (DATA_SOCKETS, made by the main thread; owned here from now on). */
  dataFds: number[];
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
  ds: DataSocket;
  /** The client's address and port as one number (peerKey): its key in `ds.peers`. */
  key: number;
  /** Its struct sockaddr_in, and that memory's address: each DATA message's destination. */
  name: Buffer;
  nameAddress: number;
  peer: string;
  ip: string;
  state: TransferState;
  /** The file's bytes (shared memory, not copied), held while DATA messages point into them. */
  data: Buffer;
  dataAddress: number;
}

/**
 * A transfer socket: unconnected, bound to the server address and a port of the kernel's choosing.
 * A transfer is its client's address and port on one of these (RFC 1350's TID pair), so clients
 * share ports but never a pair, and a datagram from any other address is dropped here (`strays`),
 * as the kernel dropped it at a socket connected to one client. A client's next transfer gets a
 * different port from its last (RFC 1350 §4: not the same TID twice in succession).
 */
interface DataSocket {
  fd: number;
  peers: Map<number, Transfer>;
  queue: SendQueue;
  /** Replaced by a 'sockets' message: takes no new transfer, closed after its last. */
  retired: boolean;
}

/** A client's IPv4 address and port (a struct sockaddr_in at `offset`) as one number. */
function peerKey(sa: Buffer, offset: number): number {
  return sa.readUInt32BE(offset + 4) * 65536 + sa.readUInt16BE(offset + 2);
}

/** peerKey of `a.b.c.d` and a port. */
function keyOf(ip: string, port: number): number {
  let n = 0;
  for (const part of ip.split('.')) n = n * 256 + Number(part);
  return n * 65536 + port;
}

/**
 * The DATA packets of a turn for one transfer socket, sent with one sendmmsg(2) and without
 * copying the files: each message is its client's address and two iovecs, the 4-byte header (kept
 * here) and the block, pointing into the transfer's shared bytes. The structures' layout comes
 * from koffi (sendmmsgLayout).
 */
class SendQueue {
  readonly messages: Buffer;
  /** addressOf(messages), for sendmmsgAt. */
  readonly messagesAddress: number;
  private readonly iovecs: Buffer;
  private readonly headers: Buffer;
  /** The transfer of each queued message: its bytes stay alive until they are sent. */
  private readonly holders: Array<Transfer | null>;
  count = 0;

  constructor(
    readonly capacity: number,
    private readonly l: MessageLayout,
  ) {
    this.messages = Buffer.alloc(l.mmsghdr * capacity);
    this.messagesAddress = addressOf(this.messages);
    this.iovecs = Buffer.alloc(2 * l.iovec * capacity);
    this.headers = Buffer.alloc(4 * capacity);
    this.holders = new Array<Transfer | null>(capacity).fill(null);
    const iovecsAddress = addressOf(this.iovecs);
    const headersAddress = addressOf(this.headers);
    for (let i = 0; i < capacity; i++) {
      const message = l.mmsghdr * i;
      const header = 2 * l.iovec * i;
      this.messages.writeUInt32LE(16, message + l.msgNamelen);
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

  add(t: Transfer, block: number, offset: number, length: number): void {
    const i = this.count++;
    const l = this.l;
    writeWord(this.messages, l.mmsghdr * i + l.msgName, t.nameAddress, l);
    this.headers.writeUInt16BE(block, 4 * i + 2);
    const iov = 2 * l.iovec * i + l.iovec;
    writeWord(this.iovecs, iov + l.iovBase, t.dataAddress + offset, l);
    writeWord(this.iovecs, iov + l.iovLen, length, l);
    this.holders[i] = t;
  }

  /** Bytes the kernel says it sent of message `i` (after sendmmsg). */
  sentBytes(i: number): number {
    return this.messages.readUInt32LE(this.l.mmsghdr * i + this.l.msgLen);
  }

  clear(): void {
    this.holders.fill(null, 0, this.count);
    this.count = 0;
  }
}

/** Datagrams read from a transfer socket per recvmmsg(2), and the bytes kept of each. */
const RECV_BATCH = 64;
/** Larger than any ACK or ERROR a client sends (an ERROR's message is text); a longer datagram is cut and counted as malformed. */
const RECV_SLOT_BYTES = 2048;
const MSG_TRUNC = 0x20;

/** The structures recvmmsg(2) fills: RECV_BATCH messages, each with its sender's address and one slot. */
class RecvBatch {
  readonly messages: Buffer;
  readonly messagesAddress: number;
  readonly names: Buffer;
  readonly slots: Buffer;

  private readonly iovecs: Buffer;
  /** Messages the last call filled (their msg_namelen to set back). */
  used = RECV_BATCH;

  constructor(private readonly l: MessageLayout) {
    this.messages = Buffer.alloc(l.mmsghdr * RECV_BATCH);
    this.messagesAddress = addressOf(this.messages);
    this.names = Buffer.alloc(16 * RECV_BATCH);
    this.slots = Buffer.alloc(RECV_SLOT_BYTES * RECV_BATCH);
    const iovecs = Buffer.alloc(l.iovec * RECV_BATCH);
    const namesAddress = addressOf(this.names);
    const slotsAddress = addressOf(this.slots);
    const iovecsAddress = addressOf(iovecs);
    for (let i = 0; i < RECV_BATCH; i++) {
      const message = l.mmsghdr * i;
      writeWord(this.messages, message + l.msgName, namesAddress + 16 * i, l);
      writeWord(this.messages, message + l.msgIov, iovecsAddress + l.iovec * i, l);
      writeWord(this.messages, message + l.msgIovlen, 1, l);
      writeWord(iovecs, l.iovec * i + l.iovBase, slotsAddress + RECV_SLOT_BYTES * i, l);
      writeWord(iovecs, l.iovec * i + l.iovLen, RECV_SLOT_BYTES, l);
    }
    // Kept alive with the messages that point at them.
    this.iovecs = iovecs;
  }

  /** Before each call: the kernel wrote each sender's address length over msg_namelen. */
  reset(): void {
    for (let i = 0; i < this.used; i++) this.messages.writeUInt32LE(16, this.l.mmsghdr * i + this.l.msgNamelen);
    this.used = 0;
  }

  length(i: number): number {
    return this.messages.readUInt32LE(this.l.mmsghdr * i + this.l.msgLen);
  }

  truncated(i: number): boolean {
    return (this.messages.readInt32LE(this.l.mmsghdr * i + this.l.msgFlags) & MSG_TRUNC) !== 0;
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

/** `a.b.c.d:port` of the struct sockaddr_in at `sa`. */
function peerOf(sa: Buffer): { ip: string; port: number } {
  return { ip: `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}`, port: sa.readUInt16BE(2) };
}

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
  if (init.requestFd >= 0 && !register(init.requestFd)) throw new Error(`epoll_ctl udp/69: ${c.strerror(c.errno())}`);

  let config = init.config;
  const mirror = new RequestMirror(nodeBootFilesFs.statNow!, checkNow, DEFAULT_REVALIDATE_AFTER_MS);
  /** By id. */
  const transfers = new Map<number, Transfer>();
  /** Transfer sockets by descriptor, retired ones included; `pool`: those new transfers go to. */
  const sockets = new Map<number, DataSocket>();
  let pool: DataSocket[] = [];
  /** A client's address and port → the socket of its last transfer (its next one gets another). */
  const lastSocket = new Map<number, DataSocket>();
  const received = new RecvBatch(messageLayout);
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
  /** udp/69's datagrams. */
  const requestBuffer = Buffer.alloc(65536);
  const requestAddress = addressOf(requestBuffer);
  const from = Buffer.alloc(16);
  const fromAddress = addressOf(from);
  const fromLength = Buffer.alloc(4);
  const fromLengthAddress = addressOf(fromLength);
  const wakeBuffer = Buffer.alloc(8);
  const counters: WorkerCounters = {
    malformed: {},
    strays: 0,
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
    const ds = t.ds;
    ds.peers.delete(t.key);
    transfers.delete(t.id);
    if (byPeer.get(t.peer) === t) byPeer.delete(t.peer);
    bump(perIp, t.ip, -1);
    // Bounded, the oldest forgotten first: a socket is avoided only for the client's next transfer.
    lastSocket.delete(t.key);
    if (lastSocket.size >= 4 * MAX_TRANSFERS) lastSocket.delete(lastSocket.keys().next().value!);
    lastSocket.set(t.key, ds);
    items.push({ kind: 'done', id: t.id, done });
    if (ds.retired && ds.peers.size === 0) closeSocket(ds);
  }

  function adopt(fds: number[]): void {
    for (const ds of pool) {
      ds.retired = true;
      if (ds.peers.size === 0) closeSocket(ds);
    }
    pool = [];
    for (const fd of fds) {
      const ds: DataSocket = { fd, peers: new Map(), queue: new SendQueue(256, messageLayout), retired: false };
      sockets.set(fd, ds);
      if (register(fd)) pool.push(ds);
      else closeSocket(ds);
    }
  }

  /** Closes a retired (or unusable) transfer socket; the main thread learns it is gone. */
  function closeSocket(ds: DataSocket): void {
    flush(ds);
    c.epollCtl(ep, EPOLL_CTL_DEL, ds.fd, null);
    c.close(ds.fd);
    sockets.delete(ds.fd);
    items.push({ kind: 'closed', fd: ds.fd });
  }

  /**
   * Sends the queued DATA packets; those the kernel refuses for lack of buffer space wait for the
   * timer. A message refused for its own reason (its destination unreachable) is skipped, so it
   * does not hold back the other clients' blocks behind it.
   */
  function flush(ds: DataSocket): void {
    const q = ds.queue;
    let i = 0;
    while (i < q.count) {
      const sent = c.sendmmsgAt(ds.fd, q.messagesAddress + messageLayout.mmsghdr * i, q.count - i, MSG_DONTWAIT);
      if (sent > 0) {
        for (let k = i; k < i + sent; k++) counters.bytesSent += q.sentBytes(k) - 4;
        i += sent;
        continue;
      }
      if (c.errno() === EAGAIN) break;
      counters.sendFailures++;
      i++;
    }
    counters.sendFailures += q.count - i;
    q.clear();
  }

  function apply(t: Transfer, step: Step): void {
    const resentBefore = t.state ? t.state.retransmissions : 0;
    t.state = step.state;
    for (const effect of step.effects) {
      switch (effect.type) {
        case 'send-data': {
          const q = t.ds.queue;
          if (q.full) flush(t.ds);
          q.add(t, effect.block, effect.offset, effect.length);
          break;
        }
        case 'send-oack': {
          const oack = encodeOack(effect.options);
          if (c.sendto(t.ds.fd, oack, oack.length, MSG_DONTWAIT, t.name, 16) < 0) counters.sendFailures++;
          break;
        }
        case 'done':
          finish(t, effect);
          break;
      }
    }
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

  /**
   * The transfer socket for a new transfer of `key`: the one with fewest transfers, not the one of
   * the client's last transfer (when there is another) nor one it has a transfer on. Null when
   * there is none (the main thread could not make them).
   */
  function pick(key: number): DataSocket | null {
    const avoid = pool.length > 1 ? lastSocket.get(key) : undefined;
    let best: DataSocket | null = null;
    for (const ds of pool) {
      if (ds === avoid || ds.peers.has(key)) continue;
      if (best === null || ds.peers.size < best.peers.size) best = ds;
    }
    return best;
  }

  function begin(
    id: number,
    ds: DataSocket,
    key: number,
    bytes: Uint8Array,
    negotiated: Negotiated,
    ip: string,
    port: number,
    peer: string,
  ): void {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const name = sockaddr(ip, port);
    const t: Transfer = {
      id,
      ds,
      key,
      name,
      nameAddress: addressOf(name),
      peer,
      ip,
      state: undefined as unknown as TransferState,
      data,
      dataAddress: data.length > 0 ? addressOf(data) : 0,
    };
    ds.peers.set(t.key, t);
    transfers.set(id, t);
    byPeer.set(peer, t);
    bump(perIp, ip, 1);
    apply(t, startTransfer(negotiated, data.length, performance.now()));
  }

  function start(request: Extract<WorkerRequest, { type: 'start' }>): void {
    settle(request.fwd);
    const at = request.peer.lastIndexOf(':');
    const ip = request.peer.slice(0, at);
    const port = Number(request.peer.slice(at + 1));
    const key = keyOf(ip, port);
    const ds = pick(key);
    if (ds) {
      begin(request.id, ds, key, request.data, request.negotiated, ip, port, request.peer);
      return;
    }
    // No transfer socket (the main thread could not make them): the client asks again.
    items.push({
      kind: 'done',
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
        detail: 'no transfer socket',
      },
    });
  }
  function supersede(request: Extract<WorkerRequest, { type: 'supersede' }>): void {
    const t = transfers.get(request.id);
    if (!t || t.state.acked >= 0) return;
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
      else if (request.type === 'sockets') adopt(request.fds);
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
    if (running) readable(running.ds, now);
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
    const key = keyOf(ip, port);
    const ds = pick(key);
    if (!ds) return 'no-socket';
    const negotiated = negotiate(packet.options, decision.data.byteLength, config.limits);
    const id = nextFastId--;
    items.push({
      kind: 'started',
      id,
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
    begin(id, ds, key, decision.data, negotiated, ip, port, peer);
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

  /** Reads what clients sent to a transfer socket (their ACKs and ERRORs): up to 4 × RECV_BATCH a turn, the rest the next. */
  function readable(ds: DataSocket, now: number): void {
    // A lock-step transfer has one ACK on its way: asking for no more than there are transfers
    // spares the kernel a second, empty read per call when there are few.
    const want = Math.min(RECV_BATCH, Math.max(1, ds.peers.size));
    for (let round = 0; round < 4; round++) {
      received.reset();
      const n = c.recvmmsgAt(ds.fd, received.messagesAddress, want, MSG_DONTWAIT, 0);
      if (n <= 0) return; // EAGAIN: none left
      received.used = n;
      for (let i = 0; i < n; i++) onDatagram(ds, i, now);
      if (n < RECV_BATCH) return;
    }
  }

  function onDatagram(ds: DataSocket, i: number, now: number): void {
    const t = ds.peers.get(peerKey(received.names, 16 * i));
    if (t === undefined) {
      counters.strays++;
      return;
    }
    const slots = received.slots;
    const at = RECV_SLOT_BYTES * i;
    const len = received.length(i);
    // The common case, without decoding: ACK = 00 04 + block.
    if (len === 4 && slots[at] === 0 && slots[at + 1] === TftpOpcode.ACK) {
      apply(t, onAck(t.state, slots.readUInt16BE(at + 2), now));
      return;
    }
    if (received.truncated(i)) {
      counters.malformed['oversized'] = (counters.malformed['oversized'] ?? 0) + 1;
      return;
    }
    try {
      const packet = decodePacket(slots.subarray(at, at + len));
      if (packet.opcode === TftpOpcode.ERROR) apply(t, onClientError(t.state, packet.code, packet.message, now));
      else if (packet.opcode === TftpOpcode.ACK) apply(t, onAck(t.state, packet.block, now));
      else counters.malformed['unexpected-opcode'] = (counters.malformed['unexpected-opcode'] ?? 0) + 1;
    } catch (error) {
      const reason = error instanceof TftpDecodeError ? error.reason : 'undecodable';
      counters.malformed[reason] = (counters.malformed[reason] ?? 0) + 1;
    }
  }

  adopt(init.dataFds);
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
      const ds = sockets.get(events.readInt32LE(12 * i + 4));
      if (ds === undefined) continue;
      // A socket's next blocks leave as soon as its ACKs are read, not after the other sockets'.
      readable(ds, now);
      if (ds.queue.count > 0) flush(ds);
    }
    if (now - lastTimerScan >= TIMER_TICK_MS) {
      lastTimerScan = now;
      for (const t of [...transfers.values()]) if (now >= t.state.deadline) apply(t, onTimer(t.state, now));
    }
    // Blocks of new transfers and of timers, one sendmmsg per socket.
    for (const ds of sockets.values()) if (ds.queue.count > 0) flush(ds);
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
  transfers.clear();
  for (const ds of sockets.values()) c.close(ds.fd);
  sockets.clear();
  c.close(ep);
  counters.active = 0;
  report({ type: 'counters', counters });
  report({ type: 'stopped' });
}

if (parentPort && workerData && (workerData as { tftpWorker?: boolean }).tftpWorker) {
  const init = workerData as WorkerInit & { tftpWorker: true };
  runLoop(init);
}
