/**
 * Fuzzing the DHCP server over a real (namespaced) LAN: "A malformed packet is dropped and counted;
 * nothing a client sends can crash or stall the server."
 *
 * An in-process bramble (full mode) serves the `srv` host of a dhcp lab. A node child started in the
 * `fuzz` host (an ordinary LAN host with an address) sends ≥ 100,000 packets to the server's ports 67
 * and 4011, unicast and broadcast, paced in bursts: fully random buffers, and mutations of Pi
 * DISCOVER/REQUEST packets (truncated, bytes flipped, bad cookie, option lengths past the end,
 * overload loops and bad overload values, a 255-byte option 55, options repeated past 255 bytes
 * (RFC 3396), hlen > 16, op = 2, wrong htype/hlen, bad message types), valid packets from random
 * non-Pi MACs, valid DISCOVERs from random Pi MACs (these hit the 50 new Pis/s detection limit), and
 * odd requests from approved Pis. The packets come from a seeded PRNG: BRAMBLE_TEST_FUZZ_SEED
 * reproduces a run (the seed is printed).
 *
 * While the flood runs, a second approved Pi boots (busybox udhcpc) and must get its lease. After
 * it: a real udhcpc as the approved Pi gets its answer; the malformed counter rose by thousands with
 * every structural reason and no INTERNAL one; ClientDetected events stayed within the rate limit;
 * /health is ok; no uncaught exception, unhandled rejection, or error logged by the plugin.
 *
 * The same compiled file is the sender: run with BRAMBLE_TEST_FUZZ_SENDER=<json config> it floods
 * and prints a JSON report instead of defining tests.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { ApproveClientCommand } from '../../../src/core/commands/client.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../../src/core/event-store/event-store.port';
import { JsonLogger } from '../../../src/core/logging/logger';
import { Metrics } from '../../../src/core/observability/metrics';
import { adoptUdpFd, createBoundUdpFd, openBoundUdpSocket } from '../../../src/plugins/dhcp/bound-udp-socket';
import { NEW_PI_DETECTIONS_PER_SECOND } from '../../../src/plugins/dhcp/dhcp.server';
import { canUseNetns } from '../../support/netlab';
import { pi4Guid, PI_VENDOR_CLASS, startDhcpLab, type DhcpLab } from '../../support/dhcp-lab';
import { Rng } from '../../support/rng';
import { counterValues, diff, sum } from '../../support/metric-values';

const SENDER_ENV = 'BRAMBLE_TEST_FUZZ_SENDER';

// ---------------------------------------------------------------------------------------------
// Seeded packet generation (used by the sender child)

const PI_OUIS = ['b8:27:eb', 'dc:a6:32', 'e4:5f:01', '28:cd:c1', 'd8:3a:dd', '2c:cf:67'];
const PI_PARAMS = [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135];

interface SenderConfig {
  seed: number;
  count: number;
  /** Packets per second to aim for, sent in bursts of `burst`. */
  rate: number;
  burst: number;
  maxSeconds: number;
  serverIp: string;
  /** The lab's /24, e.g. 10.123.4 (addresses the packets name stay inside it). */
  subnetBase: string;
  approvedMacs: string[];
  /**
   * Addresses of lab hosts (they answer ARP): the only ones approved-Pi packets name as ciaddr or
   * giaddr, so that replies unicast to them leave at once. Replies to addresses nobody answers ARP
   * for are the subject of their own test below.
   */
  reachable: string[];
}

export interface SenderReport {
  seed: number;
  sent: number;
  sendErrors: number;
  seconds: number;
  kinds: Record<string, number>;
  targets: Record<string, number>;
}

interface Header {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  giaddr: string;
  chaddr: Buffer;
  sname: Buffer | null;
  file: Buffer | null;
}

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

function writeIp(b: Buffer, off: number, ip: string): void {
  const p = ip.split('.');
  for (let i = 0; i < 4; i++) b[off + i] = Number(p[i]);
}

/** The 240-byte header + cookie, then the raw option bytes (no END added). */
function rawPacket(h: Header, options: Buffer): Buffer {
  const b = Buffer.alloc(240 + options.length);
  b[0] = h.op;
  b[1] = h.htype;
  b[2] = h.hlen;
  b[3] = h.hops;
  b.writeUInt32BE(h.xid >>> 0, 4);
  b.writeUInt16BE(h.flags & 0xffff, 10);
  writeIp(b, 12, h.ciaddr);
  writeIp(b, 16, h.yiaddr);
  writeIp(b, 24, h.giaddr);
  h.chaddr.copy(b, 28, 0, Math.min(16, h.chaddr.length));
  if (h.sname) h.sname.copy(b, 44, 0, Math.min(64, h.sname.length));
  if (h.file) h.file.copy(b, 108, 0, Math.min(128, h.file.length));
  b.writeUInt32BE(0x63825363, 236);
  options.copy(b, 240);
  return b;
}

/** One option instance (data ≤ 255 bytes). */
function opt(code: number, data: Buffer | number[]): Buffer {
  const d = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return Buffer.concat([Buffer.from([code, d.length]), d]);
}

class PacketFactory {
  constructor(
    private readonly r: Rng,
    private readonly cfg: SenderConfig,
  ) {}

  piMac(): string {
    const tail = this.r.bytes(3).toString('hex').match(/../g)!.join(':');
    return `${this.r.pick(PI_OUIS)}:${tail}`;
  }

  /** Locally administered unicast: never a Pi OUI. */
  nonPiMac(): string {
    const b = this.r.bytes(6);
    b[0] = (b[0] & 0xfc) | 0x02;
    return b.toString('hex').match(/../g)!.join(':');
  }

  /** An address inside the lab's /24 (never .1, the server), or 0.0.0.0. */
  labIp(zeroChance = 0.5): string {
    return this.r.chance(zeroChance) ? '0.0.0.0' : `${this.cfg.subnetBase}.${2 + this.r.int(253)}`;
  }

  header(mac: string, over: Partial<Header> = {}): Header {
    const chaddr = Buffer.alloc(16);
    macBytes(mac).copy(chaddr);
    return {
      op: 1,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: this.r.uint32(),
      flags: this.r.chance(0.5) ? 0x8000 : 0,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      giaddr: '0.0.0.0',
      chaddr,
      sname: null,
      file: null,
      ...over,
    };
  }

  /** The options of a Pi 4 DISCOVER (type 1) or REQUEST (type 3), in the bootloader's style. */
  piOptions(mac: string, type: number, pxe = true): Array<[number, Buffer]> {
    const list: Array<[number, Buffer]> = [[53, Buffer.from([type])]];
    if (type === 3) {
      list.push([
        50,
        Buffer.from(
          this.cfg.subnetBase
            .split('.')
            .map(Number)
            .concat([100 + this.r.int(100)]),
        ),
      ]);
      list.push([54, Buffer.from(this.cfg.serverIp.split('.').map(Number))]);
    }
    if (this.r.chance(0.5)) list.push([57, Buffer.from([0x05, 0xdc])]);
    list.push([55, Buffer.from(PI_PARAMS)]);
    if (pxe) {
      list.push([60, Buffer.from(PI_VENDOR_CLASS, 'latin1')]);
      list.push([93, Buffer.from([0, 0])]);
      list.push([94, Buffer.from([1, 2, 1])]);
      list.push([97, Buffer.from(pi4Guid(mac, this.r.uint32()), 'hex')]);
    }
    return list;
  }

  encodeOptions(list: Array<[number, Buffer]>, end = true): Buffer {
    return Buffer.concat([...list.map(([c, d]) => opt(c, d)), ...(end ? [Buffer.from([255])] : [])]);
  }

  /** A well-formed Pi DISCOVER or REQUEST from a random (unknown) Pi or non-Pi MAC. */
  template(): Buffer {
    const mac = this.r.chance(0.8) ? this.piMac() : this.nonPiMac();
    const type = this.r.chance(0.6) ? 1 : 3;
    return rawPacket(this.header(mac), this.encodeOptions(this.piOptions(mac, type)));
  }

  /** One packet and its kind. */
  next(): { kind: string; bytes: Buffer } {
    const r = this.r;
    const roll = r.int(100);
    let acc = 0;
    for (const [kind, weight, make] of this.kinds) {
      acc += weight;
      if (roll < acc) return { kind, bytes: make() };
    }
    throw new Error('weights do not sum to 100');
  }

  private readonly kinds: Array<[string, number, () => Buffer]> = [
    // Fully random: mostly TOO_SHORT and BAD_COOKIE.
    ['random', 12, () => this.r.bytes(this.r.int(1501))],
    // Random bytes behind a valid cookie: BAD_HLEN, OPTION_OVERRUN, BAD_OVERLOAD, OVERLOAD_LOOP or odd but decodable.
    [
      'random-cookie',
      8,
      () => {
        const b = this.r.bytes(240 + this.r.int(1233));
        b.writeUInt32BE(0x63825363, 236);
        if (this.r.chance(0.5)) {
          b[0] = 1;
          b[1] = 1;
          b[2] = this.r.chance(0.7) ? 6 : b[2];
          b.fill(0, 12, 28); // no addresses that would name hosts outside the lab
        }
        return b;
      },
    ],
    [
      'truncated',
      8,
      () => {
        const t = this.template();
        return Buffer.from(t.subarray(0, this.r.int(t.length)));
      },
    ],
    [
      'flipped',
      9,
      () => {
        const t = this.template();
        for (let n = 1 + this.r.int(8); n > 0; n--) {
          const at = this.r.chance(0.7) ? 236 + this.r.int(t.length - 236) : this.r.int(t.length);
          t[at] = this.r.chance(0.5) ? t[at] ^ (1 << this.r.int(8)) : this.r.int(256);
        }
        return t;
      },
    ],
    [
      'bad-cookie',
      4,
      () => {
        const t = this.template();
        t[236 + this.r.int(4)] ^= 1 + this.r.int(255);
        return t;
      },
    ],
    [
      'option-overrun',
      6,
      () => {
        const mac = this.piMac();
        const list = this.piOptions(mac, 1);
        const body = this.encodeOptions(list, false);
        switch (this.r.int(3)) {
          case 0: {
            // One more option whose length runs past the end of the packet.
            const data = this.r.bytes(this.r.int(40));
            return rawPacket(
              this.header(mac),
              Buffer.concat([
                body,
                Buffer.from([this.r.pick([12, 43, 55, 60, 97, 200]), data.length + 1 + this.r.int(254 - data.length)]),
                data,
              ]),
            );
          }
          case 1: {
            // An existing option's length byte made too large (the last one, so it cannot be absorbed).
            const b = rawPacket(this.header(mac), body);
            const last = this.encodeOptions(list.slice(-1), false);
            const at = b.length - last.length;
            b[at + 1] = Math.min(255, last.length - 2 + 1 + this.r.int(200));
            return b;
          }
          default:
            // A code byte with no length byte at the very end.
            return rawPacket(this.header(mac), Buffer.concat([body, Buffer.from([this.r.pick([1, 43, 55, 97, 254])])]));
        }
      },
    ],
    [
      'overload-loop',
      5,
      () => {
        const mac = this.piMac();
        const where = 1 + this.r.int(3); // 1 file, 2 sname, 3 both
        const inner = Buffer.concat([opt(12, Buffer.from('pi', 'latin1')), opt(52, [this.r.pick([1, 2, 3])]), Buffer.from([255])]);
        const h = this.header(mac, { file: where & 1 ? inner : null, sname: where & 2 ? inner : null });
        return rawPacket(h, this.encodeOptions([...this.piOptions(mac, 1), [52, Buffer.from([where])]]));
      },
    ],
    [
      'overload-bad',
      4,
      () => {
        const mac = this.piMac();
        const value = this.r.pick([
          Buffer.from([]),
          Buffer.from([0]),
          Buffer.from([4 + this.r.int(252)]),
          Buffer.from([1, 2]),
          this.r.bytes(1 + this.r.int(20)),
        ]);
        const extra: Array<[number, Buffer]> = this.r.chance(0.3)
          ? [
              [52, Buffer.from([1])],
              [52, Buffer.from([2])],
            ]
          : [[52, value]];
        return rawPacket(this.header(mac), this.encodeOptions([...this.piOptions(mac, 1), ...extra]));
      },
    ],
    [
      'overload-valid',
      3,
      () => {
        // Options moved into file/sname (legal), sometimes with an overrun inside those fields.
        const mac = this.piMac();
        const list = this.piOptions(mac, this.r.pick([1, 3]));
        const moved = list.filter(([c]) => c === 60 || c === 97 || c === 55);
        const kept = list.filter(([c]) => !(c === 60 || c === 97 || c === 55));
        let file = Buffer.concat([...moved.map(([c, d]) => opt(c, d)), Buffer.from([255])]);
        if (this.r.chance(0.3)) file = Buffer.concat([file.subarray(0, file.length - 1), Buffer.from([43, 200])]);
        const sname = this.r.chance(0.5) ? Buffer.concat([opt(12, Buffer.from('rpi', 'latin1')), Buffer.from([255])]) : Buffer.from([255]);
        return rawPacket(this.header(mac, { file, sname }), this.encodeOptions([...kept, [52, Buffer.from([3])]]));
      },
    ],
    [
      'huge-option-55',
      4,
      () => {
        const mac = this.r.chance(0.8) ? this.piMac() : this.nonPiMac();
        const list = this.piOptions(mac, 1).filter(([c]) => c !== 55);
        list.splice(1, 0, [55, this.r.chance(0.5) ? this.r.bytes(255) : Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1))]);
        return rawPacket(this.header(mac), this.encodeOptions(list));
      },
    ],
    [
      'rfc3396-concat',
      5,
      () => {
        // Repeated instances joined past 255 bytes: 55, 43, 60, 12, 97 (two halves or two whole GUIDs), even 53.
        const mac = this.r.chance(0.8) ? this.piMac() : this.nonPiMac();
        const list = this.piOptions(mac, 1);
        const code = this.r.pick([55, 43, 60, 12, 97, 97, 53, 61]);
        const pieces = 2 + this.r.int(5);
        for (let i = 0; i < pieces; i++) {
          const data =
            code === 97
              ? Buffer.from(pi4Guid(mac, i), 'hex')
              : code === 53
                ? Buffer.from([1])
                : this.r.bytes(code === 12 ? 1 + this.r.int(255) : 255);
          list.push([code, data]);
        }
        return rawPacket(this.header(mac), this.encodeOptions(list));
      },
    ],
    [
      'hlen-over-16',
      3,
      () => {
        const t = this.template();
        t[2] = 17 + this.r.int(239);
        return t;
      },
    ],
    [
      'op-bootreply',
      3,
      () => {
        const t = this.template();
        t[0] = this.r.chance(0.8) ? 2 : this.r.pick([0, 3, 255]);
        return t;
      },
    ],
    [
      'wrong-htype-hlen',
      3,
      () => {
        const t = this.template();
        if (this.r.chance(0.5)) t[1] = this.r.pick([0, 6, 7, 32, 255]);
        else t[2] = this.r.pick([0, 1, 5, 7, 8, 16]);
        return t;
      },
    ],
    [
      'non-pi',
      5,
      () => {
        // Well-formed DISCOVER/REQUEST from a random non-Pi MAC (some with the PXE fingerprint).
        const mac = this.nonPiMac();
        const list = this.piOptions(mac, this.r.pick([1, 3]), this.r.chance(0.5)).filter(([c]) => c !== 97);
        return rawPacket(this.header(mac), this.encodeOptions(list));
      },
    ],
    [
      'new-pi',
      10,
      () => {
        // A valid Pi DISCOVER from a never-seen Pi: by OUI, or by the option 97 FourCC behind another MAC.
        const mac = this.r.chance(0.85) ? this.piMac() : this.nonPiMac();
        return rawPacket(this.header(mac), this.encodeOptions(this.piOptions(mac, this.r.chance(0.8) ? 1 : 3)));
      },
    ],
    [
      'bad-message-type',
      3,
      () => {
        const mac = this.piMac();
        const list = this.piOptions(mac, 1).filter(([c]) => c !== 53);
        const variant = this.r.int(4);
        if (variant === 1) list.unshift([53, Buffer.from([])]);
        if (variant === 2) list.unshift([53, Buffer.from([1, 3])]);
        if (variant === 3) list.unshift([53, Buffer.from([this.r.pick([0, 9, 10, 18, 255])])]);
        return rawPacket(this.header(mac), this.encodeOptions(list));
      },
    ],
    [
      'approved-odd',
      5,
      () => {
        // Approved Pis with odd requests: every message type (and invalid ones), odd ciaddr, requested
        // address, server id, giaddr, hops. Every address stays inside the lab's /24, and replies only
        // go to lab hosts (see `reachable`).
        const mac = this.r.pick(this.cfg.approvedMacs);
        const reachable = (): string => (this.r.chance(0.5) ? '0.0.0.0' : this.r.pick(this.cfg.reachable));
        const type = this.r.pick([1, 1, 3, 3, 3, 4, 7, 8, 8, 2, 5, 6, 0, 9, 255]);
        const list: Array<[number, Buffer]> = [[53, Buffer.from([type])]];
        if (this.r.chance(0.6)) list.push([50, Buffer.from(this.labIp(0.1).split('.').map(Number))]);
        if (this.r.chance(0.5))
          list.push([54, Buffer.from((this.r.chance(0.6) ? this.cfg.serverIp : this.labIp(0.2)).split('.').map(Number))]);
        if (this.r.chance(0.3)) list.push([57, this.r.bytes(this.r.pick([1, 2, 2, 3]))]);
        if (this.r.chance(0.3)) list.push([61, this.r.bytes(this.r.int(40))]);
        if (this.r.chance(0.5)) list.push(...this.piOptions(mac, type).filter(([c]) => c >= 55 && c !== 57));
        const h = this.header(mac, {
          ciaddr: reachable(),
          giaddr: this.r.chance(0.1) ? reachable() : '0.0.0.0',
          hops: this.r.chance(0.1) ? 1 + this.r.int(16) : 0,
          flags: this.r.pick([0, 0x8000, 0x7fff, 0xffff]),
        });
        return rawPacket(h, this.encodeOptions(this.r.chance(0.5) ? this.r.pick([list, [...list].reverse()]) : list, this.r.chance(0.9)));
      },
    ],
  ];
}

async function runSender(cfg: SenderConfig): Promise<SenderReport> {
  const r = new Rng(cfg.seed);
  const factory = new PacketFactory(r, cfg);
  // Already inside the fuzz host's namespace (ip netns exec): bound to eth0 so that broadcasts leave
  // through it (the host has no default route).
  const socket = await openBoundUdpSocket({ port: 0, interface: 'eth0' });
  const kinds: Record<string, number> = {};
  const targets: Record<string, number> = {};
  let sent = 0;
  let sendErrors = 0;
  const start = performance.now();
  const deadline = start + cfg.maxSeconds * 1000;
  try {
    while (sent < cfg.count && performance.now() < deadline) {
      const n = Math.min(cfg.burst, cfg.count - sent);
      const pending: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const { kind, bytes } = factory.next();
        const roll = r.int(100);
        const address = roll < 10 ? '255.255.255.255' : cfg.serverIp;
        const port = roll >= 95 ? 4011 : 67;
        const target = `${address === cfg.serverIp ? 'unicast' : 'broadcast'}:${port}`;
        kinds[kind] = (kinds[kind] ?? 0) + 1;
        targets[target] = (targets[target] ?? 0) + 1;
        pending.push(
          new Promise<void>((resolve) =>
            socket.send(bytes, port, address, (error) => {
              if (error) sendErrors++;
              resolve();
            }),
          ),
        );
      }
      await Promise.all(pending);
      sent += n;
      const wait = start + (sent / cfg.rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  } finally {
    socket.close();
  }
  return { seed: cfg.seed, sent, sendErrors, seconds: (performance.now() - start) / 1000, kinds, targets };
}

// ---------------------------------------------------------------------------------------------
// The test

async function countEvents(store: EventStore, type: string, after: number): Promise<number> {
  let count = 0;
  let position = after;
  for (let page = 0; page < 1000; page++) {
    const events = await store.readAll({ after: position, limit: 1000, filter: { types: [type] } });
    if (events.length === 0) break;
    count += events.length;
    position = events[events.length - 1].position;
  }
  return count;
}

const PI = { mac: 'dc:a6:32:5a:00:01', serial: 0x5a000001 };
const PI_DURING = { mac: 'e4:5f:01:5a:00:02', serial: 0x5a000002 };
const FUZZ_APPROVED = ['dc:a6:32:5a:0f:01', 'dc:a6:32:5a:0f:02', '2c:cf:67:5a:0f:03', 'd8:3a:dd:5a:0f:04'];
/** Extra addresses of the fuzz host (host parts in the lab's /24, inside the lease range). */
const FUZZ_EXTRA_HOSTS = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39];
/** Host parts of lab addresses no host has (nobody answers ARP for them). */
const UNUSED_HOSTS = Array.from({ length: 20 }, (_, i) => 230 + i);
const RPI_BOOT_HEX = Buffer.from('Raspberry Pi Boot', 'latin1').toString('hex');

function assertBound(events: Record<string, Record<string, string>>, lab: DhcpLab, who: string): void {
  const bound = events.bound;
  assert.ok(bound, `${who}: udhcpc got no lease (script calls: ${Object.keys(events).join(', ') || 'none'})`);
  assert.equal(bound.serverid, lab.serverIp, `${who}: answered by bramble`);
  assert.ok(bound.ip.startsWith(`${lab.lab.subnetBase}.`), `${who}: an address of the lab (${bound.ip})`);
  assert.ok((bound.opt43 ?? '').includes(RPI_BOOT_HEX), `${who}: option 43 carries "Raspberry Pi Boot"`);
}

if (process.env[SENDER_ENV]) {
  runSender(JSON.parse(process.env[SENDER_ENV]) as SenderConfig).then(
    (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
    (error: Error) => {
      process.stderr.write(`fuzz sender failed: ${error.stack ?? error.message}\n`);
      process.exitCode = 1;
    },
  );
} else {
  const skip = canUseNetns();
  describe('DHCP fuzz: malformed and hostile packets over a namespaced LAN', { skip: skip ?? false }, () => {
    let lab: DhcpLab;
    let url: string;
    const admin = () => commandMeta('admin:fuzz');
    const problems: string[] = [];
    const onUncaught = (error: Error): void => void problems.push(`uncaughtException: ${error.stack ?? error.message}`);
    const onRejection = (reason: unknown): void => void problems.push(`unhandledRejection: ${String((reason as Error)?.stack ?? reason)}`);
    // The lab's core logs to a silent JsonLogger; record what the DHCP plugin says at warn/error.
    const logged: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
    const originalError = JsonLogger.prototype.error;
    const originalWarn = JsonLogger.prototype.warn;

    before(async () => {
      process.on('uncaughtException', onUncaught);
      process.on('unhandledRejection', onRejection);
      JsonLogger.prototype.error = function (this: JsonLogger, msg: string, fields?: Record<string, unknown>) {
        if (String((this as unknown as { component?: string }).component ?? '').includes('dhcp'))
          logged.push({ level: 'error', msg, fields });
        return originalError.call(this, msg, fields);
      };
      JsonLogger.prototype.warn = function (this: JsonLogger, msg: string, fields?: Record<string, unknown>) {
        if (String((this as unknown as { component?: string }).component ?? '').includes('dhcp'))
          logged.push({ level: 'warn', msg, fields });
        return originalWarn.call(this, msg, fields);
      };
      lab = await startDhcpLab();
      try {
        const base = lab.lab.subnetBase;
        await lab.settings({
          mode: 'full',
          rangeStart: `${base}.20`,
          rangeEnd: `${base}.250`,
          netmask: '255.255.255.0',
          leaseSeconds: 600,
        });
        for (const mac of [PI.mac, PI_DURING.mac, ...FUZZ_APPROVED]) await lab.core.exec(new ApproveClientCommand({ mac }, admin()));
        await lab.addClient('pi', PI.mac);
        await lab.addClient('pi2', PI_DURING.mac);
        await lab.lab.addHost('fuzz', 'lan', { ifname: 'eth0', mac: '02:00:00:00:0f:0f', cidr: `${lab.lab.ip(2)}/24` });
        // More addresses on the fuzz host, inside the lease range: approved-Pi requests name them.
        for (const n of FUZZ_EXTRA_HOSTS) await lab.lab.ipIn(lab.lab.ns('fuzz'), ['addr', 'add', `${lab.lab.ip(n)}/24`, 'dev', 'eth0']);
        url = await lab.core.app.listen();
      } catch (error) {
        await lab.close();
        throw error;
      }
    });

    after(async () => {
      try {
        await lab?.close();
      } finally {
        JsonLogger.prototype.error = originalError;
        JsonLogger.prototype.warn = originalWarn;
        process.off('uncaughtException', onUncaught);
        process.off('unhandledRejection', onRejection);
      }
    });

    it('survives ≥ 100,000 random and mutated packets and still answers a real Pi', { timeout: 180_000 }, async () => {
      const metrics = lab.core.app.nest.get(Metrics);
      const store = lab.core.app.nest.get<EventStore>(EVENT_STORE);

      // Baseline: the Pi boots before the flood.
      assertBound(await lab.udhcpc('pi', { pi: PI }), lab, 'before the flood');

      const malformedBefore = await counterValues(metrics, 'bramble_dhcp_packets_malformed_total', 'reason');
      const receivedBefore = await counterValues(metrics, 'bramble_dhcp_packets_received_total', 'type');
      const droppedBefore = await counterValues(metrics, 'bramble_dhcp_packets_dropped_total', 'reason');
      const limitedBefore = sum(await counterValues(metrics, 'bramble_dhcp_detections_rate_limited_total', ''));
      const headBefore = await store.headPosition();
      const rssBefore = process.memoryUsage().rss;

      const seed = process.env.BRAMBLE_TEST_FUZZ_SEED ? Number(process.env.BRAMBLE_TEST_FUZZ_SEED) >>> 0 : 0xb4a3b1e;
      const config: SenderConfig = {
        seed,
        count: 120_000,
        rate: 10_000,
        burst: 50,
        maxSeconds: 45,
        serverIp: lab.serverIp,
        subnetBase: lab.lab.subnetBase,
        approvedMacs: FUZZ_APPROVED,
        reachable: [2, ...FUZZ_EXTRA_HOSTS].map((n) => lab.lab.ip(n)),
      };
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const floodStart = performance.now();
      const flood = lab.lab.exec(
        'fuzz',
        'env',
        ['-u', 'NODE_TEST_CONTEXT', `${SENDER_ENV}=${JSON.stringify(config)}`, process.execPath, __filename],
        { timeoutMs: 90_000 },
      );
      // A Pi that boots in the middle of the flood gets its lease (udhcpc retries as a Pi would).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const duringStart = performance.now();
      const during = await lab.udhcpc('pi2', { pi: PI_DURING, tries: 6, timeoutSec: 2 });
      const duringMs = performance.now() - duringStart;
      const { stdout } = await flood;
      const floodMs = performance.now() - floodStart;
      loop.disable();
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as SenderReport;

      // Let the server drain its socket buffers and background appends (bounded).
      let last = -1;
      for (let i = 0; i < 50; i++) {
        const now =
          sum(await counterValues(metrics, 'bramble_dhcp_packets_malformed_total', 'reason')) +
          sum(await counterValues(metrics, 'bramble_dhcp_packets_received_total', 'type'));
        if (now === last) break;
        last = now;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }

      // After the flood: the approved Pi still gets its answer.
      const afterStart = performance.now();
      const afterFlood = await lab.udhcpc('pi', { pi: PI });
      const afterMs = performance.now() - afterStart;

      const malformed = diff(await counterValues(metrics, 'bramble_dhcp_packets_malformed_total', 'reason'), malformedBefore);
      const received = diff(await counterValues(metrics, 'bramble_dhcp_packets_received_total', 'type'), receivedBefore);
      const dropped = diff(await counterValues(metrics, 'bramble_dhcp_packets_dropped_total', 'reason'), droppedBefore);
      const limited = sum(await counterValues(metrics, 'bramble_dhcp_detections_rate_limited_total', '')) - limitedBefore;
      const detectedSeconds = (performance.now() - floodStart) / 1000;
      const detected = await countEvents(store, 'ClientDetected', headBefore);
      const health = await fetch(`${url}/health`);
      const healthBody = (await health.json()) as { status: string; plugins: Record<string, { status: string; detail?: string }> };

      const serverSaw = sum(malformed) + sum(received);
      process.stdout.write(
        [
          `# fuzz seed=0x${report.seed.toString(16)} sent=${report.sent} send_errors=${report.sendErrors} sender_seconds=${report.seconds.toFixed(2)} flood_wall_ms=${floodMs.toFixed(0)}`,
          `# fuzz kinds ${JSON.stringify(report.kinds)} targets ${JSON.stringify(report.targets)}`,
          `# fuzz server_saw=${serverSaw} (${((100 * serverSaw) / report.sent).toFixed(1)}% of sent) malformed=${JSON.stringify(Object.fromEntries(malformed))}`,
          `# fuzz decoded_by_type=${JSON.stringify(Object.fromEntries(received))} not_answered=${JSON.stringify(Object.fromEntries(dropped))}`,
          `# fuzz client_detected=${detected} in ${detectedSeconds.toFixed(1)} s (limit ${NEW_PI_DETECTIONS_PER_SECOND}/s) rate_limited=${limited}`,
          `# fuzz event_loop_delay_ms p50=${(loop.percentile(50) / 1e6).toFixed(2)} p99=${(loop.percentile(99) / 1e6).toFixed(2)} max=${(loop.max / 1e6).toFixed(2)} rss_mb_before=${(rssBefore / 2 ** 20).toFixed(0)} rss_mb_after=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}`,
          `# fuzz pi_during_flood_ms=${duringMs.toFixed(0)} pi_after_flood_ms=${afterMs.toFixed(0)} plugin_warn=${logged.filter((l) => l.level === 'warn').length} plugin_error=${logged.filter((l) => l.level === 'error').length}`,
          '',
        ].join('\n'),
      );

      assert.ok(report.sent >= 100_000, `sent ${report.sent} packets`);
      assert.equal(report.sendErrors, 0, 'every packet left the sender');
      assertBound(during, lab, 'during the flood');
      assertBound(afterFlood, lab, 'after the flood');

      assert.ok(sum(malformed) >= 20_000, `malformed counter rose by ${sum(malformed)}`);
      for (const reason of ['TOO_SHORT', 'BAD_COOKIE', 'BAD_HLEN', 'OPTION_OVERRUN', 'BAD_OVERLOAD', 'OVERLOAD_LOOP']) {
        assert.ok((malformed.get(reason) ?? 0) > 0, `malformed reason ${reason} counted`);
      }
      assert.deepEqual(
        [...malformed.keys()].filter((k) => k === 'INTERNAL' || k === 'UNKNOWN'),
        [],
        'no packet made the decider or decoder fail in an unexpected way',
      );
      for (const reason of ['not-bootrequest', 'no-message-type', 'not-ethernet', 'not-a-pi', 'unknown-pi']) {
        assert.ok((dropped.get(reason) ?? 0) > 0, `well-formed packets dropped as ${reason}`);
      }

      // The detection limit held: never more than the bucket (50) plus 50 per second of flood.
      assert.ok(detected > 0, 'new Pis were still recorded during the flood');
      assert.ok(
        detected <= NEW_PI_DETECTIONS_PER_SECOND * detectedSeconds + NEW_PI_DETECTIONS_PER_SECOND,
        `${detected} ClientDetected in ${detectedSeconds.toFixed(1)} s`,
      );
      assert.ok(limited > 0, 'the flood of new Pi MACs hit the detection limit');

      assert.equal(health.status, 200);
      assert.equal(healthBody.status, 'ok', JSON.stringify(healthBody));
      assert.equal(healthBody.plugins.dhcp?.status, 'up');
      assert.deepEqual(problems, [], 'no uncaught exception or unhandled rejection');
      assert.deepEqual(
        logged.filter((l) => l.level === 'error'),
        [],
        'the DHCP plugin logged no error',
      );
    });

    it('replies to addresses nobody answers ARP for hold up other replies only briefly', { timeout: 120_000 }, async () => {
      // An approved Pi's MAC (forged, or a Pi gone since) sends INFORMs with made-up ciaddrs: each
      // ACK is unicast to an address that never answers ARP and waits ~3 s in the kernel's
      // neighbour queue, charged to the server socket's send buffer. Without a bound on the
      // socket's own queue, every later reply (the Pis' broadcasts too) waited behind thousands.
      const metrics = lab.core.app.nest.get(Metrics);
      const backlogBefore = (await counterValues(metrics, 'bramble_dhcp_packets_dropped_total', 'reason')).get('send-backlog') ?? 0;
      const informsBefore = (await counterValues(metrics, 'bramble_dhcp_packets_received_total', 'type')).get('inform') ?? 0;
      const socket = await adoptUdpFd(lab.lab.inNamespace('fuzz', () => createBoundUdpFd({ port: 0, interface: 'eth0' })));
      const r = new Rng(0x1f0a4);
      const factory = new PacketFactory(r, {
        seed: 0,
        count: 0,
        rate: 0,
        burst: 0,
        maxSeconds: 0,
        serverIp: lab.serverIp,
        subnetBase: lab.lab.subnetBase,
        approvedMacs: FUZZ_APPROVED,
        reachable: [],
      });
      const informs = 2000;
      try {
        // In bursts the server (same process, same event loop) keeps up with: 50 per 10 ms.
        for (let i = 0; i < informs; i += 50) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          await Promise.all(
            Array.from({ length: 50 }, (_, k) => {
              const mac = FUZZ_APPROVED[(i + k) % FUZZ_APPROVED.length];
              const h = factory.header(mac, { ciaddr: lab.lab.ip(UNUSED_HOSTS[(i + k) % UNUSED_HOSTS.length]), flags: 0 });
              const bytes = rawPacket(
                h,
                factory.encodeOptions([
                  [53, Buffer.from([8])],
                  [55, Buffer.from([1, 3, 6])],
                ]),
              );
              return new Promise<void>((resolve) => socket.send(bytes, 67, lab.serverIp, () => resolve()));
            }),
          );
        }
      } finally {
        socket.close();
      }
      const start = performance.now();
      const events = await lab.udhcpc('pi', { pi: PI, tries: 12, timeoutSec: 1 });
      const ms = performance.now() - start;
      const backlog =
        ((await counterValues(metrics, 'bramble_dhcp_packets_dropped_total', 'reason')).get('send-backlog') ?? 0) - backlogBefore;
      const informed = (await counterValues(metrics, 'bramble_dhcp_packets_received_total', 'type')).get('inform')! - informsBefore;
      process.stdout.write(
        `# fuzz arp_stall informs=${informs} received=${informed} to ${UNUSED_HOSTS.length} unused addresses: pi answered after ${ms.toFixed(0)} ms, replies dropped for send backlog=${backlog}\n`,
      );
      assertBound(events, lab, 'after replies to unreachable addresses');
      assert.ok(backlog > 0, 'the send queue bound dropped replies');
      assert.ok(ms < 10_000, `the Pi waited ${ms.toFixed(0)} ms`);
    });
  });
}
