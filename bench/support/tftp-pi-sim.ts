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
 * Usage: node tftp-pi-sim.js '<json SimOptions>'. Waits until `startAt` (epoch ms, so that several
 * processes start together), then prints one JSON line (SimResult) on stdout and exits.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

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

type Phase = 'probe' | 'oack' | 'connecting' | 'data' | 'idle';

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
  /** performance.now() of the last packet sent or accepted. */
  lastActivity = 0;
  private tries = 0;
  done = false;

  constructor(
    private readonly sock: Socket,
    private readonly o: SimOptions,
    private readonly contents: Map<string, Buffer>,
    private readonly result: SimResult,
    private readonly onDone: () => void,
  ) {
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  start(): void {
    this.nextFile();
  }

  private send(packet: Buffer, port: number): void {
    this.last = packet;
    this.lastActivity = performance.now();
    if (port === -1) this.sock.send(packet);
    else this.sock.send(packet, port, this.o.server);
  }

  private nextFile(): void {
    if (this.phase === 'data') this.sock.disconnect();
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
    this.send(rrq(this.file, this.o.blksize), this.o.port);
  }

  private fail(reason: string): void {
    this.result.failed++;
    if (this.result.failures.length < 20) this.result.failures.push(`${this.sock.address().address} ${this.file}: ${reason}`);
    if (this.phase === 'data') this.send(errorPacket(0, 'Transfer failed'), -1);
    this.nextFile();
  }

  /** Called every few hundred ms: resend the last packet after `timeoutMs` without progress. */
  tick(now: number): void {
    if (this.done || this.phase === 'idle' || this.phase === 'connecting' || now - this.lastActivity < this.o.timeoutMs) return;
    if (++this.tries > this.o.retries) {
      this.fail(`timeout (${this.phase}, block ${this.block})`);
      return;
    }
    this.result.resends++;
    this.send(this.last!, this.phase === 'data' ? -1 : this.phase === 'probe' || this.tid === -1 ? this.o.port : this.tid);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 4 || rinfo.address !== this.o.server) return;
    const op = msg.readUInt16BE(0);
    if (this.phase === 'data') {
      // Connected to the transfer's port: nothing else reaches this socket.
      if (op === OP_DATA) {
        const block = msg.readUInt16BE(2);
        if (block !== ((this.block + 1) & 0xffff)) return; // a duplicate: the timer answers losses
        const len = msg.length - 4;
        const end = this.offset + len;
        if (end > this.expected.length || !this.expected.subarray(this.offset, end).equals(msg.subarray(4))) this.corrupt = true;
        this.offset = end;
        this.block = block;
        this.tries = 0;
        this.ack.writeUInt16BE(block, 2);
        this.send(this.ack, -1);
        if (len < this.o.blksize) this.finish();
      } else if (op === OP_ERROR) {
        this.fail(`error ${msg.readUInt16BE(2)} ${msg.subarray(4).toString('latin1').replace(/\0.*$/, '')}`);
      }
      return;
    }
    if (op === OP_ERROR) {
      if ((this.phase === 'probe' || this.phase === 'oack') && rinfo.port !== this.probeTid)
        this.fail(`error ${msg.readUInt16BE(2)} ${msg.subarray(4).toString('latin1').replace(/\0.*$/, '')}`);
      return;
    }
    if (this.phase === 'probe' && op === OP_OACK) {
      const tsize = Number(parseOack(msg).get('tsize') ?? -1);
      this.probeTid = rinfo.port;
      this.probeSize = tsize;
      // The firmware stops here, knowing the size, and asks again from the same port.
      this.sock.send(errorPacket(0, 'Early terminate'), rinfo.port, this.o.server);
      this.phase = 'oack';
      this.tries = 0;
      this.send(rrq(this.file, this.o.blksize), this.o.port);
      return;
    }
    if (this.phase === 'oack' && op === OP_OACK && rinfo.port !== this.probeTid) {
      const options = parseOack(msg);
      if (Number(options.get('blksize')) !== this.o.blksize) {
        this.fail(`blksize ${options.get('blksize')} granted`);
        return;
      }
      this.tid = rinfo.port;
      this.block = 0;
      this.offset = 0;
      this.corrupt = false;
      this.tries = 0;
      this.lastActivity = performance.now();
      this.sock.connect(rinfo.port, this.o.server, () => {
        this.phase = 'data';
        this.ack.writeUInt16BE(0, 2);
        this.send(this.ack, -1);
      });
      this.phase = 'connecting';
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
    this.nextFile();
  }
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
  };
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
  let running = o.pis.length;
  let finished!: () => void;
  const allDone = new Promise<void>((resolve) => (finished = resolve));
  const pis = sockets.map(
    (sock) =>
      new Pi(sock, o, contents, result, () => {
        if (--running === 0) finished();
      }),
  );
  await new Promise((r) => setTimeout(r, Math.max(0, o.startAt - Date.now())));
  const cpu0 = process.cpuUsage();
  result.startedAt = Date.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const pi of pis) pi.tick(now);
  }, 100);
  for (const pi of pis) pi.start();
  await allDone;
  result.finishedAt = Date.now();
  clearInterval(ticker);
  const cpu = process.cpuUsage(cpu0);
  result.cpuUserMs = cpu.user / 1000;
  result.cpuSystemMs = cpu.system / 1000;
  for (const s of sockets) s.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
