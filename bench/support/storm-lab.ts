/**
 * The boot storm's lab: N simulated Pi 4s power on at once on one LAN and run the firmware stage
 * (DHCP, then the whole TFTP boot set) against bramble or against dnsmasq, one server at a time:
 *
 *   - a switch and a private /21 chosen per run (room for 500 Pis);
 *   - `srv` (.1): the server under test, in proxy mode as in most schools: bramble in-process
 *     (its DHCP plugin in proxy mode and its TFTP plugin, from a copy of a prepared data
 *     directory each run) or dnsmasq (`dhcp-range=<srv>,proxy`, `pxe-service=0,"Raspberry Pi
 *     Boot"`, `enable-tftp`, as PiServer ran it) serving the same bytes;
 *   - `rtr` (.2): the LAN's router handing out the addresses: a DHCP-only dnsmasq with one
 *     `dhcp-host` line per Pi, the same in both runs (fresh leases each run);
 *   - client hosts `cli<n>`, each holding many Pi addresses; one tftp-pi-sim.ts process per host
 *     drives its Pis (DHCP through pi-sim-dhcp.ts, then the files, every block checked).
 *
 * bramble's state is a school's second morning: the Pis were detected (serial) and approved with
 * the image before, and each address was learnt on an earlier boot (the router gives each Pi the
 * same address). Everything lives in the lab's namespaces and temp folder; close() removes both.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApproveClientCommand, DetectClientCommand, LearnClientAddressCommand } from '../../src/core/commands/client.commands';
import { RegisterImageCommand } from '../../src/core/commands/image.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { intToIpv4, ipv4ToInt, type PluginFactory } from '../../src/core/plugin-api';
import { createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { createDhcpPlugin } from '../../src/plugins/dhcp/dhcp.plugin';
import { renderCmdline } from '../../src/plugins/tftp/tftp.generated';
import { createTftpSocket } from '../../src/plugins/tftp/tftp.libc';
import { createTftpPlugin } from '../../src/plugins/tftp/tftp.plugin';
import { startCoreApp, type CoreApp } from '../../test/support/core-app';
import { NetLab, stopChild } from '../../test/support/netlab';
import { PI4_BOOT_SET, runPiSim } from './tftp-bench-lab';
import type { SimOptions } from './tftp-pi-sim';

const PREFIX_LENGTH = 21;
const NETMASK = '255.255.248.0';
const CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash\n';
const CONFIG_TXT = '# storm config.txt\narm_64bit=1\ndtoverlay=vc4-kms-v3d\nmax_framebuffers=2\ndisable_overscan=1\n[all]\n';

export interface StormPi {
  mac: string;
  serial: number;
  ip: string;
}

export interface StormLab {
  lab: NetLab;
  dir: string;
  serverIp: string;
  routerIp: string;
  pis: StormPi[];
  clientHosts: Array<{ host: string; pis: StormPi[] }>;
  /** dnsmasq's tftp root: the same bytes bramble serves from the image's boot folder. */
  refRoot: string;
  files: string[];
  bootSetBytes: number;
  close(): Promise<void>;
}

export interface StormServer {
  name: string;
  stop(): Promise<void>;
}

function piMac(i: number): string {
  return `dc:a6:32:cc:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

export async function createStormLab(options: { pis: number; hosts: number; dir: string }): Promise<StormLab> {
  if (options.pis > 1500) throw new Error('at most 1500 Pis fit in the lab /21');
  mkdirSync(options.dir, { recursive: true });
  const dir = mkdtempSync(path.join(options.dir, 'storm-'));
  const lab = await NetLab.create();
  try {
    const [a, b, c] = lab.subnetBase.split('.').map(Number);
    const network = ipv4ToInt(`${a}.${b}.${c & 0xf8}.0`);
    const serverIp = intToIpv4(network + 1);
    const routerIp = intToIpv4(network + 2);
    await lab.addSwitch('lan');
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/${PREFIX_LENGTH}` });
    await lab.addHost('rtr', 'lan', { ifname: 'eth0', mac: '02:00:00:00:02:02', cidr: `${routerIp}/${PREFIX_LENGTH}` });
    const pis: StormPi[] = Array.from({ length: options.pis }, (_, i) => ({
      mac: piMac(i + 1),
      serial: 0x5e000000 + i + 1,
      ip: intToIpv4(network + 16 + i),
    }));
    const clientHosts: StormLab['clientHosts'] = [];
    for (let h = 0; h < options.hosts; h++) {
      const host = `cli${h}`;
      const mine = pis.filter((_, i) => i % options.hosts === h);
      clientHosts.push({ host, pis: mine });
      await lab.addHost(host, 'lan', { ifname: 'eth0', mac: `02:00:00:00:03:${h.toString(16).padStart(2, '0')}`, cidr: null });
      // Every Pi address on the host's interface at once (ip -batch), as the router will give them.
      const batch = path.join(dir, `${host}.ip`);
      writeFileSync(batch, mine.map((p) => `addr add ${p.ip}/${PREFIX_LENGTH} dev eth0\n`).join(''));
      await lab.exec(host, 'ip', ['-batch', batch]);
    }
    // The boot set, identical for both servers (cmdline.txt as bramble renders it for an NFS root).
    const imageRoot = path.join(dir, 'image');
    const boot = path.join(imageRoot, 'boot', 'firmware');
    for (const d of ['etc', 'usr/bin']) mkdirSync(path.join(imageRoot, d), { recursive: true });
    const refRoot = path.join(dir, 'ref');
    let bootSetBytes = 0;
    for (const { file, bytes } of PI4_BOOT_SET) {
      let served: Buffer | string;
      let stored: Buffer | string;
      if (file === 'cmdline.txt') {
        stored = CMDLINE;
        served = renderCmdline(CMDLINE, { serverIp, exportPath: imageRoot, extraArgs: '' });
      } else if (file === 'config.txt') {
        stored = served = CONFIG_TXT.padEnd(bytes, '#');
      } else {
        stored = served = randomBytes(bytes);
      }
      for (const [root, content] of [
        [boot, stored],
        [refRoot, served],
      ] as const) {
        mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        writeFileSync(path.join(root, file), content);
      }
      bootSetBytes += Buffer.byteLength(served);
    }
    return {
      lab,
      dir,
      serverIp,
      routerIp,
      pis,
      clientHosts,
      refRoot,
      files: PI4_BOOT_SET.map((f) => f.file),
      bootSetBytes,
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

function spawnDaemon(sl: StormLab, host: string, name: string, args: string[]): { child: ChildProcess; log: () => string } {
  // setpriv --pdeathsig: the daemon dies with the bench even if the bench is killed.
  const child = sl.lab.spawn(host, 'setpriv', ['--pdeathsig', 'KILL', ...args]);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return { child, log: () => `${name}: ${text.slice(-2000)}` };
}

async function waitForPorts(
  sl: StormLab,
  host: string,
  ports: number[],
  what: string,
  child?: ChildProcess,
  log?: () => string,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited: ${log?.() ?? ''}`);
    const { stdout } = await sl.lab.exec(host, 'ss', ['-lunH']);
    if (ports.every((p) => new RegExp(`:${p}\\s`).test(stdout))) return;
    if (Date.now() > deadline) throw new Error(`${what}: udp ${ports.join(', ')} not bound: ${log?.() ?? ''}\n${stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The LAN's router: DHCP only, one fixed address per Pi, fresh leases each start. */
export async function startRouter(sl: StormLab): Promise<StormServer> {
  const n = ipv4ToInt(sl.serverIp) - 1;
  const conf = path.join(sl.dir, 'router.conf');
  const leases = path.join(sl.dir, 'router.leases');
  rmSync(leases, { force: true });
  writeFileSync(
    conf,
    [
      'port=0',
      'interface=eth0',
      'bind-interfaces',
      `dhcp-range=${intToIpv4(n + 16)},${intToIpv4(n + 8 * 256 - 6)},${NETMASK},1h`,
      'dhcp-authoritative',
      'no-ping',
      'quiet-dhcp',
      `dhcp-leasefile=${leases}`,
      `log-facility=${path.join(sl.dir, 'router.log')}`,
      ...sl.pis.map((p) => `dhcp-host=${p.mac},${p.ip}`),
      '',
    ].join('\n'),
  );
  const { child, log } = spawnDaemon(sl, 'rtr', 'router', [
    'dnsmasq',
    '--keep-in-foreground',
    `--conf-file=${conf}`,
    '--user=root',
    `--pid-file=${path.join(sl.dir, 'router.pid')}`,
  ]);
  await waitForPorts(sl, 'rtr', [67], 'router', child, log);
  return { name: 'router', stop: () => stopChild(child) };
}

/** dnsmasq as PiServer ran it: proxy DHCP for PXE clients and TFTP from the reference root. */
export async function startDnsmasq(sl: StormLab): Promise<StormServer> {
  const { child, log } = spawnDaemon(sl, 'srv', 'dnsmasq', [
    'dnsmasq',
    '--keep-in-foreground',
    '--port=0',
    '--interface=eth0',
    '--bind-interfaces',
    `--dhcp-range=${sl.serverIp},proxy`,
    '--pxe-service=0,Raspberry Pi Boot',
    '--enable-tftp',
    `--tftp-root=${sl.refRoot}`,
    '--tftp-max=10000',
    '--user=root',
    `--pid-file=${path.join(sl.dir, 'dnsmasq.pid')}`,
    `--log-facility=${path.join(sl.dir, 'dnsmasq.log')}`,
  ]);
  await waitForPorts(sl, 'srv', [67, 69], 'dnsmasq', child, log);
  return {
    name: 'dnsmasq',
    async stop() {
      await stopChild(child);
      rmSync(path.join(sl.dir, 'dnsmasq.log'), { force: true });
    },
  };
}

function stormPlugins(sl: StormLab): PluginFactory[] {
  return [
    createDhcpPlugin({ createFd: (o) => sl.lab.inNamespace('srv', () => createBoundUdpFd(o)), probeIntervalMs: 0 }),
    createTftpPlugin({ createFd: (o) => sl.lab.inNamespace('srv', () => createTftpSocket(o)) }),
  ];
}

/** The data directory every bramble run starts from (made once): the image, the Pis approved. */
async function brambleTemplate(sl: StormLab): Promise<string> {
  const dataDir = path.join(sl.dir, 'bramble-template');
  if (existsSync(path.join(dataDir, '.ready'))) return dataDir;
  mkdirSync(dataDir);
  const core = await startCoreApp({
    dataDir,
    env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: sl.serverIp },
    plugins: stormPlugins(sl),
  });
  try {
    const meta = () => commandMeta('admin:bench');
    const { imageId } = await core.exec<{ imageId: string }>(
      new RegisterImageCommand({ name: 'storm-os', path: path.join(sl.dir, 'image') }, meta()),
    );
    // In flight together (the runner serialises per stream), then one wait for the read models.
    await Promise.all(
      sl.pis.map(async (p) => {
        const serial = p.serial.toString(16).padStart(8, '0');
        await core.bus.execute(new DetectClientCommand({ mac: p.mac, serial, model: 'pi4', via: 'test' }, meta()) as never);
        await core.bus.execute(new ApproveClientCommand({ mac: p.mac, imageId }, meta()) as never);
        await core.bus.execute(new LearnClientAddressCommand({ mac: p.mac, ip: p.ip }, meta()) as never);
      }),
    );
    await core.engine.waitFor(await core.app.nest.get<EventStore>(EVENT_STORE).headPosition());
  } finally {
    await core.close();
  }
  writeFileSync(path.join(dataDir, '.ready'), '');
  return dataDir;
}

/** bramble in-process (DHCP proxy mode, TFTP), from a fresh copy of the prepared data directory. */
export async function startBramble(sl: StormLab): Promise<StormServer & { core: CoreApp }> {
  const template = await brambleTemplate(sl);
  const dataDir = path.join(sl.dir, `bramble-${Date.now()}`);
  cpSync(template, dataDir, { recursive: true });
  let core: CoreApp;
  try {
    core = await startCoreApp({ dataDir, env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: sl.serverIp }, plugins: stormPlugins(sl) });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  try {
    await waitForPorts(sl, 'srv', [67, 69], 'bramble');
  } catch (error) {
    await core.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    name: 'bramble',
    core,
    async stop() {
      try {
        await core.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export interface StormRun {
  /** From power-on to the last Pi's last file (or the limit). */
  seconds: number;
  /** Pis that did not get through DHCP and every file. */
  failedPis: number;
  failedFiles: number;
  failures: string[];
  /** Per Pi that finished: ms from power-on to its last file. */
  piMs: number[];
  dhcpMs: number[];
  /** Per file of the boot set (by index), per Pi that read it: ms from power-on to its last block. */
  fileMs: number[][];
  /** Per file of the boot set (by index), per Pi that read it: ms from its first request for it to its last block. */
  fileSpanMs: number[][];
  /** Per request answered with an OACK: ms from the request to the OACK. */
  oackMs: number[];
  resends: number;
  clientCpuMs: number;
}

/** Powers every Pi on at the same instant (one simulator per client host) and waits for all. */
export async function runStorm(sl: StormLab, options: { limitMs: number; blksize?: number }): Promise<StormRun> {
  const startAt = Date.now() + 2000;
  const runs = sl.clientHosts.map(({ host, pis }) => {
    const o: SimOptions = {
      server: sl.serverIp,
      port: 69,
      root: sl.refRoot,
      files: sl.files,
      pis: pis.map((p) => p.ip),
      blksize: options.blksize ?? 1024,
      startAt,
      timeoutMs: 1000,
      retries: 5,
      stopAt: startAt + options.limitMs,
      dhcp: {
        interface: 'eth0',
        routerIp: sl.routerIp,
        serverIp: sl.serverIp,
        retryMs: 4000,
        giveUpMs: 45_000,
        pis: pis.map((p) => ({ mac: p.mac, serial: p.serial, ip: p.ip })),
      },
    };
    return runPiSim(sl.lab, host, o, options.limitMs + 10_000);
  });
  const results = await Promise.all(runs);
  return {
    seconds: (Math.max(...results.map((r) => r.finishedAt)) - startAt) / 1000,
    failedPis: results.reduce((n, r) => n + r.piFailed, 0),
    failedFiles: results.reduce((n, r) => n + r.failed, 0),
    failures: results.flatMap((r) => r.piFailures),
    piMs: results.flatMap((r) => r.piMs),
    dhcpMs: results.flatMap((r) => r.dhcpMs),
    fileMs: sl.files.map((_, i) => results.flatMap((r) => r.fileMs[i])),
    fileSpanMs: sl.files.map((_, i) => results.flatMap((r) => r.fileSpanMs[i])),
    oackMs: results.flatMap((r) => r.oackMs),
    resends: results.reduce((n, r) => n + r.resends, 0),
    clientCpuMs: results.reduce((n, r) => n + r.cpuUserMs + r.cpuSystemMs, 0),
  };
}
