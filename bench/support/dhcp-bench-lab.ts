/**
 * The DHCP benchmark's lab: one switch, a server host and a client host (network namespaces, a
 * private /21 chosen per run: room for 1,000+ leases), 1,000 approved Pi MACs, and the two servers
 * under test on the same host and interface, one after the other:
 *   - bramble in-process (full mode, the MACs imported as approved clients, data on disk),
 *   - dnsmasq with one `dhcp-host=<mac>,<ip>` line per MAC in a conf file (as PiServer did), the
 *     same range, authoritative, no DNS, leases in the run's directory;
 *   - ISC Kea (kea-dhcp4 2.2) with a reservation per MAC (the same fixed addresses), memfile
 *     leases in the run's directory;
 * and perfdhcp (ISC Kea's load generator) in the client host, driving full DORA exchanges.
 *
 * Everything lives in the lab's namespaces and the run's directory; close() removes both, also
 * after a failure. Nothing here touches the machine's real interfaces.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ImportClientsCommand, type ImportRowResult } from '../../src/core/commands/client.commands';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { SqliteEventStore, type SqliteEventStoreStats } from '../../src/core/event-store/sqlite/sqlite.event-store';
import { Metrics } from '../../src/core/observability/metrics';
import { intToIpv4, ipv4ToInt, type PluginFactory } from '../../src/core/plugin-api';
import { createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { createDhcpPlugin } from '../../src/plugins/dhcp/dhcp.plugin';
import { startCoreApp, type CoreApp } from '../../test/support/core-app';
import { NetLab, stopChild } from '../../test/support/netlab';
import { processCpuMs } from './process-cpu';

export const PREFIX_LENGTH = 21;
export const NETMASK = '255.255.248.0';

export interface BenchLab {
  lab: NetLab;
  /** The run's directory (bramble's data, dnsmasq's conf and leases, perfdhcp's MAC list). */
  dir: string;
  serverIp: string;
  clientIp: string;
  rangeStart: string;
  rangeEnd: string;
  macs: string[];
  /** The address dnsmasq's `dhcp-host` line gives each MAC. */
  fixedIp: Map<string, string>;
  /** perfdhcp -M file: the MACs, one a line. */
  macFile: string;
  close(): Promise<void>;
}

/** `count` distinct Pi 4 MACs (dc:a6:32:bb:xx:xx). */
export function piMacs(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `dc:a6:32:bb:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  );
}

/**
 * `dir` should be on the disk bramble's data would live on (fsync matters for the first ACK of a
 * client): the bench passes ./.bench-tmp, like the other benchmarks.
 */
export async function createBenchLab(options: { clients: number; dir: string }): Promise<BenchLab> {
  mkdirSync(options.dir, { recursive: true });
  const dir = mkdtempSync(path.join(options.dir, 'dhcp-bench-'));
  const lab = await NetLab.create();
  try {
    // NetLab picks a private 10.x.y.0/24 per lab; the bench widens it to the /21 around it.
    const [a, b, c] = lab.subnetBase.split('.').map(Number);
    const network = ipv4ToInt(`${a}.${b}.${c & 0xf8}.0`);
    const serverIp = intToIpv4(network + 1);
    const clientIp = intToIpv4(network + 2);
    const rangeStart = intToIpv4(network + 10);
    const rangeEnd = intToIpv4(network + 8 * 256 - 6);
    const macs = piMacs(options.clients);
    const fixedIp = new Map(macs.map((mac, i) => [mac, intToIpv4(network + 10 + i)]));
    if (options.clients > 8 * 256 - 16) throw new Error(`a /${PREFIX_LENGTH} holds fewer than ${options.clients} clients`);

    await lab.addSwitch('lan');
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/${PREFIX_LENGTH}` });
    await lab.addHost('cli', 'lan', { ifname: 'eth0', mac: '02:00:00:00:02:02', cidr: `${clientIp}/${PREFIX_LENGTH}` });
    const macFile = path.join(dir, 'macs.txt');
    writeFileSync(macFile, macs.join('\n') + '\n');
    return {
      lab,
      dir,
      serverIp,
      clientIp,
      rangeStart,
      rangeEnd,
      macs,
      fixedIp,
      macFile,
      async close() {
        try {
          await lab.destroy();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface ServerUnderTest {
  name: string;
  /** Distinct MACs holding a lease the server recorded since it started (its fresh bindings). */
  newBindings(): Promise<number>;
  /**
   * CPU time (ms) the server has used so far: all its threads (for bramble in-process, this
   * process: its main thread, the store's writer, libuv, GC; the bench itself is idle meanwhile).
   */
  cpuMs(): number;
  stop(): Promise<void>;
}

let serverSeq = 0;

export interface BrambleUnderTest extends ServerUnderTest {
  core: CoreApp;
  /** Quantiles (ms) of bramble_dhcp_reply_latency_seconds since `reset()`, from its buckets. */
  latencyQuantiles(qs: number[]): Promise<{ count: number; quantiles: Array<number | null> }>;
  resetLatency(): Promise<void>;
  /** The sqlite store's counters (appends, transactions: group commit) since it opened. */
  storeStats(): SqliteEventStoreStats;
}

/** The DHCP plugin with its sockets in the server host (no rival-server probes). */
function benchDhcpPlugin(bl: BenchLab): PluginFactory {
  return createDhcpPlugin({ createFd: (o) => bl.lab.inNamespace('srv', () => createBoundUdpFd(o)), probeIntervalMs: 0 });
}

/**
 * The approved clients and settings bramble starts with, written once per lab (a data directory
 * that every fresh bramble copies): no lease in it, so every run starts with fresh leases.
 */
async function brambleTemplate(bl: BenchLab): Promise<string> {
  const dataDir = path.join(bl.dir, 'bramble-template');
  if (existsSync(path.join(dataDir, '.ready'))) return dataDir;
  mkdirSync(dataDir);
  const core = await startCoreApp({
    dataDir,
    env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: bl.serverIp },
    plugins: [benchDhcpPlugin(bl)],
  });
  try {
    const meta = commandMeta('admin:bench');
    await core.exec(
      new UpdatePluginSettingsCommand(
        {
          plugin: 'dhcp',
          values: {
            mode: 'full',
            rangeStart: bl.rangeStart,
            rangeEnd: bl.rangeEnd,
            netmask: NETMASK,
            leaseSeconds: 3600,
            // The same fixed address per MAC as dnsmasq's dhcp-host lines and Kea's reservations.
            fixedAddresses: Object.fromEntries(bl.fixedIp),
          },
        },
        meta,
      ),
    );
    const results = await core.exec<ImportRowResult[]>(
      new ImportClientsCommand({ csv: `mac,name\n${bl.macs.map((m, i) => `${m},bench-${i}`).join('\n')}\n` }, meta),
    );
    const failed = results.filter((r) => !r.ok);
    if (failed.length) throw new Error(`import failed: ${JSON.stringify(failed.slice(0, 3))}`);
  } finally {
    await core.close();
  }
  writeFileSync(path.join(dataDir, '.ready'), '');
  return dataDir;
}

/**
 * bramble in-process, full mode, serving the server host's eth0, the lab's MACs approved with
 * fixed addresses; a fresh data directory (a copy of the lab's template) each time: no leases.
 */
export async function startBramble(bl: BenchLab): Promise<BrambleUnderTest> {
  const template = await brambleTemplate(bl);
  const dataDir = path.join(bl.dir, `bramble-${++serverSeq}`);
  cpSync(template, dataDir, { recursive: true });
  let core: CoreApp;
  let sqlite: SqliteEventStore | null = null;
  try {
    core = await startCoreApp({
      dataDir,
      env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: bl.serverIp },
      plugins: [benchDhcpPlugin(bl)],
      wrapStore: (store) => {
        if (store instanceof SqliteEventStore) sqlite = store;
        return store;
      },
    });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const metrics = core.app.nest.get(Metrics);
  const histogram = async (): Promise<Map<number, number>> => {
    const m = metrics.registry.getSingleMetric('bramble_dhcp_reply_latency_seconds');
    const out = new Map<number, number>();
    if (!m) return out;
    for (const v of (await m.get()).values) {
      if ((v as { metricName?: string }).metricName?.endsWith('_bucket'))
        out.set(v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value);
    }
    return out;
  };
  let base = new Map<number, number>();
  return {
    name: 'bramble',
    core,
    async resetLatency() {
      base = await histogram();
    },
    async latencyQuantiles(qs) {
      const now = await histogram();
      const buckets = [...now.entries()].map(([le, n]) => [le, n - (base.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
      const count = buckets.length ? buckets[buckets.length - 1][1] : 0;
      // The upper bound of the first bucket holding the q-th observation (a histogram can say no more).
      const quantiles = qs.map((q) => {
        if (count === 0) return null;
        const rank = q * count;
        const hit = buckets.find(([, n]) => n >= rank);
        return hit ? hit[0] * 1000 : null;
      });
      return { count, quantiles };
    },
    cpuMs: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    storeStats() {
      if (!sqlite) throw new Error('bramble runs on the sqlite store here');
      return (sqlite as SqliteEventStore).stats();
    },
    async newBindings() {
      const events = await core.app.nest.get<EventStore>(EVENT_STORE).readStream('plugin-dhcp-leases');
      return new Set(events.filter((e) => e.type === 'DhcpLeaseBound').map((e) => (e.data as { mac: string }).mac)).size;
    },
    async stop() {
      try {
        await core.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * dnsmasq on the server host's eth0, DHCP only: the same range, one `dhcp-host` line per MAC in a
 * conf file. `quiet` adds --quiet-dhcp (no log line per packet); by default it logs DHCP
 * transactions as it does out of the box (to a file in the run's directory, never to the host's
 * syslog).
 */
export async function startDnsmasq(bl: BenchLab, options: { quiet?: boolean } = {}): Promise<ServerUnderTest & { log(): string }> {
  const name = options.quiet ? 'dnsmasq-quiet' : 'dnsmasq';
  const conf = path.join(bl.dir, `${name}.conf`);
  const leases = path.join(bl.dir, `${name}-${++serverSeq}.leases`);
  writeFileSync(
    conf,
    [
      'port=0',
      'interface=eth0',
      'bind-interfaces',
      `dhcp-range=${bl.rangeStart},${bl.rangeEnd},${NETMASK},1h`,
      'dhcp-authoritative',
      `dhcp-leasefile=${leases}`,
      `log-facility=${path.join(bl.dir, `${name}.log`)}`,
      ...(options.quiet ? ['quiet-dhcp'] : []),
      ...bl.macs.map((mac) => `dhcp-host=${mac},${bl.fixedIp.get(mac)}`),
      '',
    ].join('\n'),
  );
  // setpriv --pdeathsig: dnsmasq dies with the bench even if the bench is killed.
  const child = bl.lab.spawn('srv', 'setpriv', [
    '--pdeathsig',
    'KILL',
    'dnsmasq',
    '--keep-in-foreground',
    `--conf-file=${conf}`,
    '--user=root',
    `--pid-file=${path.join(bl.dir, `${name}.pid`)}`,
  ]);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  // Ready once it holds udp/67 in the namespace.
  await waitForUdp67(bl, child, 'dnsmasq', () => text);
  return {
    name,
    log: () => text,
    // "<expiry> <mac> <ip> <hostname> <client-id>", one line per lease.
    newBindings: async () => distinctMacs(leases, (line) => line.split(' ')[1]),
    cpuMs: () => processCpuMs(child.pid!),
    async stop() {
      await stopChild(child);
      rmSync(leases, { force: true });
    },
  };
}

/**
 * ISC Kea (kea-dhcp4, Debian's 2.2) on the server host's eth0: the same subnet and range, one
 * host reservation per MAC (the address dnsmasq's `dhcp-host` line gives it), memfile leases in
 * the run's directory (`persist`, no lease-file cleanup; Kea appends a line per lease and does not
 * fsync it), log severity WARN (INFO writes a line per lease). Defaults otherwise: one thread, as
 * Debian ships it. The socket type is `udp`, what Kea's manual recommends when all traffic is
 * relayed, as perfdhcp's is (giaddr set): its fastest receive path, so the stronger reference.
 * KEA_PIDFILE_DIR and KEA_LOCKFILE_DIR point into the run's directory (/run/kea may not exist).
 */
export async function startKea(bl: BenchLab): Promise<ServerUnderTest & { log(): string }> {
  const keaDir = path.join(bl.dir, `kea-${++serverSeq}`);
  mkdirSync(keaDir);
  const conf = path.join(keaDir, 'kea-dhcp4.json');
  const [a, b, c] = bl.serverIp.split('.').map(Number);
  const config = {
    Dhcp4: {
      'interfaces-config': { interfaces: ['eth0'], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', persist: true, 'lfc-interval': 0, name: path.join(keaDir, 'leases.csv') },
      'valid-lifetime': 3600,
      'host-reservation-identifiers': ['hw-address'],
      authoritative: true,
      subnet4: [
        {
          id: 1,
          subnet: `${a}.${b}.${c & 0xf8}.0/${PREFIX_LENGTH}`,
          pools: [{ pool: `${bl.rangeStart} - ${bl.rangeEnd}` }],
          reservations: bl.macs.map((mac) => ({ 'hw-address': mac, 'ip-address': bl.fixedIp.get(mac) })),
        },
      ],
      loggers: [
        {
          name: 'kea-dhcp4',
          severity: 'WARN',
          output_options: [{ output: path.join(keaDir, 'kea.log') }],
        },
      ],
    },
  };
  writeFileSync(conf, JSON.stringify(config, null, 1));
  // setpriv --pdeathsig: Kea dies with the bench even if the bench is killed.
  const child = bl.lab.spawn('srv', 'env', [
    `KEA_PIDFILE_DIR=${keaDir}`,
    `KEA_LOCKFILE_DIR=${keaDir}`,
    'setpriv',
    '--pdeathsig',
    'KILL',
    'kea-dhcp4',
    '-c',
    conf,
  ]);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  await waitForUdp67(bl, child, 'kea-dhcp4', () => text);
  return {
    name: 'kea',
    log: () => text,
    cpuMs: () => processCpuMs(child.pid!),
    // memfile CSV: a header, then "address,hwaddr,..." per lease added or updated.
    newBindings: async () =>
      distinctMacs(path.join(keaDir, 'leases.csv'), (line) => (line.startsWith('address,') ? undefined : line.split(',')[1])),
    async stop() {
      await stopChild(child);
      rmSync(keaDir, { recursive: true, force: true });
    },
  };
}

function distinctMacs(file: string, macOf: (line: string) => string | undefined): number {
  if (!existsSync(file)) return 0;
  const macs = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const mac = line.trim() ? macOf(line) : undefined;
    if (mac) macs.add(mac.toLowerCase());
  }
  return macs.size;
}

/** Waits until a server child holds udp/67 in the server namespace (10 s at most). */
async function waitForUdp67(bl: BenchLab, child: ChildProcess, name: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${output()}`);
    const { stdout } = await bl.lab.exec('srv', 'ss', ['-lunH', 'sport = :67']);
    if (stdout.trim()) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start: ${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ExchangeStats {
  sent: number;
  received: number;
  drops: number;
  orphans: number;
  minMs: number | null;
  avgMs: number | null;
  maxMs: number | null;
  stdMs: number | null;
  /** From perfdhcp -x t (every successful exchange's round trip), when printed. */
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface PerfdhcpRun {
  rate: number;
  seconds: number;
  exitCode: number | null;
  /** Completed DORA exchanges per second (perfdhcp's "rate" line). */
  achievedRate: number | null;
  discoverOffer: ExchangeStats;
  requestAck: ExchangeStats;
  output: string;
}

function num(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

function percentile(sorted: number[], p: number): number | null {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] : null;
}

/** Parses one exchange block of perfdhcp's final report ("***Statistics for: DISCOVER-OFFER***"). */
function exchangeBlock(output: string, name: string): ExchangeStats {
  const start = output.indexOf(`***Statistics for: ${name}***`);
  const rest = start < 0 ? '' : output.slice(start);
  const next = rest.indexOf('***Statistics for:', 10);
  const block = next < 0 ? rest : rest.slice(0, next);
  return {
    sent: num(block, /sent packets: (\d+)/) ?? 0,
    received: num(block, /received packets: (\d+)/) ?? 0,
    drops: num(block, /drops: (\d+)/) ?? 0,
    orphans: num(block, /orphans: (\d+)/) ?? 0,
    minMs: num(block, /min delay: ([\d.]+) ms/),
    avgMs: num(block, /avg delay: ([\d.]+) ms/),
    maxMs: num(block, /max delay: ([\d.]+) ms/),
    stdMs: num(block, /std deviation: ([\d.]+) ms/),
    p50Ms: null,
    p99Ms: null,
  };
}

/**
 * perfdhcp -x t prints, after the statistics, a "***Timestamps for packets: <NAME>***" section with
 * one line per successful exchange (send and receive times): real percentiles, where perfdhcp
 * itself reports only min/avg/max/std.
 */
function addTimerPercentiles(output: string, stats: ExchangeStats, name: string): void {
  const start = output.indexOf(`***Timestamps for packets: ${name}***`);
  if (start < 0) return;
  const bodyStart = output.indexOf('\n', start);
  const rest = bodyStart < 0 ? '' : output.slice(bodyStart);
  const next = rest.indexOf('***');
  const block = next < 0 ? rest : rest.slice(0, next);
  const delays: number[] = [];
  // "sent / received: 000001.470407 / 000001.471167" (seconds) → the difference.
  const re = /sent \/ received: ([\d.]+) \/ ([\d.]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(block))) delays.push((Number(m[2]) - Number(m[1])) * 1000);
  if (delays.length === 0) return;
  delays.sort((x, y) => x - y);
  stats.p50Ms = percentile(delays, 0.5);
  stats.p99Ms = percentile(delays, 0.99);
}

export function parsePerfdhcp(output: string, rate: number, seconds: number, exitCode: number | null): PerfdhcpRun {
  const discoverOffer = exchangeBlock(output, 'DISCOVER-OFFER');
  const requestAck = exchangeBlock(output, 'REQUEST-ACK');
  addTimerPercentiles(output, discoverOffer, 'DISCOVER-OFFER');
  addTimerPercentiles(output, requestAck, 'REQUEST-ACK');
  return {
    rate,
    seconds,
    exitCode,
    achievedRate: num(output, /^rate: ([\d.]+)/m),
    discoverOffer,
    requestAck,
    output,
  };
}

/**
 * Runs perfdhcp in the client host: `rate` DORA exchanges per second for `seconds`, each from a MAC
 * of the lab's list (so every exchange is an approved Pi), against the server's address.
 */
export async function runPerfdhcp(
  bl: BenchLab,
  options: { rate: number; seconds: number; timers?: boolean; extra?: string[] },
): Promise<PerfdhcpRun> {
  const args = [
    '-4',
    '-l',
    'eth0',
    '-r',
    String(options.rate),
    '-R',
    String(bl.macs.length),
    '-M',
    bl.macFile,
    '-p',
    String(options.seconds),
    '-W',
    '1000000',
    ...(options.timers ? ['-x', 't'] : []),
    ...(options.extra ?? []),
    bl.serverIp,
  ];
  let stdout = '';
  let stderr = '';
  let exitCode: number | null = 0;
  try {
    ({ stdout, stderr } = await bl.lab.exec('cli', 'perfdhcp', args, { timeoutMs: (options.seconds + 30) * 1000 }));
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; killed?: boolean };
    stdout = e.stdout ?? '';
    stderr = e.stderr ?? '';
    exitCode = typeof e.code === 'number' ? e.code : null;
    // Exit status 3: "one or more exchanges were not successfully completed" — a result, not a failure.
    if (exitCode !== 3) throw new Error(`perfdhcp failed (${String(e.code)}): ${stderr || stdout}`);
  }
  return parsePerfdhcp(`${stdout}\n${stderr}`, options.rate, options.seconds, exitCode);
}
