/**
 * The TFTP server's main-thread half: I/O only. The transfer worker (tftp.worker.ts) reads udp/69
 * and starts the requests it can decide from its copy of the views (tftp.mirror.ts, fed from here
 * by MirrorFeed); it forwards every other datagram here. A forwarded request is decoded (codec),
 * decided (tftp.decider.ts, pure: which client, which image, which file), its file opened
 * (tftp.files.ts) or generated (tftp.generated.ts), its options negotiated (tftp.options.ts), and
 * the transfer handed back to the worker, which serves it from one of the transfer sockets made
 * here (makeDataSockets). What the worker reports (the transfers it started, those that ended)
 * becomes metrics and boot progress here, whichever thread decided. Nothing a client sends can
 * throw out of here: malformed requests are counted and dropped, refused ones get an ERROR packet
 * (sent from udp/69), and the loop goes on.
 */
import { mkdir, readdir, realpath, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { ClientRecord, CounterMetric, ImageRecord, GaugeMetric, HistogramMetric, Logger, ViewChange } from '../../core/plugin-api';
import { decodePacket, encodeError, TftpDecodeError, TftpErrorCode, TftpOpcode, toNetascii, type TftpPacket } from './tftp.codec';
import type { TftpContext } from './tftp.config';
import { PIN_IDLE_MS, pinImageVersion, type VersionPin } from './tftp.pins';
import { decideRequest, type RequestDecision } from './tftp.decider';
import { SerialNotes } from './tftp.diagnose';
import { NeighbourTable } from './tftp.neighbours';
import type { BootFiles } from './tftp.files';
import { renderCmdline, renderConfigTxt } from './tftp.generated';
import { renderIpxeScript } from './tftp.ipxe';
import { closeFd, createEventFd, noReuseAddress, sendDatagram, signalEventFd, type TftpSocketOptions } from './tftp.libc';
import { mirrorClient, mirrorImage, sameMirrorClient, type MirrorClient, type MirrorFile, type MirrorUpdate } from './tftp.mirror';
import { negotiate, type TransferLimits } from './tftp.options';
import { expectsRollover } from './tftp.transfer';
import {
  MAX_TRANSFERS,
  MAX_TRANSFERS_PER_CLIENT,
  SUPERSEDE_AFTER_MS,
  DATA_SOCKET_BUFFER_BYTES,
  DATA_SOCKETS,
  type BatchItem,
  type DoneEffect,
  type StartedNote,
  type WorkerConfig,
  type WorkerCounters,
  type WorkerReport,
  type WorkerRequest,
} from './tftp.worker';

export type FdFactory = (options: TftpSocketOptions) => number;

export { MAX_TRANSFERS, MAX_TRANSFERS_PER_CLIENT };
/**
 * A missing-file or refusal fact is recorded at most once per client, stage and file in this
 * window: the firmware asks for some missing files twice per boot (recovery.elf).
 */
export const BOOT_FACT_MIN_INTERVAL_MS = 5_000;
/**
 * Boot facts per client: a burst of this many, then FACTS_PER_SECOND. A Pi's boot is 20–40 facts
 * (every file it reads, the missing ones it probes for); a client looping on requests cannot turn
 * each into an event. Facts over the budget are counted (boot_facts_suppressed_total), not recorded.
 */
export const FACT_BURST = 100;
export const FACTS_PER_SECOND = 2;
/** How long a request from the address and port of a running transfer waits for that transfer's end. */
const DUPLICATE_WAIT_MS = 50;
/** How long a request waits for the transfer it superseded to end (the worker's next turn). */
const SUPERSEDE_WAIT_MS = 200;
/** A request under a serial folder (§3.1): eight hex digits, then a slash. */
const SERIAL_FOLDER = /^([0-9a-fA-F]{8})\//;
/** Restarts of a failed transfer worker allowed per minute. */
const MAX_WORKER_RESTARTS = 3;
/** Receive buffer of udp/69: absorbs the requests of a boot storm. */
const RECEIVE_BUFFER_BYTES = 1024 * 1024;

/** Who sent a request (what node:dgram called rinfo). */
interface RemoteInfo {
  address: string;
  port: number;
}

interface ActiveTransfer {
  /** performance.now() when it was handed to the worker. */
  startedAt: number;
  peer: string;
  ip: string;
  mac: string;
  file: string;
}

interface ServerMetrics {
  requests: CounterMetric;
  refused: CounterMetric;
  malformed: CounterMetric;
  strays: CounterMetric;
  transfers: CounterMetric;
  errors: CounterMetric;
  bytes: CounterMetric;
  retransmissions: CounterMetric;
  duration: HistogramMetric;
  active: GaugeMetric;
  factsSuppressed: CounterMetric;
  forwarded: CounterMetric;
}

/** Where a request goes after decoding, for the metrics' `result` label (`shed`: dropped unread, see WorkerCounters). */
type RequestResult = 'started' | 'refused' | 'not-found' | 'busy' | 'duplicate' | 'shed';

export interface TftpServerOptions {
  createFd: FdFactory;
  files: BootFiles;
  limits: TransferLimits;
  generatedRoot: string;
  /** Folder of the iPXE binaries served to PCs (the `ipxeDir` setting). */
  ipxeDir: string;
  /** Whether the worker starts the requests it can decide itself (tftp.mirror.ts; default true). False: every request is decided here. */
  fastPath?: boolean;
  now?: () => number;
}

export class TftpServer {
  /** udp/69: read by the worker, written here (ERROR answers). */
  private requestFd = -1;
  private readonly feed: MirrorFeed | null;
  private worker: Worker | null = null;
  private workerPort: MessagePort | null = null;
  private wakeFd = -1;
  /**
   * Shared with the worker: 1 while a wake-up is signalled and not yet taken (WorkerInit.wakePending);
   * cleared for each new worker (a dead one may have left it set).
   */
  private readonly wakePending = new Int32Array(new SharedArrayBuffer(4));
  /** The transfer sockets handed to the worker and not closed by it yet (closed here if it dies). */
  private readonly dataFds = new Set<number>();
  private workerStopped: Promise<void> | null = null;
  private stopping = false;
  /** The worker's epoll descriptor: a worker that dies cannot close it. */
  private workerEpollFd = -1;
  /** When the worker last exited by itself (restarts are limited). */
  private crashes: number[] = [];
  /** Why the server cannot serve, when it cannot (health's detail). */
  problem: string | null = null;
  private readonly active = new Map<number, ActiveTransfer>();
  /** `ip:port` of requests being opened or served: a retransmitted RRQ is not a second transfer. */
  private readonly peers = new Set<string>();
  private readonly perIp = new Map<string, number>();
  private readonly releaseWaiters = new Map<string, (() => void)[]>();
  private readonly lastFact = new Map<string, number>();
  /** Per client: the key of its last throttled fact, forgotten when it asks for anything else. */
  private readonly lastThrottled = new Map<string, string>();
  /** Per client: boot facts it may still cause now (a token bucket). */
  private readonly factBudget = new Map<string, { tokens: number; at: number }>();
  private readonly warnedRollover = new Set<string>();
  /** Requests under a serial folder that is not the requester's own (for diagnose: tftp.diagnose.ts). */
  readonly serialNotes = new SerialNotes();
  /** IP → MAC from the kernel's ARP table, for requests from addresses bramble was never told. */
  private readonly neighbours = new NeighbourTable();
  /** `mac|ip` pairs whose learnClientAddress is in flight. */
  private readonly learning = new Set<string>();
  /** Generated file path → its content last written (only changes are written). */
  private readonly written = new Map<string, string>();
  /** The image version each client is booting (see pinVersion), by MAC. */
  private readonly pins = new Map<string, VersionPin>();
  /** A file's bytes → their netascii copy (made once; gone with the file's bytes). */
  private readonly netascii = new WeakMap<Uint8Array, Promise<Uint8Array>>();
  /** Generated file path → its write in progress (the next one waits for it). */
  private readonly writes = new Map<string, Promise<void>>();
  private nextWrite = 1;
  private lastCounters: WorkerCounters | null = null;
  private nextId = 1;
  private readonly metrics: ServerMetrics;
  private readonly log: Logger;
  private iface: string | null = null;
  private serverIp: string | null = null;
  limits: TransferLimits;
  /** Folder of the iPXE binaries (settable: a settings change applies to the next request). */
  ipxeDir: string;

  constructor(
    private readonly ctx: TftpContext,
    private readonly options: TftpServerOptions,
  ) {
    this.log = ctx.logger;
    this.limits = options.limits;
    this.feed = options.fastPath !== false ? new MirrorFeed(ctx, (update) => this.post({ type: 'mirror', update })) : null;
    this.ipxeDir = options.ipxeDir;
    const m = ctx.metrics;
    this.metrics = {
      requests: m.counter('requests_total', 'Read requests received, by what became of them', ['result']),
      refused: m.counter('requests_refused_total', 'Requests answered with an access or operation error, by reason', ['reason']),
      malformed: m.counter('packets_malformed_total', 'Malformed or unexpected TFTP packets dropped, by reason', ['reason']),
      strays: m.counter(
        'packets_stray_total',
        'Datagrams to a transfer port from an address and port with no transfer there (RFC 1350 unknown TID), dropped',
      ),
      transfers: m.counter('transfers_total', 'Finished transfers, by outcome (probe: the firmware stopped after learning the size)', [
        'outcome',
      ]),
      errors: m.counter('errors_total', 'Errors by kind (not-found, access, timeout, client-error, busy, send-failure, malformed)', [
        'kind',
      ]),
      bytes: m.counter('bytes_sent_total', 'DATA bytes sent, retransmissions included'),
      retransmissions: m.counter('retransmissions_total', 'Blocks sent again because their ACK did not come'),
      duration: m.histogram(
        'transfer_duration_seconds',
        'Duration of completed transfers, request to last ACK',
        [],
        [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      ),
      active: m.gauge('active_transfers', 'Transfers running now'),
      forwarded: m.counter(
        'requests_forwarded_total',
        'Requests the transfer worker passed to the main thread to decide, by why (the rest it started itself: tftp.mirror.ts)',
        ['reason'],
      ),
      factsSuppressed: m.counter(
        'boot_facts_suppressed_total',
        'Boot facts not recorded: the client caused more than its budget (a burst of 100, then 2 a second)',
      ),
    };
  }

  get listening(): boolean {
    return this.requestFd >= 0 && this.worker !== null;
  }

  /** The worker's counters as last reported (tests, benches). */
  get workerCounters(): WorkerCounters | null {
    return this.lastCounters;
  }

  get activeTransfers(): number {
    return this.active.size;
  }

  /** Binds udp/<port> on the interface and starts the worker. Throws a TftpSocketError naming the problem. */
  async listen(iface: string | null, serverIp: string | null, port: number): Promise<void> {
    this.iface = iface;
    this.serverIp = serverIp;
    // The socket is a plain descriptor (no node:dgram): the worker reads it, this thread writes.
    const fd = this.options.createFd({ address: '0.0.0.0', port, interface: iface, bufferBytes: RECEIVE_BUFFER_BYTES });
    try {
      noReuseAddress(fd);
    } catch (error) {
      closeFd(fd);
      throw error;
    }
    this.requestFd = fd;
    this.feed?.start();
    await this.startWorker();
  }

  /** Interface or server address changed: new transfers use them (the listener stays when the interface is the same). */
  retarget(serverIp: string | null): void {
    const moved = serverIp !== this.serverIp;
    this.serverIp = serverIp;
    this.postConfig();
    // New transfers leave from the new address; the running ones end on their sockets.
    if (moved && this.worker) this.handOverDataSockets();
  }

  /**
   * Makes the worker's transfer sockets (DATA_SOCKETS, on the server address and interface): from
   * here, so the worker needs no namespace of its own and a custom createFd makes them too. None
   * when they cannot be made (the address not up yet, say): requests are then answered "busy" and
   * the next one tries again.
   */
  private makeDataSockets(): number[] {
    const fds: number[] = [];
    try {
      for (let i = 0; i < DATA_SOCKETS; i++) {
        fds.push(
          this.options.createFd({
            address: this.serverIp ?? '0.0.0.0',
            port: 0,
            interface: this.iface,
            bufferBytes: DATA_SOCKET_BUFFER_BYTES,
          }),
        );
      }
    } catch (error) {
      for (const fd of fds) closeFd(fd);
      this.log.warn('cannot open the transfer sockets', { address: this.serverIp, error: (error as Error).message });
      return [];
    }
    for (const fd of fds) this.dataFds.add(fd);
    return fds;
  }

  /** New transfer sockets for the worker (it retires the ones before); false when none could be made. */
  private handOverDataSockets(): boolean {
    const fds = this.makeDataSockets();
    if (fds.length === 0) return false;
    this.post({ type: 'sockets', fds });
    return true;
  }

  private closeDataSockets(): void {
    for (const fd of this.dataFds) closeFd(fd);
    this.dataFds.clear();
  }

  /** New limits (a settings change): the next request negotiates within them. */
  setLimits(limits: TransferLimits): void {
    this.limits = limits;
    this.postConfig();
  }

  async close(): Promise<void> {
    this.feed?.stop();
    await this.stopWorker();
    if (this.requestFd >= 0) closeFd(this.requestFd);
    this.requestFd = -1;
  }

  private workerConfig(): WorkerConfig {
    return { serverIp: this.serverIp, iface: this.iface, limits: this.limits };
  }

  private postConfig(): void {
    if (this.worker) this.post({ type: 'config', config: this.workerConfig() });
  }

  private async startWorker(): Promise<void> {
    if (this.worker) return;
    const channel = new MessageChannel();
    const dataFds = this.makeDataSockets();
    this.wakeFd = createEventFd();
    Atomics.store(this.wakePending, 0, 0);
    const worker = new Worker(path.join(__dirname, 'tftp.worker.js'), {
      workerData: {
        tftpWorker: true,
        wakeFd: this.wakeFd,
        wakePending: this.wakePending,
        port: channel.port2,
        requestFd: this.requestFd,
        fastPath: this.feed !== null,
        dataFds,
        config: this.workerConfig(),
      },
      transferList: [channel.port2],
    });
    const ready = new Promise<void>((resolve, reject) => {
      channel.port1.on('message', (report: WorkerReport) => {
        if (report.type === 'ready') {
          this.workerEpollFd = report.epollFd;
          resolve();
        } else this.onWorkerReport(report);
      });
      worker.once('error', reject);
    });
    worker.on('error', (error) => this.log.error('transfer worker failed', { error: error.message }));
    this.workerStopped = new Promise((resolve) =>
      worker.once('exit', (code) => {
        resolve();
        if (this.worker === worker && !this.stopping) this.onWorkerCrash(code);
      }),
    );
    this.worker = worker;
    this.workerPort = channel.port1;
    // Queued before the worker reads its port: it starts from the whole copy.
    if (this.feed) this.post({ type: 'mirror', update: this.feed.snapshot(this.pins) });
    await ready;
  }

  /**
   * The worker ended by itself: a bug, since nothing a client sends can throw there. Its transfers
   * are lost (their sockets closed here, the clients retry the file), and a new worker starts, at
   * most MAX_WORKER_RESTARTS times a minute; after that the plugin reports itself down.
   */
  private onWorkerCrash(code: number): void {
    this.log.error('transfer worker exited; its transfers are lost', { code, transfers: this.active.size });
    this.workerPort?.close();
    this.worker = null;
    this.workerPort = null;
    closeFd(this.wakeFd);
    this.wakeFd = -1;
    if (this.workerEpollFd >= 0) closeFd(this.workerEpollFd);
    this.workerEpollFd = -1;
    this.closeDataSockets();
    for (const [id] of [...this.active]) {
      this.release(id);
      this.metrics.errors.inc({ kind: 'worker-crash' });
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((at) => now - at < 60_000);
    this.crashes.push(now);
    if (this.crashes.length > MAX_WORKER_RESTARTS) {
      this.problem = `the transfer worker failed ${this.crashes.length} times in a minute (exit code ${code}); see the error log`;
      return;
    }
    this.startWorker().catch((error: Error) => {
      this.problem = `cannot restart the transfer worker: ${error.message}`;
      this.log.error(this.problem);
    });
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    this.post({ type: 'stop' });
    const stopped = this.workerStopped;
    const exited = await Promise.race([stopped!.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
    if (!exited) {
      await worker.terminate();
      if (this.workerEpollFd >= 0) closeFd(this.workerEpollFd);
      this.closeDataSockets();
    }
    // Closed by the worker when it stopped by itself.
    this.dataFds.clear();
    this.workerEpollFd = -1;
    this.workerPort?.close();
    this.worker = null;
    this.workerPort = null;
    closeFd(this.wakeFd);
    this.wakeFd = -1;
    for (const [id] of [...this.active]) this.release(id);
    this.metrics.active.set(0);
    this.stopping = false;
  }

  /**
   * Posts to the worker and wakes it, once: requests posted before it takes the wake-up share it
   * (a storm's burst of requests cost one eventfd write each before).
   */
  private post(request: WorkerRequest): void {
    this.workerPort!.postMessage(request);
    if (Atomics.exchange(this.wakePending, 0, 1) === 0) signalEventFd(this.wakeFd);
  }

  private onWorkerReport(report: WorkerReport): void {
    if (report.type === 'batch') for (const item of report.items) this.onItem(item);
    else if (report.type === 'counters') this.onCounters(report.counters);
  }

  private onItem(item: BatchItem): void {
    if (item.kind === 'done') this.onDone(item.id, item.done);
    else if (item.kind === 'started') this.onStarted(item);
    else if (item.kind === 'closed') this.dataFds.delete(item.fd);
    else {
      const rinfo = { address: item.address, port: item.port };
      const fwd = item.fwd;
      // Settled when it did not become a transfer: the worker holds its port busy until then.
      void this.onRequest(Buffer.from(item.msg.buffer, item.msg.byteOffset, item.msg.byteLength), rinfo, fwd)
        .catch((error: Error) => {
          this.log.error('request failed', { peer: rinfo.address, error: error.message });
          return false;
        })
        .then((started) => {
          if (!started && this.worker) this.post({ type: 'settled', fwd });
        });
    }
  }

  /**
   * A transfer the worker started itself (tftp.mirror.ts): recorded as if started here. Its pin is
   * renewed here too, and the worker's answer was this thread's pin, so it cannot be a new one
   * unless the pin changed in the instant between (then the change's fact is recorded, as usual).
   */
  private onStarted(note: StartedNote): void {
    this.active.set(note.id, { startedAt: performance.now(), peer: note.peer, ip: note.ip, mac: note.mac, file: note.file });
    this.metrics.active.set(this.active.size);
    this.peers.add(note.peer);
    this.perIp.set(note.ip, (this.perIp.get(note.ip) ?? 0) + 1);
    this.count('started');
    this.lastThrottled.delete(note.mac);
    const client = this.ctx.views.clients.get(note.mac);
    this.noteSerialFolder(note.filename, note.ip, client);
    const image = this.ctx.views.images.get(note.imageId);
    if (image) {
      const pinned = this.pinVersion(note.mac, image, note.ip, false);
      if (pinned.version !== note.version)
        // Only if the pin changed in the instant between the worker's decision and this note.
        this.log.warn('a boot was served two image versions', {
          mac: note.mac,
          image: image.name,
          served: note.version,
          pinned: pinned.version,
        });
    }
    if (note.generated !== null) this.writeGenerated(note.mac, note.file, note.generated);
    this.warnRollover(note.imageId, image?.name ?? note.imageId, note.file, note.bytes, note.blockSize);
  }

  private onCounters(now: WorkerCounters): void {
    const before = this.lastCounters;
    this.lastCounters = now;
    const delta = (a: number, b: number | undefined): number => Math.max(0, a - (b ?? 0));
    const bytes = delta(now.bytesSent, before?.bytesSent);
    if (bytes) this.metrics.bytes.inc(bytes);
    const resent = delta(now.retransmissions, before?.retransmissions);
    if (resent) this.metrics.retransmissions.inc(resent);
    const failures = delta(now.sendFailures, before?.sendFailures);
    if (failures) this.metrics.errors.inc({ kind: 'send-failure' }, failures);
    const strays = delta(now.strays, before?.strays);
    if (strays) this.metrics.strays.inc(strays);
    const shed = delta(now.shed, before?.shed);
    if (shed) this.count('shed', shed);
    const duplicates = delta(now.duplicates, before?.duplicates);
    if (duplicates) this.count('duplicate', duplicates);
    for (const [reason, count] of Object.entries(now.forwarded)) {
      const d = delta(count, before?.forwarded[reason]);
      if (d) this.metrics.forwarded.inc({ reason }, d);
    }
    for (const [reason, count] of Object.entries(now.malformed)) {
      const d = delta(count, before?.malformed[reason]);
      if (d) {
        this.metrics.malformed.inc({ reason }, d);
        this.metrics.errors.inc({ kind: 'malformed' }, d);
      }
    }
  }

  private release(id: number): ActiveTransfer | null {
    const t = this.active.get(id);
    if (!t) return null;
    this.active.delete(id);
    this.metrics.active.set(this.active.size);
    this.freePeer(t.peer, t.ip);
    return t;
  }

  /**
   * A request from `peer` ended (its transfer, or without one): its address may start another, and
   * the requests from that port waiting for it to end (releasedWithin) go on.
   */
  private freePeer(peer: string, ip: string): void {
    this.peers.delete(peer);
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
    const waiting = this.releaseWaiters.get(peer);
    if (waiting) {
      this.releaseWaiters.delete(peer);
      for (const resolve of waiting) resolve();
    }
  }

  /**
   * Asks the worker to end `peer`'s transfer if the client has acknowledged nothing in it yet (see
   * WorkerRequest 'supersede'): a Pi whose "Early terminate" ERROR was lost asks again from the same
   * port and ignores the old transfer's OACK, so waiting for that transfer to time out (seconds)
   * outlasts the Pi's own retries (found by bench/boot-storm.bench.ts at 100 Pis). False when
   * there is no transfer (the request is being opened) or it is younger than SUPERSEDE_AFTER_MS.
   */
  private supersede(peer: string): boolean {
    for (const [id, t] of this.active) {
      if (t.peer !== peer) continue;
      // A younger transfer: the request is a plain duplicate (the worker would refuse anyway).
      if (performance.now() - t.startedAt < SUPERSEDE_AFTER_MS) return false;
      this.post({ type: 'supersede', id });
      return true;
    }
    return false;
  }

  /**
   * Resolves true once the transfer of `peer` has ended, false after `ms`. A Pi that stops a
   * transfer after its size probe may ask again from the same port at once, and the worker's
   * report of the end can reach this thread just after that new request.
   */
  private releasedWithin(peer: string, ms: number): Promise<boolean> {
    if (!this.peers.has(peer)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      const list = this.releaseWaiters.get(peer) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.releaseWaiters.set(peer, list);
    });
  }

  private onDone(id: number, done: DoneEffect): void {
    const t = this.release(id);
    if (!t) return;
    this.metrics.transfers.inc({ outcome: done.outcome });
    const mac = t.mac;
    const fields = { mac, ip: t.ip, file: t.file, bytes: done.bytes, ms: Math.round(done.durationMs), blksize: done.blockSize };
    switch (done.outcome) {
      case 'complete':
        this.metrics.duration.observe(done.durationMs / 1000);
        this.log.debug('file served', fields);
        this.fact(mac, 'tftp.file-served', t.ip, {
          file: t.file,
          bytes: done.bytes,
          durationMs: Math.round(done.durationMs),
          blockSize: done.blockSize,
          windowSize: done.windowSize,
        });
        break;
      case 'probe':
        // The firmware's size probe (docs/pi-netboot-protocol.md §3.3): normal, not a failure.
        this.log.debug('size probe', fields);
        break;
      case 'timeout':
      case 'client-error':
        this.metrics.errors.inc({ kind: done.outcome });
        this.log.info('transfer failed', { ...fields, outcome: done.outcome, detail: done.detail ?? null });
        this.fact(mac, 'tftp.file-failed', t.ip, { file: t.file, bytes: done.bytes, reason: done.outcome, detail: done.detail ?? null });
        break;
    }
  }

  /**
   * Records a boot fact through the core; never waits, never throws. Within the client's budget;
   * `throttle`: also at most once per client, stage and file in BOOT_FACT_MIN_INTERVAL_MS, unless
   * the client was served, or refused something else, in between: a client asking for the same
   * thing again and again is throttled, while a Pi 4's prefix probe miss of `<serial>/start4.elf`
   * does not hide its own `<serial>/start4.elf` request a few files later, the one that stops its
   * boot (found by the Pi emulator's end-to-end boot, test/e2e).
   */
  private fact(mac: string, stage: string, ip: string, detail: Record<string, string | number | boolean | null>, throttle = false): void {
    const now = (this.options.now ?? Date.now)();
    if (throttle) {
      const key = `${mac}|${stage}|${String(detail.file ?? detail.reason ?? '')}`;
      const last = this.lastFact.get(key);
      if (last !== undefined && now - last < BOOT_FACT_MIN_INTERVAL_MS && this.lastThrottled.get(mac) === key) return;
      this.lastFact.set(key, now);
      this.lastThrottled.set(mac, key);
      if (this.lastThrottled.size > 10_000) this.lastThrottled.clear();
      if (this.lastFact.size > 10_000) {
        for (const [k, at] of this.lastFact) if (now - at >= BOOT_FACT_MIN_INTERVAL_MS) this.lastFact.delete(k);
      }
    }
    const budget = this.factBudget.get(mac) ?? { tokens: FACT_BURST, at: now };
    budget.tokens = Math.min(FACT_BURST, budget.tokens + ((now - budget.at) / 1000) * FACTS_PER_SECOND);
    budget.at = now;
    if (budget.tokens < 1) {
      this.metrics.factsSuppressed.inc();
      return;
    }
    budget.tokens -= 1;
    this.factBudget.set(mac, budget);
    if (this.factBudget.size > 10_000) {
      for (const [m, b] of this.factBudget) if (now - b.at > (FACT_BURST / FACTS_PER_SECOND) * 1000) this.factBudget.delete(m);
    }
    this.ctx.commands.reportBootFact({ mac, stage, ip, detail }).catch((error: Error) => {
      this.log.warn('could not record a boot fact', { mac, stage, error: error.message });
    });
  }

  private count(result: RequestResult, by = 1): void {
    this.metrics.requests.inc({ result }, by);
  }

  /**
   * Sends an ERROR from udp/69, synchronously: it has left when this returns, so the next request
   * from that port (served at once, by the worker or from the checked-file cache) cannot have its
   * OACK overtake it. Async for the callers' sake.
   */
  private sendError(rinfo: RemoteInfo, code: number, message: string): Promise<void> {
    if (this.requestFd >= 0 && !sendDatagram(this.requestFd, encodeError(code, message), rinfo.address, rinfo.port)) {
      this.metrics.errors.inc({ kind: 'send-failure' });
    }
    return Promise.resolve();
  }

  private refuse(rinfo: RemoteInfo, code: number, message: string, reason: string): Promise<void> {
    this.count('refused');
    this.metrics.refused.inc({ reason });
    this.metrics.errors.inc({ kind: 'access' });
    return this.sendError(rinfo, code, message);
  }

  /** A request the worker forwarded (`fwd`); true when it became a transfer (posted with `fwd`). */
  private async onRequest(msg: Buffer, rinfo: RemoteInfo, fwd: number): Promise<boolean> {
    let packet: TftpPacket;
    try {
      packet = decodePacket(msg);
    } catch (error) {
      const reason = error instanceof TftpDecodeError ? error.reason : 'undecodable';
      this.metrics.malformed.inc({ reason });
      this.metrics.errors.inc({ kind: 'malformed' });
      this.log.debug('malformed request dropped', { peer: `${rinfo.address}:${rinfo.port}`, reason });
      return false;
    }
    if (packet.opcode === TftpOpcode.WRQ) {
      void this.refuse(rinfo, TftpErrorCode.AccessViolation, 'read-only server', 'write-request');
      return false;
    }
    if (packet.opcode !== TftpOpcode.RRQ) {
      // DATA, ACK, ERROR or OACK to udp/69 belong to no transfer (transfers have their own ports).
      this.metrics.malformed.inc({ reason: 'unexpected-opcode' });
      this.metrics.errors.inc({ kind: 'malformed' });
      return false;
    }
    const peer = `${rinfo.address}:${rinfo.port}`;
    if (this.peers.has(peer)) await this.releasedWithin(peer, DUPLICATE_WAIT_MS);
    if (this.peers.has(peer) && this.supersede(peer)) await this.releasedWithin(peer, SUPERSEDE_WAIT_MS);
    if (this.peers.has(peer)) {
      // The client sent its request again before our first answer arrived: that transfer answers it
      // (its timer resends the OACK or block), as dnsmasq does. (Checked again after the wait: an
      // earlier request from this port that ended without a transfer, not found or refused while
      // its file was opened, leaves the port free for this one.)
      this.count('duplicate');
      return false;
    }
    let decision = decideRequest({
      filename: packet.filename,
      sourceIp: rinfo.address,
      clients: this.ctx.views.clients,
      images: this.ctx.views.images,
    });
    if (decision.kind === 'refuse' && decision.reason === 'unknown-client') {
      const byNeighbour = this.clientByNeighbour(rinfo.address);
      if (byNeighbour) {
        const clients = this.ctx.views.clients;
        decision = decideRequest({
          filename: packet.filename,
          sourceIp: rinfo.address,
          clients: {
            get: (mac) => clients.get(mac),
            bySerial: (s) => clients.bySerial(s),
            byIp: (ip) => (ip === rinfo.address ? byNeighbour : clients.byIp(ip)),
          },
          images: this.ctx.views.images,
        });
      }
    }
    this.noteSerialFolder(packet.filename, rinfo.address, decision.client);
    if (decision.kind === 'refuse') {
      const reason = decision.reason.split(':')[0];
      this.log.debug('request refused', {
        peer,
        file: packet.filename.slice(0, 100),
        reason: decision.reason,
        mac: decision.client?.mac ?? null,
      });
      void this.refuse(rinfo, decision.code, decision.message, reason);
      if (decision.client?.status === 'approved')
        this.fact(decision.client.mac, 'tftp.refused', rinfo.address, { reason: decision.reason }, true);
      return false;
    }
    if (packet.mode === 'mail') {
      void this.refuse(rinfo, TftpErrorCode.IllegalOperation, 'mail mode is not supported', 'bad-mode');
      return false;
    }
    const perIp = this.perIp.get(rinfo.address) ?? 0;
    // `peers`: the requests being opened and the transfers running.
    if (perIp >= MAX_TRANSFERS_PER_CLIENT || this.peers.size >= MAX_TRANSFERS) {
      this.count('busy');
      this.metrics.errors.inc({ kind: 'busy' });
      void this.sendError(rinfo, TftpErrorCode.NotDefined, 'server busy, try again');
      return false;
    }
    this.peers.add(peer);
    this.perIp.set(rinfo.address, perIp + 1);
    let started = false;
    try {
      started = await this.serve(packet, decision, rinfo, peer, fwd);
    } finally {
      if (!started) this.freePeer(peer, rinfo.address);
    }
    return started;
  }

  /** Opens (or generates) the file and hands the transfer to the worker; false when it was answered with an error instead. */
  private async serve(
    packet: Extract<TftpPacket, { opcode: 1 | 2 }>,
    decision: Extract<RequestDecision, { kind: 'serve' }>,
    rinfo: RemoteInfo,
    peer: string,
    fwd: number,
  ): Promise<boolean> {
    const { client, relPath } = decision;
    const image = this.pinVersion(client.mac, decision.image, rinfo.address);
    const content = await this.content({ ...decision, image });
    if (!content.ok) {
      if (content.code === TftpErrorCode.FileNotFound) {
        this.count('not-found');
        this.metrics.errors.inc({ kind: 'not-found' });
        // The firmware probes for optional files as a matter of course (§3.2): recorded, throttled.
        this.fact(client.mac, 'tftp.file-missing', rinfo.address, { file: relPath }, true);
        await this.sendError(rinfo, content.code, 'file not found');
      } else {
        await this.refuse(rinfo, content.code, content.message, content.reason);
      }
      return false;
    }
    this.lastThrottled.delete(client.mac);
    let data = content.data;
    if (packet.mode === 'netascii') data = await this.netasciiCopy(data);
    // Closed, or the worker being replaced, while the file was opened: the client asks again.
    if (this.requestFd < 0 || !this.worker) return false;
    const negotiated = negotiate(packet.options, data.byteLength, this.limits);
    this.warnRollover(image.id, image.name, relPath, data.byteLength, negotiated.blockSize);
    // None when they could not be made (makeDataSockets): this request tries again.
    if (this.dataFds.size === 0 && !this.handOverDataSockets()) {
      this.count('busy');
      this.metrics.errors.inc({ kind: 'busy' });
      await this.sendError(rinfo, TftpErrorCode.NotDefined, 'server busy, try again');
      return false;
    }
    const id = this.nextId++;
    this.active.set(id, { startedAt: performance.now(), peer, ip: rinfo.address, mac: client.mac, file: relPath });
    this.metrics.active.set(this.active.size);
    this.count('started');
    this.post({ type: 'start', id, data, negotiated, peer, fwd });
    return true;
  }

  private warnRollover(imageId: string, imageName: string, relPath: string, bytes: number, blockSize: number): void {
    const key = `${imageId}|${relPath}|${blockSize}`;
    if (!expectsRollover(bytes, blockSize) || this.warnedRollover.has(key)) return;
    this.warnedRollover.add(key);
    this.log.warn('file needs more than 65535 blocks: the block number rolls over, which Pi bootloaders before 2025-09-23 cannot follow', {
      file: relPath,
      image: imageName,
      bytes,
      blksize: blockSize,
    });
  }

  /**
   * The client at an address no protocol told bramble about, by the kernel's neighbour table
   * (tftp.neighbours.ts: a Pi 3B in proxy mode never REQUESTs), and bramble learns the address.
   */
  private clientByNeighbour(ip: string): ClientRecord | null {
    const mac = this.neighbours.macOf(ip);
    const client = mac ? this.ctx.views.clients.get(mac) : null;
    if (!client) return null;
    const key = `${client.mac}|${ip}`;
    if (!this.learning.has(key)) {
      this.learning.add(key);
      this.log.debug('address learnt from the neighbour table', { mac: client.mac, ip });
      this.ctx.commands
        .learnClientAddress(client.mac, ip)
        .catch((error: Error) => this.log.warn('could not record a learnt address', { mac: client.mac, error: error.message }))
        .finally(() => this.learning.delete(key));
    }
    return client;
  }

  /**
   * Remembers a request under a serial folder that is not the requester's: a folder naming another
   * client (the request was attributed to that client), or one that is not the serial on record.
   */
  private noteSerialFolder(filename: string, ip: string, attributed: ClientRecord | null): void {
    const folder = SERIAL_FOLDER.exec(filename);
    if (!folder) return;
    const byAddress = this.ctx.views.clients.byIp(ip);
    if (!byAddress) return;
    const other = attributed && attributed.mac !== byAddress.mac ? attributed : null;
    this.serialNotes.observe(folder[1].toLowerCase(), filename.slice(9, 109), byAddress, other, Date.now());
  }

  /**
   * The image version a client gets for this request. A boot's files all come from one version: the
   * one active when its first request arrived, kept while its requests keep coming (a gap longer
   * than PIN_IDLE_MS starts a new boot) and while that version exists. Activating a new version
   * in the middle of a boot so never mixes two versions' firmware, kernel and cmdline.txt, and the
   * cmdline.txt names that version's tree as the NFS root, so the Pi keeps it until it reboots.
   * Each new pin is reported once (`tftp.image-version`, detail imageId/imageVersion): the core
   * then knows the version is in use and refuses to delete it. (The rule: tftp.pins.ts.)
   */
  private pinVersion(mac: string, image: ImageRecord, ip: string, tellWorker = true): ImageRecord {
    const pinned = pinImageVersion(this.pins, mac, image, Date.now());
    if (pinned.newPin) {
      this.fact(mac, 'tftp.image-version', ip, { imageId: image.id, imageVersion: pinned.image.version });
      if (tellWorker) this.feed?.pin(mac, image.id, pinned.image.version);
    }
    return pinned.image;
  }

  /**
   * The netascii form of a file (RFC 1350: CR LF line ends), made once per file version: the
   * cache hands out the same bytes until the file changes, and they key this cache. Made in 256 KiB
   * slices with the event loop free between them (a 20 MiB file is about 120 ms of work, which one
   * request, or four, must not hold DHCP and the API for).
   */
  private netasciiCopy(data: Uint8Array): Promise<Uint8Array> {
    let copy = this.netascii.get(data);
    if (!copy) {
      copy = toNetasciiInSlices(data);
      this.netascii.set(data, copy);
    }
    return copy;
  }

  /** The bytes to send: the image's file, or the client's generated one (shared memory, for the worker). */
  private async content(
    decision: Extract<RequestDecision, { kind: 'serve' }>,
  ): Promise<{ ok: true; data: Uint8Array } | { ok: false; code: number; message: string; reason: string }> {
    const { client, image, relPath, generated } = decision;
    if (decision.source === 'ipxe') return this.ipxeBinary(relPath);
    if (generated === 'ipxe-script') return this.ipxeScript(client, image);
    const file = await this.options.files.open(image.bootPath, relPath);
    if (!file.ok && (file.error !== 'not-found' || generated === null)) {
      if (file.error === 'not-found')
        return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found', reason: 'not-found' };
      if (file.error === 'io') this.log.warn('cannot read a boot file', { image: image.name, file: relPath, detail: file.detail });
      return { ok: false, code: TftpErrorCode.AccessViolation, message: 'access violation', reason: file.error };
    }
    if (generated === null && file.ok) {
      const data = toShared(file.data);
      if (data === file.data) this.mirrorFile(image.bootPath, relPath, file);
      return { ok: true, data };
    }
    if (file.ok) this.mirrorFile(image.bootPath, relPath, file);
    const original = file.ok ? file.data.toString('utf8') : '';
    let text: string;
    if (generated === 'cmdline') {
      text = renderCmdline(original, { serverIp: this.serverIp ?? '0.0.0.0', exportPath: image.path, extraArgs: client.cmdlineArgs });
    } else {
      if (!file.ok && client.configTxt.trim() === '') {
        return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found', reason: 'not-found' };
      }
      text = renderConfigTxt(original, client.configTxt);
    }
    this.writeGenerated(client.mac, relPath, text);
    return { ok: true, data: toShared(Buffer.from(text, 'utf8')) };
  }

  /** Lets the worker serve this file by itself for what is left of its second (tftp.mirror.ts). */
  private mirrorFile(bootPath: string, relPath: string, file: { data: Buffer; realPath: string; signature: string }): void {
    if (!this.feed) return;
    const trust = this.options.files.trustLeft(bootPath, relPath);
    if (trust > 0)
      this.feed.file({
        bootPath,
        relPath,
        data: file.data,
        realPath: file.realPath,
        signature: file.signature,
        trustUntil: Date.now() + trust,
      });
  }

  /**
   * An iPXE binary from ipxeDir. The name is one of tftp.ipxe.ts's IPXE_BINARIES (never the
   * client's text), and ipxeDir is the admin's: Debian's own `ipxe.efi` there is an absolute symlink
   * to /boot/ipxe.efi, so the name is resolved first and its real folder is the one the file layer
   * fences the read in.
   */
  private async ipxeBinary(
    name: string,
  ): Promise<{ ok: true; data: Uint8Array } | { ok: false; code: number; message: string; reason: string }> {
    let real: string;
    try {
      real = await realpath(path.join(this.ipxeDir, name));
    } catch {
      this.log.warn('iPXE boot loader missing (install the ipxe package, or set the tftp ipxeDir setting)', {
        ipxeDir: this.ipxeDir,
        file: name,
      });
      return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found', reason: 'not-found' };
    }
    const file = await this.options.files.open(path.dirname(real), path.basename(real));
    if (file.ok) return { ok: true, data: toShared(file.data) };
    if (file.error === 'not-found') return { ok: false, code: TftpErrorCode.FileNotFound, message: 'file not found', reason: 'not-found' };
    this.log.warn('cannot read an iPXE boot loader', { file: real, detail: file.detail });
    return { ok: false, code: TftpErrorCode.AccessViolation, message: 'access violation', reason: file.error };
  }

  /** A PC's iPXE script (tftp.ipxe.ts) from its image version's boot folder; kept under generatedRoot like a Pi's cmdline.txt. */
  private async ipxeScript(
    client: ClientRecord,
    image: ImageRecord,
  ): Promise<{ ok: true; data: Uint8Array } | { ok: false; code: number; message: string; reason: string }> {
    let names: string[];
    try {
      names = await readdir(image.bootPath);
    } catch (error) {
      this.log.warn('cannot list the boot folder of an image', { image: image.name, error: (error as Error).message });
      names = [];
    }
    const script = renderIpxeScript({
      serverIp: this.serverIp ?? '0.0.0.0',
      mac: client.mac,
      bootFolderNames: names,
      exportPath: image.path,
      extraArgs: client.cmdlineArgs,
      imageName: image.name,
      imageVersion: image.version,
    });
    if (!script.ok)
      this.log.warn('the image assigned to a PC has no kernel to boot', { mac: client.mac, image: image.name, bootPath: image.bootPath });
    this.writeGenerated(client.mac, 'bramble.ipxe', script.text);
    return { ok: true, data: toShared(Buffer.from(script.text, 'utf8')) };
  }

  /**
   * Keeps a copy of what a Pi gets under generatedRoot/<mac-with-dashes>/, written only when it
   * changed. Writes of one file are queued (each through its own temp file and a rename), so the
   * copy on disk always ends as the newest content.
   */
  private writeGenerated(mac: string, name: string, text: string): void {
    const dir = path.join(this.options.generatedRoot, mac.replace(/:/g, '-'));
    const target = path.join(dir, name);
    if (this.written.get(target) === text) return;
    this.written.set(target, text);
    const tmp = `${target}.${process.pid}.${this.nextWrite++}.tmp`;
    const previous = this.writes.get(target) ?? Promise.resolve();
    const write = previous
      .then(() => mkdir(dir, { recursive: true, mode: 0o755 }))
      .then(() => writeFile(tmp, text, { mode: 0o644 }))
      .then(() => rename(tmp, target))
      .catch((error: Error) => {
        if (this.written.get(target) === text) this.written.delete(target);
        this.log.warn('cannot write a generated file', { file: target, error: error.message });
      })
      .finally(() => {
        if (this.writes.get(target) === write) this.writes.delete(target);
      });
    this.writes.set(target, write);
  }
}

const NETASCII_SLICE_BYTES = 256 * 1024;

/** toNetascii over `data` in slices, yielding to the event loop between them; the result in shared memory. */
async function toNetasciiInSlices(data: Uint8Array): Promise<Uint8Array> {
  const source = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts: Buffer[] = [];
  let total = 0;
  for (let offset = 0; offset < source.length; offset += NETASCII_SLICE_BYTES) {
    if (offset > 0) await new Promise((resolve) => setImmediate(resolve));
    const part = toNetascii(source.subarray(offset, offset + NETASCII_SLICE_BYTES));
    parts.push(part);
    total += part.length;
  }
  const out = Buffer.from(new SharedArrayBuffer(total));
  let at = 0;
  for (const part of parts) {
    part.copy(out, at);
    at += part.length;
  }
  return out;
}

/** Bytes in shared memory (posted to the worker without a copy); copies only when they are not already. */
function toShared(data: Uint8Array): Uint8Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  shared.set(data);
  return shared;
}

/**
 * Feeds the worker's copy of the views (tftp.mirror.ts): the decision's fields of every client and
 * image that changed, with the core's byIp and bySerial answers for each address and serial the
 * change touched (old and new), the pins made here and the files opened here. Each is sent at
 * once, in the order of the events: the worker takes its messages before the requests of the same
 * turn, so a request sent after a change (a client no longer approved) is decided with it. A change
 * that touches no decision field (a client's lastSeenAt, its name) is not sent at all.
 */
class MirrorFeed {
  private pending: MirrorUpdate = {};
  private unsubscribe: Array<() => void> = [];
  /** What was sent of each client (its old address and serial, when a change moves them). */
  private readonly sent = new Map<string, MirrorClient>();

  constructor(
    private readonly ctx: TftpContext,
    private readonly send: (update: MirrorUpdate) => void,
  ) {}

  start(): void {
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe = [
      this.ctx.views.clients.onChange((change) => this.onClient(change)),
      this.ctx.views.images.onChange((change) => {
        if (change.record) (this.pending.images ??= []).push(mirrorImage(change.record));
        else (this.pending.removedImages ??= []).push(change.key);
        this.flush();
      }),
    ];
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.pending = {};
  }

  /** The whole copy, for a new worker (it replaces whatever was queued before). */
  snapshot(pins: ReadonlyMap<string, VersionPin>): MirrorUpdate {
    const clients = this.ctx.views.clients;
    const update: MirrorUpdate = { reset: true, clients: [], byIp: [], bySerial: [], images: [], pins: [] };
    this.sent.clear();
    for (const record of clients.list()) {
      const c = mirrorClient(record);
      this.sent.set(c.mac, c);
      update.clients!.push(c);
      if (c.ip) update.byIp!.push([c.ip, clients.byIp(c.ip)?.mac ?? null]);
      if (c.serial) update.bySerial!.push([c.serial, clients.bySerial(c.serial)?.mac ?? null]);
    }
    for (const image of this.ctx.views.images.list()) update.images!.push(mirrorImage(image));
    const now = Date.now();
    for (const [mac, pin] of pins) if (now - pin.lastAt <= PIN_IDLE_MS) update.pins!.push([mac, pin.imageId, pin.version]);
    this.pending = {};
    return update;
  }

  pin(mac: string, imageId: string, version: number): void {
    (this.pending.pins ??= []).push([mac, imageId, version]);
    this.flush();
  }

  /** Ahead of the transfer that opened it: requests waiting for it in the worker go on. */
  file(file: MirrorFile): void {
    (this.pending.files ??= []).push(file);
    this.flush();
  }

  private onClient(change: ViewChange<ClientRecord>): void {
    const clients = this.ctx.views.clients;
    const before = this.sent.get(change.key);
    const now = change.record ? mirrorClient(change.record) : null;
    if (now && sameMirrorClient(before, now)) return;
    if (now) {
      this.sent.set(now.mac, now);
      (this.pending.clients ??= []).push(now);
    } else {
      this.sent.delete(change.key);
      (this.pending.removedClients ??= []).push(change.key);
    }
    for (const ip of new Set([before?.ip, now?.ip])) if (ip) (this.pending.byIp ??= []).push([ip, clients.byIp(ip)?.mac ?? null]);
    for (const serial of new Set([before?.serial, now?.serial]))
      if (serial) (this.pending.bySerial ??= []).push([serial, clients.bySerial(serial)?.mac ?? null]);
    this.flush();
  }

  private flush(): void {
    const update = this.pending;
    this.pending = {};
    if (Object.keys(update).length > 0) this.send(update);
  }
}
