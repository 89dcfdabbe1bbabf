/**
 * The socket loop: I/O only. Each datagram is decoded (codec), decided (decider, pure), its effects
 * applied to the view, and the reply sent to where RFC 2131 §4.1 says. Nothing a client sends can
 * throw out of here: malformed packets are counted and dropped, and the loop goes on.
 *
 * Replies first, records after. Only a new binding must be durable before its reply (its append is
 * started at once and awaited). Everything else a packet makes the core record (a Pi detected, its
 * address learnt, boot facts, releases, declines) waits in a queue that runs after the packets the
 * event loop has ready (setImmediate: the check phase, after the poll phase has read the sockets),
 * a slice at a time. In a storm (a school's Pis powered on at once) the recording of a new Pi costs
 * several times its replies (a stream read, appends, projections): run inline, it delayed every
 * reply behind it, and the queue in the socket buffer grew until clients gave up (measured with
 * bench/dhcp.bench.ts, see the README). The queue is bounded: past RECORD_QUEUE_LIMIT a record
 * starts at once, as before, so a flood cannot grow it.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import type { CounterMetric, HistogramMetric, Logger } from '../../core/plugin-api';
import { adoptUdpFd, createBoundUdpFd, type BoundSocketOptions } from './bound-udp-socket';
import { DhcpDecodeError, decodePacket, encodePacket, messageType, replyMaxSize, type DhcpPacket } from './dhcp.codec';
import type { DhcpContext } from './dhcp.config';
import { decideDhcp, type DhcpConfig, type DhcpDecision, type DhcpEffect } from './dhcp.decider';
import { DHCP_LEASE_STREAM, DhcpEventType } from './dhcp.events';
import type { DhcpView } from './dhcp.view';
import { replyDestination } from './reply-destination';
import { DiscoverLog } from './dhcp.diagnose';

/** A Pi silent for longer than this starts a new boot when it is heard again. */
export const BOOT_GAP_MS = 60_000;
/**
 * At most this many never-seen Pis are recorded per second (a token bucket, burst of the same
 * size): a flood of forged Pi MACs must not flood the event store. Those over the limit are
 * counted and recorded when they ask again.
 */
export const NEW_PI_DETECTIONS_PER_SECOND = 50;
/**
 * A boot fact (dhcp.discover, dhcp.offered, dhcp.acked) is recorded at most once per client and
 * stage in this window: a real boot has one exchange, so nothing is lost, while a client (or a
 * forged MAC) looping DORA cannot turn every packet into an event.
 */
export const BOOT_FACT_MIN_INTERVAL_MS = 5_000;
/** Receive buffer of the server sockets: absorbs short stalls in a boot storm. */
export const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Replies waiting in a socket's user-space send queue (the kernel's send buffer is full) beyond
 * which a new reply is dropped (`packets_dropped_total{reason="send-backlog"}`) instead of queued.
 * A unicast reply to an address nobody answers ARP for waits in the kernel's neighbour queue,
 * charged to this socket's send buffer, until resolution fails (about 3 s); a few hundred of them
 * (requests with a made-up ciaddr or giaddr) fill the buffer. Unbounded, every later reply would
 * wait behind a queue that keeps growing, long after its client gave up.
 */
export const MAX_QUEUED_REPLIES = 64;

/** Records started per turn of the event loop while packets keep arriving. */
export const RECORDS_PER_TURN = 32;
/** Records waiting beyond this start at once (back-pressure instead of an unbounded queue). */
export const RECORD_QUEUE_LIMIT = 4096;

const TYPE_NAMES: Record<number, string> = {
  1: 'discover',
  2: 'offer',
  3: 'request',
  4: 'decline',
  5: 'ack',
  6: 'nak',
  7: 'release',
  8: 'inform',
};

export type FdFactory = (options: BoundSocketOptions) => number;

const NO_RECORD = (): Promise<unknown> => Promise.resolve();

interface ServerMetrics {
  packets: CounterMetric;
  replies: CounterMetric;
  drops: CounterMetric;
  malformed: CounterMetric;
  latency: HistogramMetric;
}

export class DhcpServer {
  private sockets: { socket: Socket; port: number }[] = [];
  private readonly metrics: ServerMetrics;
  private readonly log: Logger;
  /** MAC → the boot it is in and when it was last heard (for detection once per boot). */
  private readonly boots = new Map<string, { bootId: string; lastAt: number; reported: boolean }>();
  private readonly inFlight = new Set<string>();
  /** MACs of PXE clients of an unsupported architecture already logged. */
  private readonly unsupportedLogged = new Set<string>();
  /** `mac|stage` → when that boot fact was last recorded. */
  private readonly lastFact = new Map<string, number>();
  /** When each approved client sent its DISCOVERs, unthrottled (for diagnose: dhcp.diagnose.ts). */
  readonly discovers = new DiscoverLog();
  private bootSeq = 0;
  private detectTokens = NEW_PI_DETECTIONS_PER_SECOND;
  private detectRefilledAt = 0;
  private readonly detectionsLimited: CounterMetric;
  /** Records waiting for the packets ready now to be answered (see the top of this file). */
  private records: Array<() => Promise<unknown>> = [];
  private recordsHead = 0;
  private recordsScheduled = false;
  config: DhcpConfig;

  constructor(
    private readonly ctx: DhcpContext,
    private readonly view: DhcpView,
    config: DhcpConfig,
    private readonly createFd: FdFactory = createBoundUdpFd,
    private readonly now: () => number = Date.now,
  ) {
    this.config = config;
    this.log = ctx.logger;
    const m = ctx.metrics;
    this.metrics = {
      packets: m.counter('packets_received_total', 'DHCP packets received, by message type', ['type']),
      replies: m.counter('replies_sent_total', 'DHCP replies sent, by message type', ['type']),
      drops: m.counter('packets_dropped_total', 'Well-formed DHCP packets not answered, by reason', ['reason']),
      malformed: m.counter('packets_malformed_total', 'Malformed DHCP packets dropped, by reason', ['reason']),
      latency: m.histogram(
        'reply_latency_seconds',
        'Receipt to send of a reply (without the Pi 3 delay)',
        [],
        [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05],
      ),
    };
    this.detectionsLimited = m.counter(
      'detections_rate_limited_total',
      'New Pis not recorded yet because more than 50 per second appeared',
    );
  }

  /** Binds udp/67 and udp/4011 on the interface. Throws a SocketSetupError naming the problem. */
  async listen(iface: string | null): Promise<void> {
    const opened: { socket: Socket; port: number }[] = [];
    try {
      for (const port of [67, 4011]) {
        const socket = await adoptUdpFd(this.createFd({ port, interface: iface }));
        opened.push({ socket, port });
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch (error) {
          this.log.debug('could not enlarge the receive buffer', { port, error: (error as Error).message });
        }
        socket.on('message', (msg, rinfo) => this.onMessage(socket, port, msg, rinfo));
        socket.on('error', (error) => this.log.error('socket error', { port, error: error.message }));
      }
    } catch (error) {
      for (const s of opened) s.socket.close();
      throw error;
    }
    this.sockets = opened;
  }

  async close(): Promise<void> {
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.socket.close(() => resolve()))));
    this.sockets = [];
    // What the packets already answered asked to record is still recorded.
    this.runRecords(Infinity);
  }

  private onMessage(socket: Socket, localPort: number, msg: Buffer, rinfo: RemoteInfo): void {
    const received = process.hrtime.bigint();
    let request: DhcpPacket;
    try {
      request = decodePacket(msg);
    } catch (error) {
      const reason = error instanceof DhcpDecodeError ? error.reason : 'UNKNOWN';
      this.metrics.malformed.inc({ reason });
      this.log.debug('malformed packet dropped', { peer: `${rinfo.address}:${rinfo.port}`, reason, bytes: msg.length });
      return;
    }
    try {
      const type = messageType(request);
      this.metrics.packets.inc({ type: type ? TYPE_NAMES[type] : 'none' });
      const decision = decideDhcp(request, { localPort, now: this.now() }, this.view, this.config);
      void this.carryOut(socket, localPort, request, decision, rinfo, received).catch((error: Error) => {
        this.log.error('could not answer a DHCP request', { mac: request.mac, xid: request.xid, error: error.message });
      });
    } catch (error) {
      // A bug, not client input: count it like a malformed packet so it is visible, keep serving.
      this.metrics.malformed.inc({ reason: 'INTERNAL' });
      this.log.error('DHCP request handling failed', { peer: rinfo.address, error: (error as Error).message });
    }
  }

  private async carryOut(
    socket: Socket,
    localPort: number,
    request: DhcpPacket,
    decision: DhcpDecision,
    rinfo: RemoteInfo,
    received: bigint,
  ): Promise<void> {
    let persist: Promise<unknown> | null = null;
    for (const effect of decision.effects) {
      const p = this.apply(effect);
      if (p) persist = persist ? Promise.all([persist, p]) : p;
    }
    if (!decision.reply) {
      this.metrics.drops.inc({ reason: decision.drop ?? 'none' });
      this.log.debug('not answered', { mac: request.mac, xid: request.xid, reason: decision.drop });
      return;
    }
    // A new binding is durable before the client is told about it.
    if (persist) await persist;
    const reply = decision.reply;
    const bytes = encodePacket(reply, { maxSize: replyMaxSize(request) });
    const to = replyDestination(request, reply, { localPort, peer: { address: rinfo.address, port: rinfo.port } });
    const send = (): void => {
      if (socket.getSendQueueCount() >= MAX_QUEUED_REPLIES) {
        this.metrics.drops.inc({ reason: 'send-backlog' });
        this.log.debug('reply dropped: send queue full', { mac: request.mac, xid: request.xid, to: to.address });
        return;
      }
      socket.send(bytes, to.port, to.address, (error) => {
        if (error) {
          this.log.warn('reply not sent', { to: to.address, error: error.message });
          return;
        }
        const type = messageType(reply);
        this.metrics.replies.inc({ type: type ? TYPE_NAMES[type] : 'none' });
      });
    };
    this.metrics.latency.observe(Number(process.hrtime.bigint() - received) / 1e9);
    if (decision.delayMs > 0) setTimeout(send, decision.delayMs).unref();
    else send();
    this.log.debug('answered', { mac: request.mac, xid: request.xid, type: messageType(reply), to: to.address, port: localPort });
  }

  /** Applies an effect to the view now; returns a promise only for what must be durable first. */
  private apply(effect: DhcpEffect): Promise<unknown> | null {
    const commands = this.ctx.commands;
    switch (effect.kind) {
      case 'offer':
        this.view.offer(effect.mac, effect.ip, effect.until);
        return null;
      case 'withdraw-offer':
        this.view.clearOffer(effect.mac);
        return null;
      case 'bind': {
        this.view.bind(effect.mac, effect.ip, effect.expiresAt);
        if (!effect.persist) return null;
        return commands.appendEvent(DHCP_LEASE_STREAM, DhcpEventType.DhcpLeaseBound, {
          mac: effect.mac,
          ip: effect.ip,
          leaseSeconds: this.config.leaseSeconds,
        });
      }
      case 'release':
        this.view.unbind(effect.mac, effect.ip);
        this.record(() =>
          commands.appendEvent(DHCP_LEASE_STREAM, DhcpEventType.DhcpLeaseReleased, {
            mac: effect.mac,
            ip: effect.ip,
            reason: effect.reason,
          }),
        );
        return null;
      case 'decline':
        this.view.unbind(effect.mac, effect.ip);
        this.view.clearOffer(effect.mac);
        this.view.declined.set(effect.ip, effect.until);
        this.record(() => commands.appendEvent(DHCP_LEASE_STREAM, DhcpEventType.DhcpAddressDeclined, { mac: effect.mac, ip: effect.ip }));
        return null;
      case 'learn-address': {
        const client = this.view.clients.get(effect.mac);
        const key = `ip|${effect.mac}|${effect.ip}`;
        if (!client || client.ip === effect.ip || this.inFlight.has(key)) return null;
        this.inFlight.add(key);
        this.record(() => commands.learnClientAddress(effect.mac, effect.ip).finally(() => this.inFlight.delete(key)));
        return null;
      }
      case 'detect':
        this.detect(effect);
        return null;
      case 'unsupported-pxe': {
        // Once per MAC (bounded): a PXE ROM retries every few seconds, every morning.
        if (this.unsupportedLogged.has(effect.mac)) return null;
        if (this.unsupportedLogged.size >= 10_000) this.unsupportedLogged.clear();
        this.unsupportedLogged.add(effect.mac);
        this.log.info('a PXE client bramble cannot boot asks for a boot loader; not answered', {
          mac: effect.mac,
          arch: effect.arch,
          architecture: effect.archName,
          reason: 'bramble serves iPXE for x86 BIOS (arch 0) and x64 UEFI (arch 7 or 9) only',
        });
        return null;
      }
      case 'boot-fact': {
        // PXE and non-PXE apart: the kernel's DISCOVER a few seconds after the firmware's is its own fact.
        const key = `${effect.mac}|${effect.stage}|${effect.pxe ? 'pxe' : ''}`;
        const now = this.now();
        if (effect.stage === 'dhcp.discover') this.discovers.note(effect.mac, now);
        const last = this.lastFact.get(key);
        if (last !== undefined && now - last < BOOT_FACT_MIN_INTERVAL_MS) return null;
        this.lastFact.set(key, now);
        if (this.lastFact.size > 50_000) {
          for (const [k, at] of this.lastFact) if (now - at >= BOOT_FACT_MIN_INTERVAL_MS) this.lastFact.delete(k);
        }
        const fact = {
          mac: effect.mac,
          stage: effect.stage,
          ip: effect.ip,
          detail: {
            xid: `0x${effect.xid.toString(16).padStart(8, '0')}`,
            pxe: effect.pxe,
            ...(effect.ipxe !== undefined ? { ipxe: effect.ipxe } : {}),
            ...(effect.bootFile !== undefined ? { bootFile: effect.bootFile } : {}),
          },
        };
        this.record(() => commands.reportBootFact(fact));
        return null;
      }
    }
  }

  /** Records an unknown Pi once, and an approved one once per boot. */
  private detect(effect: Extract<DhcpEffect, { kind: 'detect' }>): void {
    const { identity } = effect;
    const now = this.now();
    let boot = this.boots.get(identity.mac);
    const newBoot = !boot || now - boot.lastAt > BOOT_GAP_MS;
    if (boot && !newBoot) {
      boot.lastAt = now;
      if (boot.reported) return;
    }
    if (this.inFlight.has(identity.mac)) return;
    if (effect.status === 'unknown') {
      this.detectTokens = Math.min(
        NEW_PI_DETECTIONS_PER_SECOND,
        this.detectTokens + ((now - this.detectRefilledAt) / 1000) * NEW_PI_DETECTIONS_PER_SECOND,
      );
      this.detectRefilledAt = now;
      if (this.detectTokens < 1) {
        // Nothing is remembered about it (a flood of forged MACs must not grow `boots`): when it
        // asks again, it is recorded then.
        this.detectionsLimited.inc();
        return;
      }
      this.detectTokens -= 1;
    }
    if (!boot || newBoot) {
      boot = { bootId: `${now.toString(36)}-${(++this.bootSeq).toString(36)}`, lastAt: now, reported: false };
      this.boots.set(identity.mac, boot);
    }
    this.inFlight.add(identity.mac);
    boot.reported = true;
    const reported = boot;
    const input = { mac: identity.mac, serial: identity.serial, model: identity.model, via: 'dhcp' as const, bootId: boot.bootId };
    this.record(() =>
      this.ctx.commands
        .detectClient(input)
        .catch((error: Error) => {
          reported.reported = false;
          throw error;
        })
        .finally(() => this.inFlight.delete(identity.mac)),
    );
    if (this.boots.size > 10_000) {
      for (const [mac, b] of this.boots) if (now - b.lastAt > BOOT_GAP_MS) this.boots.delete(mac);
    }
  }

  /** Queues a record (a core command) to start once the packets ready now are answered. */
  private record(start: () => Promise<unknown>): void {
    if (this.records.length - this.recordsHead >= RECORD_QUEUE_LIMIT) {
      this.startRecord(start);
      return;
    }
    this.records.push(start);
    if (!this.recordsScheduled) {
      this.recordsScheduled = true;
      setImmediate(() => this.runRecords(RECORDS_PER_TURN));
    }
  }

  /** Starts up to `max` queued records, oldest first; schedules the rest for the next turn. */
  private runRecords(max: number): void {
    this.recordsScheduled = false;
    let started = 0;
    while (this.recordsHead < this.records.length && started < max) {
      const start = this.records[this.recordsHead];
      this.records[this.recordsHead++] = NO_RECORD;
      started++;
      this.startRecord(start);
    }
    if (this.recordsHead >= this.records.length) {
      this.records = [];
      this.recordsHead = 0;
    } else if (!this.recordsScheduled) {
      this.recordsScheduled = true;
      setImmediate(() => this.runRecords(RECORDS_PER_TURN));
    }
  }

  private startRecord(start: () => Promise<unknown>): void {
    let p: Promise<unknown>;
    try {
      p = start();
    } catch (error) {
      p = Promise.reject(error as Error);
    }
    p.catch((error: Error) => this.log.warn('could not record a DHCP observation', { error: error.message }));
  }

  /** Whether the server is bound (for health). */
  get listening(): boolean {
    return this.sockets.length > 0;
  }
}
