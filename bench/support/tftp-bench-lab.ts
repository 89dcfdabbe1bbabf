/**
 * The TFTP benchmark's lab: the TFTP test lab (test/support/tftp-lab.ts: bramble in-process serving
 * the `srv` host of a NetLab) with
 *   - the files: a 50 MiB `big.bin` and a Pi 4 boot set (random bytes of realistic sizes) in the
 *     image's boot folder, and the same bytes in a reference folder for dnsmasq and atftpd (with
 *     cmdline.txt as bramble renders it for these Pis, so every server sends identical files);
 *   - `pi0`, an approved Pi host for the stock clients (curl, atftp);
 *   - client hosts `cli<n>` holding many approved Pi addresses each (one MAC, serial and learnt
 *     address per simulated Pi), for tftp-pi-sim.ts;
 *   - the servers taking turns on `srv`'s udp/69: bramble's plugin is moved to an unused port
 *     (settings `port`) while dnsmasq or atftpd runs, and back.
 *
 * Everything lives in the lab's namespaces and temp folder; close() removes both.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApproveClientCommand, DetectClientCommand, LearnClientAddressCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { JsonLogger } from '../../src/core/logging/logger';
import { renderCmdline } from '../../src/plugins/tftp/tftp.generated';
import { waitForExit, type NetLab } from '../../test/support/netlab';
import { startTftpLab, type TftpLab } from '../../test/support/tftp-lab';
import { processCpuMs } from './process-cpu';
import type { SimOptions, SimResult } from './tftp-pi-sim';

export const BIG_FILE = 'big.bin';
export const BIG_BYTES = 50 * 1024 * 1024;
/** bramble's plugin waits here while a reference server holds udp/69. */
export const PARKED_PORT = 6969;

/** A Pi 4 boot, in the order the firmware asks (sizes as on Raspberry Pi OS bookworm, rounded). */
export const PI4_BOOT_SET: ReadonlyArray<{ file: string; bytes: number }> = [
  { file: 'start4.elf', bytes: 2_250_000 },
  { file: 'fixup4.dat', bytes: 5_400 },
  { file: 'config.txt', bytes: 1_200 },
  { file: 'bcm2711-rpi-4-b.dtb', bytes: 55_000 },
  { file: 'overlays/overlay_map.dtb', bytes: 5_200 },
  { file: 'overlays/hat_map.dtb', bytes: 2_600 },
  { file: 'overlays/vc4-kms-v3d-pi4.dtbo', bytes: 4_300 },
  { file: 'overlays/disable-bt.dtbo', bytes: 2_100 },
  { file: 'overlays/dwc2.dtbo', bytes: 2_400 },
  { file: 'overlays/i2c-rtc.dtbo', bytes: 4_900 },
  { file: 'overlays/spi0-1cs.dtbo', bytes: 2_200 },
  { file: 'overlays/uart2.dtbo', bytes: 2_300 },
  { file: 'cmdline.txt', bytes: 0 },
  { file: 'kernel8.img', bytes: 8_400_000 },
  { file: 'initramfs8', bytes: 6_200_000 },
];

const CMDLINE = 'console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash\n';
const CONFIG_TXT_HEAD =
  '# bench config.txt\narm_64bit=1\ndtoverlay=vc4-kms-v3d\nmax_framebuffers=2\ndisable_overscan=1\n[pi4]\narm_boost=1\n[all]\n';

export interface BenchPi {
  mac: string;
  ip: string;
}

export interface TftpBenchLab {
  tftp: TftpLab;
  serverIp: string;
  /** dnsmasq's and atftpd's tftp root: the same bytes as bramble's boot folder. */
  refRoot: string;
  /** The stock clients' host (an approved Pi). */
  pi0: BenchPi;
  /** Simulated Pis per client host. */
  clientHosts: Array<{ host: string; pis: BenchPi[] }>;
  bootSetBytes: number;
  close(): Promise<void>;
}

function piMac(i: number): string {
  return `dc:a6:32:ee:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

/** Builds the lab: `pis` simulated Pis spread over `hosts` client hosts. */
export async function createTftpBenchLab(options: { pis: number; hosts: number }): Promise<TftpBenchLab> {
  if (options.pis > 150) throw new Error('at most 150 simulated Pis fit in the lab /24 here');
  // bramble's warnings and errors (e.g. a settings change it could not apply) reach the bench's stderr.
  const tftp = await startTftpLab({ logger: new JsonLogger('warn', undefined, (line) => process.stderr.write(`# bramble: ${line}\n`)) });
  try {
    const serverIp = tftp.serverIp;
    const refRoot = path.join(tftp.dir, 'ref');
    mkdirSync(refRoot, { recursive: true });
    const put = (file: string, content: Buffer | string, refContent: Buffer | string = content): void => {
      tftp.writeBootFile(file, content);
      mkdirSync(path.dirname(path.join(refRoot, file)), { recursive: true });
      writeFileSync(path.join(refRoot, file), refContent);
    };
    put(BIG_FILE, randomBytes(BIG_BYTES));
    let bootSetBytes = 0;
    for (const { file, bytes } of PI4_BOOT_SET) {
      if (file === 'cmdline.txt') {
        // bramble sends its rendering for an NFS root: the references serve that text as a plain file.
        const rendered = renderCmdline(CMDLINE, { serverIp, exportPath: tftp.image.root, extraArgs: '' });
        put(file, CMDLINE, rendered);
        bootSetBytes += Buffer.byteLength(rendered);
      } else if (file === 'config.txt') {
        // Served byte for byte by bramble (these Pis have no lines of their own).
        put(file, CONFIG_TXT_HEAD.padEnd(bytes, '#'));
        bootSetBytes += bytes;
      } else {
        put(file, randomBytes(bytes));
        bootSetBytes += bytes;
      }
    }
    const meta = (): ReturnType<typeof commandMeta> => commandMeta('admin:bench');
    const p0 = await tftp.addPi('pi0', { mac: piMac(0), serial: 'b0000000', hostNumber: 10 });
    const clientHosts: TftpBenchLab['clientHosts'] = [];
    for (let h = 0; h < options.hosts; h++) clientHosts.push({ host: `cli${h}`, pis: [] });
    for (let i = 0; i < options.pis; i++) {
      const h = clientHosts[i % options.hosts];
      const mac = piMac(i + 1);
      const serial = `b${(i + 1).toString(16).padStart(7, '0')}`;
      const hostNumber = 100 + i;
      if (h.pis.length === 0) {
        const pi = await tftp.addPi(h.host, { mac, serial, hostNumber });
        h.pis.push({ mac, ip: pi.ip });
      } else {
        // Another address on the same client host, approved as its own Pi (as DHCP would have).
        const ip = tftp.lab.ip(hostNumber);
        await tftp.lab.ipIn(tftp.lab.ns(h.host), ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        await tftp.core.exec(new DetectClientCommand({ mac, serial, via: 'test' }, meta()));
        await tftp.core.exec(new ApproveClientCommand({ mac, imageId: tftp.image.id }, meta()));
        await tftp.core.exec(new LearnClientAddressCommand({ mac, ip }, meta()));
        h.pis.push({ mac, ip });
      }
    }
    return {
      tftp,
      serverIp,
      refRoot,
      pi0: { mac: p0.mac, ip: p0.ip },
      clientHosts,
      bootSetBytes,
      close: () => tftp.close(),
    };
  } catch (error) {
    await tftp.close();
    throw error;
  }
}

async function udp69Listening(bl: TftpBenchLab): Promise<boolean> {
  const { stdout } = await bl.tftp.lab.exec('srv', 'ss', ['-lunH', 'sport = :69']);
  return stdout.trim() !== '';
}

async function waitUdp69(bl: TftpBenchLab, listening: boolean, what: string, child?: ChildProcess, log?: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited: ${log?.() ?? ''}`);
    if ((await udp69Listening(bl)) === listening) return;
    if (Date.now() > deadline) {
      const { stdout } = await bl.tftp.lab.exec('srv', 'ss', ['-lunpH']);
      throw new Error(`${what}: udp/69 ${listening ? 'never bound' : 'still bound'} ${log?.() ?? ''}\n${stdout}`);
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}

export interface ServerUnderTest {
  name: string;
  /** CPU time (ms) the server has used so far, where it can be measured from outside. */
  cpuMs(): number;
  stop(): Promise<void>;
}

export { processCpuMs };

/** Moves bramble's plugin off udp/69 (to PARKED_PORT) and waits until udp/69 is free. */
export async function parkBramble(bl: TftpBenchLab): Promise<void> {
  await bl.tftp.settings({ port: PARKED_PORT });
  await waitUdp69(bl, false, 'bramble');
}

/** bramble's plugin back on udp/69. CPU: this whole process (bramble's threads and the bench's own driving). */
export async function startBramble(bl: TftpBenchLab): Promise<ServerUnderTest> {
  await bl.tftp.settings({ port: 69 });
  await waitUdp69(bl, true, 'bramble');
  return {
    name: 'bramble',
    cpuMs: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    async stop() {
      await bl.tftp.settings({ port: PARKED_PORT });
      try {
        await waitUdp69(bl, false, 'bramble');
      } catch (error) {
        // Seen once in a few runs: the change was not applied. Once more, through a fresh value.
        process.stderr.write(`# warning: ${(error as Error).message}; setting the port again\n`);
        await bl.tftp.settings({ port: PARKED_PORT + 1 });
        await waitUdp69(bl, false, 'bramble');
      }
    },
  };
}

function spawnServer(bl: TftpBenchLab, name: string, cmd: string, args: string[]): { child: ChildProcess; log: () => string } {
  // setpriv --pdeathsig: the server dies with the bench even if the bench is killed.
  const child = bl.tftp.lab.spawn('srv', 'setpriv', ['--pdeathsig', 'KILL', cmd, ...args]);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return { child, log: () => `${name}: ${text.slice(-2000)}` };
}

async function external(bl: TftpBenchLab, name: string, cmd: string, args: string[]): Promise<ServerUnderTest> {
  const { child, log } = spawnServer(bl, name, cmd, args);
  try {
    await waitUdp69(bl, true, name, child, log);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  // `ip netns exec` and setpriv exec the server: the child's pid is the server's.
  const pid = child.pid!;
  return {
    name,
    cpuMs: () => processCpuMs(pid),
    async stop() {
      child.kill('SIGTERM');
      await waitForExit(child, 3000);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await waitForExit(child, 3000);
      }
      await waitUdp69(bl, false, name);
    },
  };
}

/**
 * dnsmasq, TFTP only, as PiServer ran it (no DNS, no DHCP here), logging as shipped (a line per
 * file sent) to a file in the lab folder. --tftp-max raised from its default 50 so that 50 Pis
 * with a probe each are never turned away.
 */
export function startDnsmasq(bl: TftpBenchLab): Promise<ServerUnderTest> {
  return external(bl, 'dnsmasq', 'dnsmasq', [
    '--keep-in-foreground',
    '--port=0',
    '--enable-tftp',
    `--tftp-root=${bl.refRoot}`,
    '--tftp-max=1000',
    `--listen-address=${bl.serverIp}`,
    '--bind-interfaces',
    '--user=root',
    `--pid-file=${path.join(bl.tftp.dir, 'dnsmasq.pid')}`,
    `--log-facility=${path.join(bl.tftp.dir, 'dnsmasq.log')}`,
  ]);
}

/** Why atftpd cannot run here, or null. */
export function atftpdUnavailable(): string | null {
  try {
    execFileSync('sh', ['-c', 'command -v atftpd'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'atftpd is not installed (apt-get install atftpd; not a test dependency: its package enables a systemd socket on udp/69)';
  }
}

export function startAtftpd(bl: TftpBenchLab): Promise<ServerUnderTest> {
  return external(bl, 'atftpd', 'atftpd', [
    '--daemon',
    '--no-fork',
    '--port',
    '69',
    '--bind-address',
    bl.serverIp,
    '--user',
    'root',
    '--group',
    'root',
    '--logfile',
    '/dev/null',
    bl.refRoot,
  ]);
}

export interface SimRun {
  /** From the common start to the last Pi's last file. */
  seconds: number;
  results: SimResult[];
  failed: number;
  completed: number;
  files: number;
  resends: number;
  clientCpuMs: number;
  failures: string[];
}

/**
 * One tftp-pi-sim process on a lab host (killed after `killAfterMs`); resolves with the result it
 * prints last.
 */
export function runPiSim(lab: NetLab, host: string, o: SimOptions, killAfterMs: number): Promise<SimResult> {
  const child = lab.spawn(host, process.execPath, [path.join(__dirname, 'tftp-pi-sim.js'), JSON.stringify(o)]);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<SimResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as SimResult);
      } catch {
        reject(new Error(`tftp-pi-sim on ${host} ended (${code ?? signal}) without a result: ${err.slice(-2000)}`));
      }
    });
  });
}

/**
 * Every client host runs one tftp-pi-sim process driving its Pis; all start at the same wall-clock
 * instant (after node has started everywhere) and each reports when its last Pi finished.
 */
export async function runPiSims(
  bl: TftpBenchLab,
  options: { blksize: number; files: string[]; timeoutMs?: number; retries?: number; limitMs: number; io?: SimOptions['io'] },
): Promise<SimRun> {
  const startAt = Date.now() + 1500;
  const runs = bl.clientHosts.map(({ host, pis }) => {
    const o: SimOptions = {
      server: bl.serverIp,
      port: 69,
      root: bl.refRoot,
      files: options.files,
      pis: pis.map((p) => p.ip),
      blksize: options.blksize,
      startAt,
      timeoutMs: options.timeoutMs ?? 1000,
      retries: options.retries ?? 5,
      io: options.io,
      stopAt: startAt + options.limitMs,
    };
    return runPiSim(bl.tftp.lab, host, o, options.limitMs + 5000);
  });
  const results = await Promise.all(runs);
  const late = results.filter((r) => r.startedAt > startAt + 100);
  if (late.length) process.stderr.write(`# warning: ${late.length} simulator(s) started over 100 ms late\n`);
  return {
    seconds: (Math.max(...results.map((r) => r.finishedAt)) - startAt) / 1000,
    results,
    failed: results.reduce((n, r) => n + r.failed, 0),
    completed: results.reduce((n, r) => n + r.completed, 0),
    files: results.reduce((n, r) => n + r.files, 0),
    resends: results.reduce((n, r) => n + r.resends, 0),
    clientCpuMs: results.reduce((n, r) => n + r.cpuUserMs + r.cpuSystemMs, 0),
    failures: results.flatMap((r) => r.failures),
  };
}
