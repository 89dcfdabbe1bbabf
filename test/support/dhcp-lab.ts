/**
 * A DHCP test lab: a network-namespace LAN with bramble's DHCP plugin serving the server host's
 * interface from an in-process bramble (the plugin's sockets are created inside the namespace),
 * and helpers to run real clients (busybox udhcpc, dhclient, nmap) as Pis on the LAN, real peers
 * (dnsmasq as the LAN's router or as a reference proxy-DHCP server), and a passive observer (a
 * "tap": a separate process in its own lab host that records every DHCP broadcast it hears, with
 * monotonic timestamps).
 *
 * Addresses: the lab's private /24 (`ip(n)`); the server is .1. Every process started here runs
 * inside a lab namespace and is killed by close(), which also removes the namespaces and the temp
 * directory (bramble's data directory included).
 */
import type { RecentBootFact } from '../../src/core/boot/boot-sessions';
import { existsSync, chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import { ApproveClientCommand, RejectClientCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { EVENT_STORE, type EventStore, type RecordedEvent } from '../../src/core/event-store/event-store.port';
import type { Logger, PluginFactory } from '../../src/core/plugin-api';
import type { DhcpSettings } from '../../src/plugins/dhcp/dhcp.config';
import { createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { decodePacket, messageType, type DhcpPacket } from '../../src/plugins/dhcp/dhcp.codec';
import { createDhcpPlugin, type DhcpPluginOptions } from '../../src/plugins/dhcp/dhcp.plugin';
import { startCoreApp, TEST_TOKEN, type CoreApp } from './core-app';
import { canUseNetns, NetLab, waitForExit } from './netlab';
import { removeStaleTempDirs, tempDir } from './temp';

/** The Pi 4's DISCOVER fingerprint (docs/pi-netboot-protocol.md §1): options 60, 93, 94, 97. */
export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';

/** Option 43 as dnsmasq sends it for `pxe-service=0,"Raspberry Pi Boot"` (docs/pi-netboot-protocol.md §2). */
export const DNSMASQ_RPI_OPTION43_HEX = `0601030a04005058450914000011${Buffer.from('Raspberry Pi Boot', 'latin1').toString('hex')}ff`;

/** Option 97 of a Pi 4: type 0, FourCC RPi4, board revision, MAC low 4 bytes, serial (little-endian). */
export function pi4Guid(mac: string, serial: number, revision = 0x00c03111): string {
  const b = Buffer.alloc(17);
  b[0] = 0;
  b.write('RPi4', 1, 'latin1');
  b.writeUInt32LE(revision, 5);
  Buffer.from(mac.split(':').slice(2).join(''), 'hex').copy(b, 9);
  b.writeUInt32LE(serial, 13);
  return b.toString('hex');
}

/** Why the DHCP e2e tests cannot run here (not root, no namespaces, a client missing), or null. */
export function dhcpLabUnavailable(): string | null {
  const netns = canUseNetns();
  if (netns) return netns;
  const missing = ['busybox', 'dhclient', 'nmap', 'dnsmasq', 'setpriv'].filter(
    (tool) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((dir) => existsSync(path.join(dir, tool))),
  );
  return missing.length ? `missing ${missing.join(', ')} (scripts/ensure-test-deps.sh installs them)` : null;
}

/** A transaction id as bramble records it in boot facts: 0x + 8 hex digits. */
export function xidHex(xid: number): string {
  return `0x${xid.toString(16).padStart(8, '0')}`;
}

/** Lower-case hex of dhclient's `a:b:c` notation (it drops leading zeros) or of udhcpc's hex. */
export function normalizeHex(value: string): string {
  return value.includes(':')
    ? value
        .split(':')
        .map((b) => b.padStart(2, '0'))
        .join('')
        .toLowerCase()
    : value.toLowerCase();
}

export interface UdhcpcOptions {
  /** Send the Pi's options 60/93/94 (and 97 when `serial` is given: a Pi 4; without it, a Pi 3 ROM). */
  pi?: { mac: string; serial?: number; revision?: number };
  tries?: number;
  timeoutSec?: number;
  /** The script adds the bound address to the interface (needed for a RELEASE from ciaddr). */
  configure?: boolean;
  /**
   * Release the lease once bound: udhcpc -R, stopped with SIGTERM after the bound script ran
   * (busybox 1.35's `-q -R` exits before it counts as bound, and then sends no RELEASE).
   */
  release?: boolean;
  /** udhcpc -B: ask for broadcast replies. */
  broadcast?: boolean;
  /** udhcpc -a<ms>: ARP-check the ACKed address for this long (and DECLINE it when in use). */
  arpCheckMs?: number;
  extra?: string[];
}

/** The env of each udhcpc script call, by event (deconfig, bound, leasefail, ...), plus timing. */
export type UdhcpcEvents = Record<string, Record<string, string>>;

export interface UdhcpcSession {
  /** The env of the script's `event` call (bound, renew, ...) once it ran, or null after timeoutMs. */
  waitFor(event: string, timeoutMs: number): Promise<Record<string, string> | null>;
  signal(signal: NodeJS.Signals): void;
  events(): UdhcpcEvents;
  output(): string;
  /** SIGTERM (udhcpc -R then releases its lease), and waits for it to exit. */
  stop(): Promise<void>;
}

export interface TapPacket {
  /** ms, CLOCK_MONOTONIC (comparable with process.hrtime in any process on this machine). */
  t: number;
  /** UDP port it was sent to: 67 (client → server) or 68 (server → client). */
  port: number;
  from: string;
  packet: DhcpPacket;
  type: number | null;
}

/** A passive observer of DHCP broadcasts on one lab switch (a separate node process). */
export interface DhcpTap {
  readonly packets: TapPacket[];
  /** Resolves with the first packet (already seen or arriving) matching, or null after timeoutMs. */
  waitFor(match: (p: TapPacket) => boolean, timeoutMs: number): Promise<TapPacket | null>;
  stop(): Promise<void>;
}

export interface NmapOffer {
  [field: string]: string;
}

export interface RunningPeer {
  readonly child: ChildProcess;
  /** What it wrote so far (stdout + stderr). */
  log(): string;
  stop(): Promise<void>;
}

export interface DhcpLab {
  lab: NetLab;
  /** The running bramble (a new one after restart()). */
  readonly core: CoreApp;
  serverIp: string;
  tmp: string;
  /** bramble's data directory (kept across restart()). */
  dataDir: string;
  /** An address of the lab's /24. */
  ip(host: number): string;
  /** Adds a Pi (or any client) host with this MAC, plugged into `sw` (default the served LAN). */
  addClient(name: string, mac: string, options?: { cidr?: string | null; sw?: string }): Promise<void>;
  /** Runs busybox udhcpc as a Pi would ask; returns the env of each script call, by event. */
  udhcpc(host: string, options?: UdhcpcOptions): Promise<UdhcpcEvents>;
  /**
   * Starts udhcpc without -q: it stays bound (and renews, on SIGUSR1) until stopped. Stopping sends
   * SIGTERM, on which udhcpc -R releases its lease.
   */
  startUdhcpc(host: string, options?: UdhcpcOptions): UdhcpcSession;
  /** Like udhcpc(), also giving what udhcpc printed (for failure messages). */
  udhcpcRun(host: string, options?: UdhcpcOptions): Promise<{ events: UdhcpcEvents; output: string }>;
  /**
   * Runs dhclient once with its own config, lease, pid and script files; returns the env of the
   * script call that bound (BOUND), or null when none came within `timeoutMs`, and its output.
   */
  dhclient(host: string, options: { config: string; timeoutMs?: number }): Promise<{ bound: Record<string, string> | null; log: string }>;
  /** Starts dhclient (-d -1) on the host's eth0 with this config; it runs until stopped (or close()). */
  startDhclient(host: string, config: string): RunningPeer & { bound(timeoutMs: number): Promise<Record<string, string> | null> };
  /** Runs nmap's broadcast-dhcp-discover on the host's eth0; returns the offers it lists. */
  nmapDhcpDiscover(
    host: string,
    options: { mac: string; timeoutSec?: number; pxe?: { guid?: string } },
  ): Promise<{ offers: NmapOffer[]; output: string }>;
  /** Starts a tap on a host (created with the given MAC and address when it does not exist yet). */
  startTap(host: string): Promise<DhcpTap>;
  /** Starts dnsmasq (DHCP only) on a host's eth0 with these extra arguments; resolves once it serves. */
  startDnsmasq(host: string, args: string[]): Promise<RunningPeer>;
  /** Changes the DHCP plugin's settings as an admin would (updatePluginSettings), waiting for the read models. */
  settings(values: Partial<DhcpSettings>): Promise<void>;
  approve(mac: string): Promise<void>;
  reject(mac: string): Promise<void>;
  /** POSTs a GraphQL request to bramble's HTTP API with the admin token (listening on first use). */
  graphql<T = any>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: { message: string }[] }>;
  /** bramble's HTTP base URL (listening on first use), e.g. for a graphql-ws client. */
  baseUrl(): Promise<string>;
  /** Events of one stream, read from the event store. */
  stream(name: string): Promise<RecordedEvent[]>;
  /** The boot facts the running bramble received for a client (live, not stored), in order. */
  bootFacts(mac: string): RecentBootFact[];
  /** Stops bramble and starts a new one on the same data directory and interface. */
  restart(): Promise<void>;
  /** restart() in two steps, to change the lab while bramble is down. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Runs inside a tap host: records every datagram sent to udp/67 and udp/68 as a JSON line. */
const TAP_SCRIPT = `
const dgram = require('node:dgram');
let ready = 0;
for (const port of [67, 68]) {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  s.on('message', (m, r) => process.stdout.write(JSON.stringify({ t: Number(process.hrtime.bigint()) / 1e6, port, from: r.address, hex: m.toString('hex') }) + '\\n'));
  s.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(1); });
  s.bind(port, '0.0.0.0', () => { if (++ready === 2) process.stdout.write('{"ready":true}\\n'); });
}
// A last resort: the lab kills it, but never let a forgotten tap outlive a test run for long.
setTimeout(() => process.exit(0), 10 * 60_000);
`;

const LAB_DIR_PREFIX = 'bramble-dhcp-lab-';
/** From dist/test/support back to the repository's test/fixtures (scripts are not compiled). */
const NMAP_PXE_SCRIPT = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'nmap', 'pi-pxe-dhcp-discover.nse');

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await waitForExit(child, 2000);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await waitForExit(child, 2000);
  }
}

export async function startDhcpLab(
  options: {
    env?: Record<string, string>;
    plugin?: DhcpPluginOptions;
    /** More plugins; a function gets the lab first (to create their sockets in the server's namespace). */
    extraPlugins?: PluginFactory[] | ((lab: NetLab) => PluginFactory[]);
    /** DHCP settings applied (updatePluginSettings) once bramble has started. */
    settings?: Partial<DhcpSettings>;
    /** bramble's logger (default: silent); see recordingLogger() in temp.ts. */
    logger?: Logger;
  } = {},
): Promise<DhcpLab> {
  const lab = await NetLab.create();
  removeStaleTempDirs(LAB_DIR_PREFIX);
  const dir = tempDir(`${LAB_DIR_PREFIX}${process.pid}-`);
  const dataDir = path.join(dir.dir, 'data');
  mkdirSync(dataDir);
  const peers = new Set<RunningPeer>();
  let core: CoreApp | null = null;
  try {
    await lab.addSwitch('lan');
    const serverIp = lab.ip(1);
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/24` });
    const plugin = createDhcpPlugin({
      createFd: (o) => lab.inNamespace('srv', () => createBoundUdpFd(o)),
      probeIntervalMs: 0,
      ...options.plugin,
    });
    const extraPlugins = typeof options.extraPlugins === 'function' ? options.extraPlugins(lab) : (options.extraPlugins ?? []);
    const start = (): Promise<CoreApp> =>
      startCoreApp({
        dataDir,
        env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: serverIp, BRAMBLE_HTTP_HOST: '127.0.0.1', ...options.env },
        plugins: [plugin, ...extraPlugins],
        logger: options.logger,
      });
    core = await start();
    const script = path.join(dir.dir, 'udhcpc.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'env > "$OUT.$1.tmp" && mv "$OUT.$1.tmp" "$OUT.$1"',
        'if [ -n "$CONFIGURE" ]; then',
        '  case "$1" in',
        '    bound) ip addr add "$ip/$mask" dev "$interface" ;;',
        '    deconfig) ip -4 addr flush dev "$interface" ;;',
        '  esac',
        'fi',
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    let run = 0;
    let url: string | null = null;

    /** `env` arguments running busybox udhcpc with these options; `quit`: -q (exit once bound). */
    const udhcpcCommand = (out: string, o: UdhcpcOptions, quit: boolean): string[] => {
      const args = [
        'udhcpc',
        '-i',
        'eth0',
        '-f',
        ...(quit ? ['-q'] : []),
        '-n',
        '-t',
        String(o.tries ?? 3),
        '-T',
        String(o.timeoutSec ?? 1),
        '-A',
        '1',
        '-s',
        script,
      ];
      if (o.pi) {
        args.push('-V', PI_VENDOR_CLASS, '-x', '0x5d:0000', '-x', '0x5e:010201', '-O', '43', '-O', '66');
        if (o.pi.serial !== undefined) args.push('-x', `0x61:${pi4Guid(o.pi.mac, o.pi.serial, o.pi.revision)}`);
      }
      if (o.release) args.push('-R');
      if (o.broadcast) args.push('-B');
      if (o.arpCheckMs !== undefined) args.push(`-a${o.arpCheckMs}`);
      args.push(...(o.extra ?? []));
      return ['-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `OUT=${out}`, ...(o.configure ? ['CONFIGURE=1'] : []), 'busybox', ...args];
    };

    const readEvents = (out: string): UdhcpcEvents => {
      const events: UdhcpcEvents = {};
      for (const f of readdirSync(dir.dir).filter((f) => f.startsWith(`${path.basename(out)}.`) && !f.endsWith('.tmp'))) {
        const env: Record<string, string> = {};
        for (const line of readFileSync(path.join(dir.dir, f), 'utf8').split('\n')) {
          const i = line.indexOf('=');
          if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
        }
        events[f.slice(path.basename(out).length + 1)] = env;
      }
      return events;
    };

    // setpriv --pdeathsig: a peer dies with the test process, even when that is killed mid-test.
    const spawnInHost = (host: string, cmd: string, args: string[]): ChildProcess =>
      lab.spawn(host, 'setpriv', ['--pdeathsig', 'KILL', cmd, ...args]);

    const spawnPeer = (host: string, cmd: string, args: string[]): RunningPeer => {
      const child = spawnInHost(host, cmd, args);
      let text = '';
      child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
      const peer: RunningPeer = {
        child,
        log: () => text,
        async stop() {
          peers.delete(peer);
          await stopChild(child);
        },
      };
      peers.add(peer);
      return peer;
    };

    const self: DhcpLab = {
      lab,
      get core() {
        if (!core) throw new Error('bramble is not running');
        return core;
      },
      serverIp,
      tmp: dir.dir,
      dataDir,
      ip: (n) => lab.ip(n),
      async addClient(name, mac, o = {}) {
        await lab.addHost(name, o.sw ?? 'lan', { ifname: 'eth0', mac, cidr: o.cidr ?? null });
      },
      async udhcpc(host, o = {}) {
        return (await self.udhcpcRun(host, o)).events;
      },
      startUdhcpc(host, o = {}) {
        const out = path.join(dir.dir, `run${++run}`);
        const peer = spawnPeer(host, 'env', udhcpcCommand(out, o, false));
        return {
          async waitFor(event, timeoutMs) {
            const deadline = Date.now() + timeoutMs;
            while (!existsSync(`${out}.${event}`)) {
              if (Date.now() > deadline || peer.child.exitCode !== null) return readEvents(out)[event] ?? null;
              await new Promise((r) => setTimeout(r, 20));
            }
            return readEvents(out)[event];
          },
          signal: (sig) => void peer.child.kill(sig),
          events: () => readEvents(out),
          output: () => peer.log(),
          async stop() {
            peer.child.kill('SIGTERM');
            await waitForExit(peer.child, 5000);
            await peer.stop();
          },
        };
      },
      async udhcpcRun(host, o = {}) {
        if (o.release) {
          const session = self.startUdhcpc(host, o);
          await session.waitFor('bound', 30_000);
          await session.stop();
          return { events: session.events(), output: session.output() };
        }
        const out = path.join(dir.dir, `run${++run}`);
        let output: string;
        try {
          const r = await lab.exec(host, 'env', udhcpcCommand(out, o, true), { timeoutMs: 60_000 });
          output = r.stdout + r.stderr;
        } catch (error) {
          // udhcpc -n exits 1 when no lease was obtained: the script's records say what happened.
          const e = error as { stdout?: string; stderr?: string; message: string };
          output = `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
        }
        return { events: readEvents(out), output };
      },
      startDhclient(host, config) {
        const base = path.join(dir.dir, `dhclient${++run}`);
        writeFileSync(`${base}.conf`, config);
        // dhclient gives its script a fresh environment: the output path is written into the script.
        const dhclientScript = `${base}.sh`;
        writeFileSync(dhclientScript, `#!/bin/sh\nenv > "${base}.$reason.tmp" && mv "${base}.$reason.tmp" "${base}.$reason"\nexit 0\n`);
        chmodSync(dhclientScript, 0o755);
        const peer = spawnPeer(host, 'env', [
          '-i',
          'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
          'dhclient',
          '-d',
          '-1',
          '-v',
          '-cf',
          `${base}.conf`,
          '-lf',
          `${base}.leases`,
          '-pf',
          `${base}.pid`,
          '-sf',
          dhclientScript,
          'eth0',
        ]);
        return {
          ...peer,
          async bound(timeoutMs) {
            const deadline = Date.now() + timeoutMs;
            while (Date.now() < deadline && !existsSync(`${base}.BOUND`) && peer.child.exitCode === null) {
              await new Promise((r) => setTimeout(r, 50));
            }
            return readEvents(base).BOUND ?? null;
          },
        };
      },
      async dhclient(host, o) {
        const client = self.startDhclient(host, o.config);
        try {
          return { bound: await client.bound(o.timeoutMs ?? 15_000), log: client.log() };
        } finally {
          await client.stop();
        }
      },
      async nmapDhcpDiscover(host, o) {
        // The stock script cannot send option 60; with `pxe`, nmap runs bramble's fixture script
        // (test/fixtures/nmap) that sends a Pi boot ROM's PXE fingerprint instead.
        const script = o.pxe ? NMAP_PXE_SCRIPT : 'broadcast-dhcp-discover';
        const name = o.pxe ? 'pi-pxe-dhcp-discover' : 'broadcast-dhcp-discover';
        const args = [`${name}.mac=${o.mac}`, `${name}.timeout=${o.timeoutSec ?? 3}`];
        if (o.pxe?.guid) args.push(`${name}.guid=${o.pxe.guid}`);
        const { stdout } = await lab.exec(host, 'nmap', ['-e', 'eth0', '-n', '--script', script, '--script-args', args.join(',')], {
          timeoutMs: 60_000,
        });
        const offers: NmapOffer[] = [];
        let current: NmapOffer | null = null;
        for (const line of stdout.split('\n')) {
          const body = line.replace(/^\|_?\s*/, '');
          if (/^Response \d+ of \d+:/.test(body)) {
            current = {};
            offers.push(current);
            continue;
          }
          const m = /^([A-Za-z][^:]*):\s(.*)$/.exec(body);
          if (current && m && line.startsWith('|')) current[m[1].trim()] = m[2].trim();
        }
        return { offers, output: stdout };
      },
      async startTap(host) {
        const child = spawnInHost(host, process.execPath, ['-e', TAP_SCRIPT]);
        const packets: TapPacket[] = [];
        const waiters = new Set<{ match: (p: TapPacket) => boolean; resolve: (p: TapPacket | null) => void }>();
        let errors = '';
        child.stderr?.on('data', (d: Buffer) => (errors += d.toString()));
        const ready = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`tap on ${host} did not start: ${errors}`)), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            reject(new Error(`tap on ${host} exited: ${errors}`));
          });
          createInterface({ input: child.stdout! }).on('line', (line) => {
            const msg = JSON.parse(line) as { ready?: boolean; t: number; port: number; from: string; hex: string };
            if (msg.ready) {
              clearTimeout(timer);
              resolve();
              return;
            }
            let packet: DhcpPacket;
            try {
              packet = decodePacket(Buffer.from(msg.hex, 'hex'));
            } catch {
              return;
            }
            const p: TapPacket = { t: msg.t, port: msg.port, from: msg.from, packet, type: messageType(packet) };
            packets.push(p);
            for (const w of waiters) {
              if (w.match(p)) {
                waiters.delete(w);
                w.resolve(p);
              }
            }
          });
        });
        const peer: RunningPeer = { child, log: () => errors, stop: () => stopChild(child) };
        peers.add(peer);
        await ready;
        return {
          packets,
          waitFor(match, timeoutMs) {
            const seen = packets.find(match);
            if (seen) return Promise.resolve(seen);
            return new Promise((resolve) => {
              const w = {
                match,
                resolve: (p: TapPacket | null) => {
                  clearTimeout(timer);
                  resolve(p);
                },
              };
              const timer = setTimeout(() => {
                waiters.delete(w);
                resolve(null);
              }, timeoutMs);
              waiters.add(w);
            });
          },
          async stop() {
            peers.delete(peer);
            await stopChild(child);
          },
        };
      },
      async startDnsmasq(host, args) {
        const base = path.join(dir.dir, `dnsmasq${++run}`);
        const peer = spawnPeer(host, 'dnsmasq', [
          '--no-daemon',
          '--port=0',
          '--conf-file=/dev/null',
          '--interface=eth0',
          '--bind-interfaces',
          '--user=root',
          `--pid-file=${base}.pid`,
          `--dhcp-leasefile=${base}.leases`,
          '--log-dhcp',
          '--log-facility=-',
          ...args,
        ]);
        const deadline = Date.now() + 10_000;
        while (!/DHCP, /.test(peer.log())) {
          if (peer.child.exitCode !== null || Date.now() > deadline) {
            await peer.stop();
            throw new Error(`dnsmasq did not start: ${peer.log()}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        return peer;
      },
      async settings(values) {
        await self.core.exec(new UpdatePluginSettingsCommand({ plugin: 'dhcp', values }, commandMeta('admin:test')));
      },
      async approve(mac) {
        await self.core.exec(new ApproveClientCommand({ mac }, commandMeta('admin:test')));
      },
      async reject(mac) {
        await self.core.exec(new RejectClientCommand({ mac }, commandMeta('admin:test')));
      },
      async baseUrl() {
        url ??= await self.core.app.listen();
        return url;
      },
      async graphql(query, variables) {
        const res = await fetch(`${await self.baseUrl()}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await res.json()) as { data?: any; errors?: { message: string }[] };
      },
      async stream(name) {
        return self.core.app.nest.get<EventStore>(EVENT_STORE).readStream(name);
      },
      bootFacts: (mac) => self.core.bootFacts(mac),
      async stop() {
        const old = core;
        core = null;
        url = null;
        await old?.close();
      },
      async start() {
        if (core) throw new Error('bramble is already running');
        core = await start();
      },
      async restart() {
        await self.stop();
        await self.start();
      },
      async close() {
        try {
          await Promise.all([...peers].map((p) => p.stop()));
          await core?.close();
          core = null;
        } finally {
          await lab.destroy();
          dir.cleanup();
        }
      },
    };
    if (options.settings) await self.settings(options.settings);
    return self;
  } catch (error) {
    await Promise.all([...peers].map((p) => p.stop()));
    await core?.close().catch(() => undefined);
    await lab.destroy();
    dir.cleanup();
    throw error;
  }
}
