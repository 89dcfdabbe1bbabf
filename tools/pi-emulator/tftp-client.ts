/**
 * The emulated firmware's TFTP reads, on one node:dgram socket per Pi (bound to the Pi's address
 * and interface, so every request leaves from the same source port, as the firmware's do).
 *
 * Per file (docs/pi-netboot-protocol.md §3.3):
 *   size probe:  RRQ <file> octet tsize 0 [blksize n] → OACK (tsize) → ERROR 0 "Early terminate"
 *   read:        RRQ again → OACK → ACK 0 → DATA 1 / ACK 1 ... (one block in flight), or, without
 *                options (the Pi 3 ROM's bootcode.bin), RRQ → DATA 1 / ACK 1 ... in 512-byte blocks.
 * The last packet is sent again after `retransmitMs` without an answer (never because of a
 * duplicate: §3.3, Sorcerer's Apprentice), and the file fails when it has not arrived within
 * `fileTimeoutMs` (TFTP_FILE_TIMEOUT). Packets from another address or port than the transfer's
 * are ignored (RFC 1350 §4). Block numbers roll over past 65535, as bootloaders since 2025-09 do.
 *
 * bench/support/tftp-pi-sim.ts moves the same packets through one epoll loop in libc (about 4 µs
 * of CPU a block against about 18 µs here): use it where the clients' CPU would distort a
 * benchmark of hundreds of Pis; this client keeps the test process's event loop free, which the
 * end-to-end tests need (subscriptions, GraphQL) and is plenty for tens of Pis.
 */
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { decodePacket, encodeAck, encodeError, encodeRequest, TftpOpcode, type TftpOption } from '../../src/plugins/tftp/tftp.codec';
import type { TftpOutcome } from './boot.machine';

export interface TftpGet {
  server: string;
  file: string;
  tsize: boolean;
  blksize: number | null;
  probeOnly: boolean;
  sizeProbeFirst: boolean;
  keep: boolean;
  retransmitMs: number;
  fileTimeoutMs: number;
}

const TFTP_PORT = 69;
const ERROR_FILE_NOT_FOUND = 1;

/** One Pi's TFTP client: one transfer at a time on its socket. */
export class TftpClient {
  private handler: ((msg: Buffer, port: number) => void) | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly serverPortOverride: number = TFTP_PORT,
  ) {
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address === this.server) this.handler?.(msg, rinfo.port);
    });
  }

  private server = '';

  close(): void {
    this.handler = null;
    this.socket.close();
  }

  async get(o: TftpGet): Promise<TftpOutcome> {
    this.server = o.server;
    const started = performance.now();
    const deadline = started + o.fileTimeoutMs;
    const options: TftpOption[] = o.tsize ? [{ name: 'tsize', value: '0' }] : [];
    if (o.tsize && o.blksize) options.push({ name: 'blksize', value: String(o.blksize) });
    const rrq = encodeRequest(TftpOpcode.RRQ, o.file, 'octet', options);
    let tsize: number | null = null;
    let probeTid = -1;
    if (o.probeOnly || o.sizeProbeFirst) {
      const probe = await this.exchange(rrq, deadline, o.retransmitMs, (msg, port, done) => {
        const p = safeDecode(msg);
        if (!p) return;
        if (p.opcode === TftpOpcode.OACK) {
          const t = p.options.find((x) => x.name === 'tsize');
          tsize = t ? Number(t.value) : null;
          probeTid = port;
          this.socket.send(encodeError(0, 'Early terminate'), port, o.server);
          done({ status: 'ok', bytes: 0, ms: performance.now() - started, blksize: 0, tsize, content: null });
        } else if (p.opcode === TftpOpcode.DATA) {
          // A server that ignored the options: the first block tells the file exists.
          probeTid = port;
          this.socket.send(encodeError(0, 'Early terminate'), port, o.server);
          done({ status: 'ok', bytes: 0, ms: performance.now() - started, blksize: 512, tsize: null, content: null });
        } else if (p.opcode === TftpOpcode.ERROR) {
          done(
            p.code === ERROR_FILE_NOT_FOUND
              ? { status: 'missing', message: p.message }
              : { status: 'error', message: `error ${p.code} ${p.message}` },
          );
        }
      });
      if (probe.status !== 'ok' || o.probeOnly) return probe;
    }
    // The read.
    let tid = -1;
    let block = 0;
    let blksize = 512;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let sizeKnownFromOack: number | null = null;
    const result = await this.exchange(rrq, deadline, o.retransmitMs, (msg, port, done, send) => {
      if (port === probeTid && tid === -1) return; // late packets of the probe's transfer
      if (tid !== -1 && port !== tid) return;
      const p = safeDecode(msg);
      if (!p) return;
      if (p.opcode === TftpOpcode.ERROR) {
        done(
          p.code === ERROR_FILE_NOT_FOUND
            ? { status: 'missing', message: p.message }
            : { status: 'error', message: `error ${p.code} ${p.message}` },
        );
        return;
      }
      if (p.opcode === TftpOpcode.OACK && tid === -1) {
        tid = port;
        const b = p.options.find((x) => x.name === 'blksize');
        if (b) blksize = Number(b.value);
        const t = p.options.find((x) => x.name === 'tsize');
        if (t) sizeKnownFromOack = Number(t.value);
        send(encodeAck(0), port);
        return;
      }
      if (p.opcode !== TftpOpcode.DATA) return;
      if (tid === -1) tid = port; // no OACK: options ignored, 512-byte blocks
      if (p.block !== ((block + 1) & 0xffff)) return; // a duplicate: the timer answers losses
      block = p.block;
      if (o.keep) chunks.push(Buffer.from(p.data));
      bytes += p.data.length;
      send(encodeAck(block), port);
      if (p.data.length < blksize) {
        done({
          status: 'ok',
          bytes,
          ms: performance.now() - started,
          blksize,
          tsize: sizeKnownFromOack ?? tsize,
          content: o.keep ? Buffer.concat(chunks) : null,
        });
      }
    });
    if (result.status === 'ok' && result.tsize !== null && result.tsize !== result.bytes) {
      return { status: 'error', message: `received ${result.bytes} bytes, tsize said ${result.tsize}` };
    }
    if (result.status === 'timeout' && tid !== -1) this.socket.send(encodeError(0, 'Transfer failed'), tid, o.server);
    return result;
  }

  /**
   * Sends `first` to the server's port, then lets `onPacket` answer; resends the last packet sent
   * after `retransmitMs` without any packet accepted, until `deadline`.
   */
  private exchange(
    first: Buffer,
    deadline: number,
    retransmitMs: number,
    onPacket: (msg: Buffer, port: number, done: (o: TftpOutcome) => void, send: (packet: Buffer, port: number) => void) => void,
  ): Promise<TftpOutcome> {
    return new Promise((resolve) => {
      let last = first;
      let lastPort = this.serverPortOverride;
      let timer: NodeJS.Timeout;
      let finished = false;
      const done = (o: TftpOutcome): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.handler = null;
        resolve(o);
      };
      const arm = (): void => {
        clearTimeout(timer);
        const wait = Math.min(retransmitMs, deadline - performance.now());
        if (wait <= 0) return done({ status: 'timeout', message: 'no answer within the file timeout' });
        timer = setTimeout(() => {
          if (performance.now() >= deadline) return done({ status: 'timeout', message: 'no answer within the file timeout' });
          this.socket.send(last, lastPort, this.server);
          arm();
        }, wait);
      };
      const send = (packet: Buffer, port: number): void => {
        last = packet;
        lastPort = port;
        this.socket.send(packet, port, this.server);
        arm();
      };
      this.handler = (msg, port) => onPacket(msg, port, done, send);
      send(first, this.serverPortOverride);
    });
  }
}

function safeDecode(msg: Buffer): ReturnType<typeof decodePacket> | null {
  try {
    return decodePacket(msg);
  } catch {
    return null;
  }
}
