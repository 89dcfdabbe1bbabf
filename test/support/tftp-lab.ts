/**
 * A TFTP lab: bramble in-process serving the `srv` host of a NetLab (its TFTP sockets created in
 * that namespace), an OS image tree on disk, and helpers to add Pi hosts, approve them, and run
 * real TFTP clients (curl, tftp-hpa, atftp, busybox) from their namespaces.
 *
 *   const lab = await startTftpLab();
 *   const pi = await lab.addPi('pi4', { mac: 'dc:a6:32:01:02:03', serial: '01020304' });
 *   await lab.exec('pi4', 'curl', ['-s', '-o', '/dev/null', `tftp://${lab.serverIp}/start4.elf`]);
 */
import type { RecentBootFact } from '../../src/core/boot/boot-sessions';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ApproveClientCommand,
  DetectClientCommand,
  LearnClientAddressCommand,
  SetClientBootConfigCommand,
} from '../../src/core/commands/client.commands';
import { RegisterImageCommand } from '../../src/core/commands/image.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import type { Logger } from '../../src/core/logging/logger';
import { Metrics } from '../../src/core/observability/metrics';
import type { RecordedEvent } from '../../src/core/plugin-api';
import type { TftpSettings } from '../../src/plugins/tftp/tftp.config';
import { createTftpSocket } from '../../src/plugins/tftp/tftp.libc';
import { createTftpPlugin, type TftpPluginOptions } from '../../src/plugins/tftp/tftp.plugin';
import { startCoreApp, type CoreApp } from './core-app';
import { canUseNetns, NetLab } from './netlab';
import { removeStaleTempDirs, tempDir } from './temp';

const LAB_DIR_PREFIX = 'bramble-tftp-lab-';

/** Why TFTP lab tests cannot run here, or null. */
export function tftpLabUnavailable(): string | null {
  const netns = canUseNetns();
  if (netns) return netns;
  for (const tool of ['curl', 'tftp', 'atftp', 'busybox']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (scripts/ensure-test-deps.sh installs it)`;
    }
  }
  return null;
}

export interface LabPi {
  host: string;
  mac: string;
  ip: string;
  serial: string | null;
}

export interface TftpLab {
  lab: NetLab;
  core: CoreApp;
  serverIp: string;
  /** The lab's own temp folder (removed by close()). */
  dir: string;
  /** An image tree registered in bramble: `<root>/boot/firmware/` holds the boot files. */
  image: { id: string; root: string; boot: string };
  /** Writes a file into the image's boot folder (folders created). */
  writeBootFile(relPath: string, content: Buffer | string): string;
  /** Registers another image tree; returns its id and boot folder. */
  addImage(name: string, options?: { bootFolder?: 'boot/firmware' | 'boot' }): Promise<{ id: string; root: string; boot: string }>;
  /**
   * A host plugged into the lab's switch, with a static address; when `approve` (default true) it
   * is also detected, approved with the lab's image, and its address learnt, as DHCP would.
   */
  addPi(
    name: string,
    options: { mac: string; serial?: string | null; approve?: boolean; imageId?: string | null; learnIp?: boolean; hostNumber?: number },
  ): Promise<LabPi>;
  setBootConfig(mac: string, configTxt: string, cmdlineArgs: string): Promise<void>;
  settings(values: Partial<TftpSettings>): Promise<void>;
  /** Runs a command in a host's namespace (throws on non-zero exit, with code/stdout/stderr). */
  exec(host: string, cmd: string, args: string[], options?: { timeoutMs?: number }): Promise<{ stdout: string; stderr: string }>;
  /** The events of a client's boot stream (`boot-<mac>`: stage changes and image versions). */
  bootEvents(mac: string): Promise<RecordedEvent[]>;
  /** The boot facts the core received for a client (live, not stored), in order. */
  bootFacts(mac: string): RecentBootFact[];
  /** bramble's Prometheus text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** A minimal OS tree (what RegisterImage checks for) with an empty boot folder. */
function makeImageTree(root: string, bootFolder: string): string {
  for (const d of ['etc', 'usr/bin', bootFolder]) mkdirSync(path.join(root, d), { recursive: true });
  return path.join(root, bootFolder);
}

export async function startTftpLab(
  options: { plugin?: TftpPluginOptions; settings?: Partial<TftpSettings>; logger?: Logger } = {},
): Promise<TftpLab> {
  removeStaleTempDirs(LAB_DIR_PREFIX);
  const lab = await NetLab.create();
  const tmp = tempDir(`${LAB_DIR_PREFIX}${process.pid}-`);
  let core: CoreApp | null = null;
  try {
    await lab.addSwitch('lan');
    const serverIp = lab.ip(1);
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/24` });
    const plugin = createTftpPlugin({
      createFd: (o) => lab.inNamespace('srv', () => createTftpSocket(o)),
      ...options.plugin,
    });
    core = await startCoreApp({
      dataDir: path.join(tmp.dir, 'data'),
      env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: serverIp },
      plugins: [plugin],
      logger: options.logger,
    });
    const c = core;
    const meta = (): ReturnType<typeof commandMeta> => commandMeta('admin:test');
    let nextHost = 50;
    let images = 0;

    const addImage: TftpLab['addImage'] = async (name, o = {}) => {
      const root = path.join(tmp.dir, `image-${++images}`);
      const boot = makeImageTree(root, o.bootFolder ?? 'boot/firmware');
      const { imageId } = await c.exec<{ imageId: string }>(new RegisterImageCommand({ name, path: root }, meta()));
      return { id: imageId, root, boot };
    };
    const image = await addImage('lab-os');

    const self: TftpLab = {
      lab,
      core: c,
      serverIp,
      dir: tmp.dir,
      image,
      writeBootFile(relPath, content) {
        const file = path.join(image.boot, relPath);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, content);
        return file;
      },
      addImage,
      async addPi(name, o) {
        const ip = lab.ip(o.hostNumber ?? nextHost++);
        await lab.addHost(name, 'lan', { ifname: 'eth0', mac: o.mac, cidr: `${ip}/24` });
        if (o.approve !== false) {
          await c.exec(new DetectClientCommand({ mac: o.mac, serial: o.serial ?? null, via: 'test' }, meta()));
          await c.exec(new ApproveClientCommand({ mac: o.mac, imageId: o.imageId === undefined ? image.id : o.imageId }, meta()));
          if (o.learnIp !== false) await c.exec(new LearnClientAddressCommand({ mac: o.mac, ip }, meta()));
        }
        return { host: name, mac: o.mac, ip, serial: o.serial ?? null };
      },
      async setBootConfig(mac, configTxt, cmdlineArgs) {
        await c.exec(new SetClientBootConfigCommand({ mac, configTxt, cmdlineArgs }, meta()));
      },
      async settings(values) {
        await c.exec(new UpdatePluginSettingsCommand({ plugin: 'tftp', values }, meta()));
      },
      exec: (host, cmd, args, o) => lab.exec(host, cmd, args, o),
      async bootEvents(mac) {
        return c.app.nest.get<EventStore>(EVENT_STORE).readStream(`boot-${mac}`);
      },
      bootFacts: (mac) => c.bootFacts(mac),
      async metrics() {
        return c.app.nest.get(Metrics).registry.metrics();
      },
      async close() {
        await c.close();
        await lab.destroy();
        tmp.cleanup();
      },
    };
    if (options.settings) await self.settings(options.settings);
    return self;
  } catch (error) {
    await core?.close();
    await lab.destroy();
    tmp.cleanup();
    throw error;
  }
}

/** Writes `bytes` of a repeatable pattern (block-position dependent, so a misplaced block shows). */
export function patternFile(bytes: number, seed = 1): Buffer {
  const data = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if (i + 4 <= bytes) data.writeUInt32LE(x, i);
    else for (let j = i; j < bytes; j++) data[j] = (x >>> (8 * (j - i))) & 0xff;
  }
  return data;
}

/**
 * The value of one sample in Prometheus text (`name{a="b"} 3`), or 0 when it is absent. `labels`
 * must all match; other labels of the sample are ignored.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have.set(l[1], l[2]);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total = (total ?? 0) + Number(m[3]);
  }
  return total ?? 0;
}

/** Runs a command in a host's namespace and returns its exit code and output (never throws on a non-zero exit). */
export async function execStatus(
  lab: TftpLab,
  host: string,
  cmd: string,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await lab.exec(host, cmd, args, options);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; killed?: boolean; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
