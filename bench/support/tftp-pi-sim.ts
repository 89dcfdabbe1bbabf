/**
 * Simulated Pi 4 bootloaders for the TFTP benchmark: one process drives several Pis, each on its own
 * source address (its own socket bound to that address), each reading its boot files one after the
 * other as the firmware does:
 *
 *   RRQ <file> octet tsize 0 blksize <n>  →  OACK (tsize)  →  ERROR 0 "Early terminate"   (size probe)
 *   RRQ <file> octet tsize 0 blksize <n>  →  OACK  →  ACK 0  →  DATA 1 / ACK 1 ... (lock-step)
 *
 * from the same source port both times. The last packet sent is sent again after 1 s without
 * progress (`timeoutMs`), up to `retries` times, then the file counts as failed and the Pi goes on
 * with the next one. Every DATA block is compared with the expected file (read from `root`: the
 * same bytes every server serves), and each file's length with the tsize of the probe.
 *
 * Two ways to move the packets (`io`), same Pis:
 * - `libc` (the default): one loop over epoll_wait, recvfrom and sendto through koffi, as bramble's
 *   transfer worker does. About 4 µs of CPU per block here: the client's share of the machine
 *   stays small, as it is on a real network where every Pi has its own CPU.
 * - `dgram`: node:dgram sockets and the event loop. About 18 µs of CPU per block, more than either
 *   server under test: on this 2-core machine the clients then take most of the CPU, and the
 *   benchmark measures mostly them (kept to compare with earlier runs).
 *
 * With `dhcp` (a boot storm), each Pi first does the firmware's DHCP exchange (pi-sim-dhcp.ts) and
 * starts reading its files once the router has ACKed; per-Pi times are reported from `startAt`
 * (power-on) to the Pi's last file.
 *
 * Usage: node tftp-pi-sim.js '<json SimOptions>'. Waits until `startAt` (epoch ms, so that several
 * processes start together), then prints one JSON line (SimResult) on stdout and exits.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import koffi from 'koffi';
import { createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { decodePacket } from '../../src/plugins/dhcp/dhcp.codec';
import { createTftpSocket, EAGAIN, EPOLL_CTL_ADD, EPOLLIN, loadLibc, MSG_DONTWAIT, sockaddr } from '../../src/plugins/tftp/tftp.libc';
import { SimDhcpExchange, type SimDhcpOptions, type SimDhcpPi } from './pi-sim-dhcp';

export interface SimOptions {
  server: string;
  port: number;
  /** Folder holding the expected content of every file. */
  root: string;
  files: string[];
  /** One simulated Pi per address. */
  pis: string[];
  blksize: number;
  /** Epoch milliseconds at which every Pi sends its first request. */
  startAt: number;
  timeoutMs: number;
  retries: number;
  /** How packets move (see the top of this file); default libc. */
  io?: 'libc' | 'dgram';
  /** Give up (print what was done) at this epoch ms. */
  stopAt: number;
  /**
   * A boot storm: each Pi first gets its address and boot server by DHCP (pi-sim-dhcp.ts), one Pi
   * per entry of `pis` (same order), then reads its files. Needs the client host's interface.
   */
  dhcp?: SimDhcpOptions & { interface: string; pis: SimDhcpPi[] };
}

export interface SimResult {
  pis: number;
  files: number;
  completed: number;
  failed: number;
  failures: string[];
  bytes: number;
  /** Packets sent again after a timeout. */
  resends: number;
  /** Epoch milliseconds when the first Pi started and the last one finished. */
  startedAt: number;
  finishedAt: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Per Pi that got through DHCP and every file: ms from `startAt` to its last file. */
  piMs: number[];
  /** Pis that did not (a failed file, or no DHCP), with the first reason of each (at most 20). */
  piFailed: number;
  piFailures: string[];
  /** Per Pi that got through DHCP: ms from `startAt` to the router's ACK. */
  dhcpMs: number[];
  /** Per file of `files` (by index), per Pi that read it: ms from `startAt` to its last block. */
  fileMs: number[][];
  /** Per file of `files` (by index), per Pi that read it: ms from its first request for it to its last block. */
  fileSpanMs: number[][];
  /** Per request answered with an OACK (size probes and reads): ms from the request to the OACK. */
  oackMs: number[];
}

const OP_RRQ = 1;
const OP_DATA = 3;
const OP_ACK = 4;
const OP_ERROR = 5;
const OP_OACK = 6;

function rrq(file: string, blksize: number): Buffer {
  return Buffer.concat([Buffer.from([0, OP_RRQ]), Buffer.from(`${file}\0octet\0tsize\x000\0blksize\0${blksize}\0`, 'latin1')]);
}

function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, OP_ERROR, code >> 8, code & 255]), Buffer.from(`${message}\0`, 'latin1')]);
}

function parseOack(msg: Buffer): Map<string, string> {
  const parts = msg.subarray(2).toString('latin1').split('\0');
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i]) out.set(parts[i].toLowerCase(), parts[i + 1]);
  return out;
}

function errorText(msg: Buffer, len: number): string {
  return `error ${msg.readUInt16BE(2)} ${msg.subarray(4, len).toString('latin1').replace(/\0.*$/, '')}`;
}

/** Sends one datagram from a Pi's socket to the server's `port`. */
type SendTo = (packet: Buffer, port: number) => void;

type Phase = 'probe' | 'oack' | 'data' | 'idle';

class Pi {
  private fileIndex = -1;
  private phase: Phase = 'idle';
  private file = '';
  private expected: Buffer = Buffer.alloc(0);
  private probeTid = -1;
  private probeSize = -1;
  private tid = -1;
  private block = 0;
  private offset = 0;
  private corrupt = false;
  private readonly ack = Buffer.from([0, OP_ACK, 0, 0]);
  private last: Buffer | null = null;
  private lastPort = 0;
  /** performance.now() of the last packet sent or accepted. */
  private lastActivity = 0;
  private tries = 0;
  /** performance.now() when the request waiting for its OACK was first sent. */
  private requestedAt = 0;
  /** performance.now() when this file was first asked for. */
  private fileStartedAt = 0;
  done = false;
  /** The first failure of this Pi, or null. */
  failure: string | null = null;

  constructor(
    readonly address: string,
    private readonly sendTo: SendTo,
    private readonly o: SimOptions,
    private readonly contents: Map<string, Buffer>,
    private readonly result: SimResult,
    private readonly onDone: () => void,
  ) {}

  start(): void {
    this.nextFile();
  }

  /** Ends this Pi without reading any file (its DHCP step failed). */
  giveUp(reason: string): void {
    this.failure ??= reason;
    this.done = true;
    this.onDone();
  }

  private send(packet: Buffer, port: number): void {
    this.last = packet;
    this.lastPort = port;
    this.lastActivity = performance.now();
    this.sendTo(packet, port);
  }

  private nextFile(): void {
    this.fileIndex++;
    if (this.fileIndex >= this.o.files.length) {
      this.phase = 'idle';
      this.done = true;
      this.onDone();
      return;
    }
    this.file = this.o.files[this.fileIndex];
    this.expected = this.contents.get(this.file)!;
    this.phase = 'probe';
    this.probeTid = -1;
    this.probeSize = -1;
    this.tid = -1;
    this.tries = 0;
    this.requestedAt = performance.now();
    this.fileStartedAt = this.requestedAt;
    this.send(rrq(this.file, this.o.blksize), this.o.port);
  }

  private fail(reason: string): void {
    this.failure ??= `${this.file}: ${reason}`;
    this.result.failed++;
    if (this.result.failures.length < 20) this.result.failures.push(`${this.address} ${this.file}: ${reason}`);
    if (this.phase === 'data') this.sendTo(errorPacket(0, 'Transfer failed'), this.tid);
    this.nextFile();
  }

  /** Called every 100 ms: resend the last packet after `timeoutMs` without progress. */
  tick(now: number): void {
    if (this.done || this.phase === 'idle' || now - this.lastActivity < this.o.timeoutMs) return;
    if (++this.tries > this.o.retries) {
      this.fail(`timeout (${this.phase}, block ${this.block})`);
      return;
    }
    this.result.resends++;
    this.send(this.last!, this.lastPort);
  }

  /** A datagram of `len` bytes in `msg` from the server's `port`. */
  onMessage(msg: Buffer, len: number, port: number): void {
    if (len < 4) return;
    const op = msg.readUInt16BE(0);
    if (this.phase === 'data') {
      if (port !== this.tid) return; // another TID: not this transfer (RFC 1350 §4)
      if (op === OP_DATA) {
        const block = msg.readUInt16BE(2);
        if (block !== ((this.block + 1) & 0xffff)) return; // a duplicate: the timer answers losses
        const size = len - 4;
        const end = this.offset + size;
        if (end > this.expected.length || this.expected.compare(msg, 4, len, this.offset, end) !== 0) this.corrupt = true;
        this.offset = end;
        this.block = block;
        this.tries = 0;
        this.ack.writeUInt16BE(block, 2);
        this.send(this.ack, this.tid);
        if (size < this.o.blksize) this.finish();
      } else if (op === OP_ERROR) {
        this.fail(errorText(msg, len));
      }
      return;
    }
    if (op === OP_ERROR) {
      if ((this.phase === 'probe' || this.phase === 'oack') && port !== this.probeTid) this.fail(errorText(msg, len));
      return;
    }
    if (this.phase === 'probe' && op === OP_OACK) {
      const tsize = Number(parseOack(msg.subarray(0, len)).get('tsize') ?? -1);
      this.probeTid = port;
      this.probeSize = tsize;
      this.result.oackMs.push(performance.now() - this.requestedAt);
      // The firmware stops here, knowing the size, and asks again from the same port.
      this.sendTo(errorPacket(0, 'Early terminate'), port);
      this.phase = 'oack';
      this.tries = 0;
      this.requestedAt = performance.now();
      this.send(rrq(this.file, this.o.blksize), this.o.port);
      return;
    }
    if (this.phase === 'oack' && op === OP_OACK && port !== this.probeTid) {
      const options = parseOack(msg.subarray(0, len));
      if (Number(options.get('blksize')) !== this.o.blksize) {
        this.fail(`blksize ${options.get('blksize')} granted`);
        return;
      }
      this.result.oackMs.push(performance.now() - this.requestedAt);
      this.tid = port;
      this.block = 0;
      this.offset = 0;
      this.corrupt = false;
      this.tries = 0;
      this.phase = 'data';
      this.ack.writeUInt16BE(0, 2);
      this.send(this.ack, this.tid);
    }
  }

  private finish(): void {
    if (this.corrupt || this.offset !== this.expected.length || this.probeSize !== this.expected.length) {
      this.fail(
        `received ${this.offset} bytes (tsize ${this.probeSize}, expected ${this.expected.length})${this.corrupt ? ', content differs' : ''}`,
      );
      return;
    }
    this.result.completed++;
    this.result.bytes += this.offset;
    this.result.fileMs[this.fileIndex].push(Date.now() - this.o.startAt);
    this.result.fileSpanMs[this.fileIndex].push(performance.now() - this.fileStartedAt);
    this.nextFile();
  }
}

type PiFactory = (address: string, sendTo: SendTo) => Pi;

/** Runs the Pis on node:dgram sockets; resolves when all are done or at `stopAt`. */
async function runDgram(o: SimOptions, makePi: PiFactory, allDone: Promise<void>): Promise<() => void> {
  const sockets = await Promise.all(
    o.pis.map(
      (address) =>
        new Promise<Socket>((resolve, reject) => {
          const sock = createSocket({ type: 'udp4', recvBufferSize: 256 * 1024 });
          sock.once('error', reject);
          sock.bind({ address, port: 0 }, () => resolve(sock));
        }),
    ),
  );
  const pis = sockets.map((sock, i) => {
    const pi = makePi(o.pis[i], (packet, port) => sock.send(packet, port, o.server));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address === o.server) pi.onMessage(msg, msg.length, rinfo.port);
    });
    return pi;
  });
  await new Promise((r) => setTimeout(r, Math.max(0, o.startAt - Date.now())));
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const pi of pis) pi.tick(now);
  }, 100);
  for (const pi of pis) pi.start();
  let stop: NodeJS.Timeout | undefined;
  await Promise.race([allDone, new Promise((r) => (stop = setTimeout(r, Math.max(0, o.stopAt - Date.now()))))]);
  clearInterval(ticker);
  clearTimeout(stop);
  return () => sockets.forEach((s) => s.close());
}

/** Runs the Pis in one epoll loop (blocks this thread until all are done or `stopAt`). */
function runLibc(
  o: SimOptions,
  makePi: PiFactory,
  isDone: () => boolean,
  onDhcpDone?: (pi: Pi) => void,
  resends = { dhcp: 0 },
): () => void {
  const c = loadLibc();
  const lib = koffi.load('libc.so.6');
  const recvfrom = lib.func('long recvfrom(int, _Out_ void *, size_t, int, _Out_ void *, void *)') as (
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
    from: Buffer,
    fromLen: Buffer,
  ) => number;
  const sendto = lib.func('long sendto(int, const void *, size_t, int, const void *, uint32_t)') as (
    fd: number,
    buf: Buffer,
    len: number,
    flags: number,
    to: Buffer,
    toLen: number,
  ) => number;
  const ep = c.epollCreate1(0);
  if (ep < 0) throw new Error(`epoll_create1: ${c.strerror(c.errno())}`);
  const fds = o.pis.map((address) => createTftpSocket({ address, port: 0, interface: null, bufferBytes: 256 * 1024 }));
  const serverAddress = sockaddr(o.server, 0).readUInt32BE(4);
  const to = sockaddr(o.server, 0);
  const byFd = new Map<number, Pi>();
  fds.forEach((fd, i) => {
    byFd.set(
      fd,
      makePi(o.pis[i], (packet, port) => {
        to.writeUInt16BE(port, 2);
        if (sendto(fd, packet, packet.length, MSG_DONTWAIT, to, 16) < 0 && c.errno() !== EAGAIN) {
          throw new Error(`sendto: ${c.strerror(c.errno())}`);
        }
      }),
    );
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeInt32LE(fd, 4);
    if (c.epollCtl(ep, EPOLL_CTL_ADD, fd, ev) !== 0) throw new Error(`epoll_ctl: ${c.strerror(c.errno())}`);
  });
  const events = Buffer.alloc(12 * 256);
  const buffer = Buffer.alloc(65536);
  const from = Buffer.alloc(16);
  const fromLen = Buffer.alloc(4);
  // The storm's DHCP step: one socket on udp/68 of the host's interface for all its Pis (replies
  // are broadcast; each Pi takes the ones with its xid).
  const exchanges = new Map<number, SimDhcpExchange>();
  let dhcpFd = -1;
  if (o.dhcp) {
    const d = o.dhcp;
    dhcpFd = createBoundUdpFd({ port: 68, interface: d.interface });
    // Every Pi's broadcast replies (router OFFER and ACK, proxy OFFER: three per Pi) reach every
    // client host's one socket at once: 4 MiB (SO_RCVBUF, within net.core.rmem_max here) instead
    // of the 208 KiB default, which a storm of a few hundred Pis overflowed (DISCOVERs resent
    // after 4 s: an artefact of many Pis sharing one socket, not of the server).
    const size = Buffer.alloc(4);
    size.writeInt32LE(4 * 1024 * 1024);
    c.setsockopt(dhcpFd, 1 /* SOL_SOCKET */, 8 /* SO_RCVBUF */, size, 4);
    const ev = Buffer.alloc(12);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeInt32LE(dhcpFd, 4);
    if (c.epollCtl(ep, EPOLL_CTL_ADD, dhcpFd, ev) !== 0) throw new Error(`epoll_ctl: ${c.strerror(c.errno())}`);
    const broadcast = sockaddr('255.255.255.255', 67);
    const pis = [...byFd.values()];
    d.pis.forEach((dp, i) => {
      const pi = pis[i];
      const xid = (0x5a000000 + i * 7919 + (process.pid & 0xffff)) >>> 0;
      exchanges.set(
        xid,
        new SimDhcpExchange(
          dp,
          xid,
          d,
          (bytes) => {
            if (sendto(dhcpFd, bytes, bytes.length, MSG_DONTWAIT, broadcast, 16) < 0 && c.errno() !== EAGAIN) {
              throw new Error(`sendto (dhcp): ${c.strerror(c.errno())}`);
            }
          },
          (outcome) => {
            if (outcome.ok) {
              onDhcpDone?.(pi);
              pi.start();
            } else pi.giveUp(`${dp.mac}: ${outcome.reason}`);
          },
        ),
      );
    });
  }
  while (Date.now() < o.startAt) c.epollWait(ep, events, 256, Math.min(100, Math.max(1, o.startAt - Date.now())));
  if (o.dhcp) for (const x of exchanges.values()) x.start(performance.now());
  else for (const pi of byFd.values()) pi.start();
  let lastTick = performance.now();
  while (!isDone() && Date.now() < o.stopAt) {
    const n = c.epollWait(ep, events, 256, 100);
    for (let i = 0; i < n; i++) {
      const fd = events.readInt32LE(12 * i + 4);
      fromLen.writeUInt32LE(16, 0);
      const len = recvfrom(fd, buffer, buffer.length, MSG_DONTWAIT, from, fromLen);
      if (len < 0) continue;
      if (fd === dhcpFd) {
        let reply;
        try {
          reply = decodePacket(buffer.subarray(0, len));
        } catch {
          continue;
        }
        exchanges.get(reply.xid)?.onReply(reply, performance.now());
        continue;
      }
      if (from.readUInt32BE(4) !== serverAddress) continue;
      byFd.get(fd)!.onMessage(buffer, len, from.readUInt16BE(2));
    }
    const now = performance.now();
    if (now - lastTick >= 100) {
      lastTick = now;
      for (const pi of byFd.values()) pi.tick(now);
      for (const x of exchanges.values()) x.tick(now);
    }
  }
  if (dhcpFd >= 0) {
    c.close(dhcpFd);
    for (const x of exchanges.values()) resends.dhcp += x.resends;
  }
  return () => {
    for (const fd of fds) c.close(fd);
    c.close(ep);
  };
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]) as SimOptions;
  const contents = new Map(o.files.map((f) => [f, readFileSync(path.join(o.root, f))]));
  const result: SimResult = {
    pis: o.pis.length,
    files: o.pis.length * o.files.length,
    completed: 0,
    failed: 0,
    failures: [],
    bytes: 0,
    resends: 0,
    startedAt: 0,
    finishedAt: 0,
    cpuUserMs: 0,
    cpuSystemMs: 0,
    piMs: [],
    piFailed: 0,
    piFailures: [],
    dhcpMs: [],
    fileMs: o.files.map(() => []),
    fileSpanMs: o.files.map(() => []),
    oackMs: [],
  };
  let running = o.pis.length;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  let cpu0 = process.cpuUsage();
  const pis: Pi[] = [];
  const makePi: PiFactory = (address, sendTo) => {
    const pi: Pi = new Pi(address, sendTo, o, contents, result, () => {
      if (pi.failure === null) result.piMs.push(Date.now() - o.startAt);
      else {
        result.piFailed++;
        if (result.piFailures.length < 20) result.piFailures.push(`${pi.address}: ${pi.failure}`);
      }
      if (--running === 0) {
        result.finishedAt = Date.now();
        finished();
      }
    });
    pis.push(pi);
    return pi;
  };
  const wrapped: PiFactory = (address, sendTo) => {
    const pi = makePi(address, sendTo);
    const start = pi.start.bind(pi);
    pi.start = () => {
      if (result.startedAt === 0) {
        result.startedAt = Date.now();
        cpu0 = process.cpuUsage();
      }
      start();
    };
    return pi;
  };
  if (o.dhcp) {
    if ((o.io ?? 'libc') !== 'libc') throw new Error('the DHCP step runs on the libc loop only');
    if (o.dhcp.pis.length !== o.pis.length) throw new Error('one DHCP identity per Pi address');
  }
  const resends = { dhcp: 0 };
  const close =
    (o.io ?? 'libc') === 'dgram'
      ? await runDgram(o, wrapped, allDone)
      : runLibc(
          o,
          wrapped,
          () => running === 0,
          () => result.dhcpMs.push(Date.now() - o.startAt),
          resends,
        );
  result.resends += resends.dhcp;
  // Pis still going when the run was stopped.
  for (const pi of pis) {
    if (pi.done) continue;
    result.piFailed++;
    if (result.piFailures.length < 20) result.piFailures.push(`${pi.address}: not finished when the run stopped`);
  }
  if (result.finishedAt === 0) result.finishedAt = Date.now();
  const cpu = process.cpuUsage(cpu0);
  result.cpuUserMs = cpu.user / 1000;
  result.cpuSystemMs = cpu.system / 1000;
  close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
