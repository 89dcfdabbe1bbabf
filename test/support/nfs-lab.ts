/**
 * The NFS lab: a server namespace where bramble's ganesha and rpcbind run, and Pi namespaces that
 * mount with libnfs-utils (nfs-ls, nfs-cat, nfs-cp: a userspace NFS client, since this kernel has
 * no NFS client).
 *
 * ganesha and rpcbind must share a mount namespace with a private tmpfs on /run (rpcbind's socket
 * and state stay off the host: docs/test-lab.md "NFS"). A holder process (`sleep`) is started inside
 * the server's network namespace under `unshare -m` with that tmpfs; the plugin's spawner then runs
 * every program through `nsenter` into the holder's network and mount namespaces. `destroy()` kills
 * whatever still runs in that mount namespace (the plugin should have stopped it all: the count is
 * returned so a test can assert it), then the holder, then the namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import type { Spawner } from '../../src/plugins/nfs/nfs.process';
import { NetLab, waitForExit } from './netlab';

export const PI_MAC = 'b8:27:eb:00:00:21';
export const PI2_MAC = 'b8:27:eb:00:00:22';
export const STRANGER_MAC = 'b8:27:eb:00:00:66';

export type LabHost = 'pi' | 'pi2' | 'stranger';

/** The first of `tools` not installed here, as a skip reason, or null. */
export function missingTool(tools: readonly string[]): string | null {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (scripts/ensure-test-deps.sh)`;
    }
  }
  return null;
}

export interface NfsResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class NfsLab {
  private constructor(
    readonly netlab: NetLab,
    private readonly holder: ChildProcess,
    readonly mountNs: string,
  ) {}

  get serverIp(): string {
    return this.netlab.ip(1);
  }

  ipOf(host: LabHost): string {
    return this.netlab.ip(host === 'pi' ? 21 : host === 'pi2' ? 22 : 66);
  }

  static async create(): Promise<NfsLab> {
    const netlab = await NetLab.create();
    try {
      const sw = await netlab.addSwitch('sw0');
      await netlab.addHost('server', sw, { ifname: 'eth0', mac: '02:00:00:00:00:01', cidr: `${netlab.ip(1)}/24` });
      await netlab.addHost('pi', sw, { ifname: 'eth0', mac: PI_MAC, cidr: `${netlab.ip(21)}/24` });
      await netlab.addHost('pi2', sw, { ifname: 'eth0', mac: PI2_MAC, cidr: `${netlab.ip(22)}/24` });
      await netlab.addHost('stranger', sw, { ifname: 'eth0', mac: STRANGER_MAC, cidr: `${netlab.ip(66)}/24` });
      const holder = netlab.spawn('server', 'unshare', [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o mode=0755 tmpfs /run && echo ready && exec sleep 3600',
      ]);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the mount-namespace holder did not start')), 10_000);
        holder.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        holder.once('exit', (code) => reject(new Error(`the mount-namespace holder exited (${code})`)));
      });
      // `ip netns exec` and `unshare` exec (no fork), `sh -c ... exec sleep` too: the pid is the holder's.
      const mountNs = readlinkSync(`/proc/${holder.pid}/ns/mnt`);
      return new NfsLab(netlab, holder, mountNs);
    } catch (error) {
      await netlab.destroy();
      throw error;
    }
  }

  /** The plugin's spawner: programs run in the server's network and private mount namespaces. */
  readonly spawn: Spawner = (command, args) =>
    spawn('nsenter', ['-t', String(this.holder.pid), '-m', '-n', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

  /** Runs a libnfs tool (nfs-ls, nfs-cat, nfs-cp...) on a lab host; never throws. */
  async nfs(host: LabHost, tool: string, args: string[], timeoutMs = 20_000): Promise<NfsResult> {
    try {
      return { code: 0, ...(await this.netlab.exec(host, tool, args, { timeoutMs })) };
    } catch (error) {
      const e = error as { code?: unknown; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** nfs://server<path>?version=v&uid=..&gid=.. */
  url(path: string, version: 3 | 4, as: { uid?: number; gid?: number } = {}): string {
    const q = [`version=${version}`];
    if (as.uid !== undefined) q.push(`uid=${as.uid}`);
    if (as.gid !== undefined) q.push(`gid=${as.gid}`);
    // libnfs takes the path as written (no percent-decoding); export paths never hold `?` or `&`.
    return `nfs://${this.serverIp}${path}?${q.join('&')}`;
  }

  /** Pids of processes in the server's private mount namespace, the holder aside. */
  processesInside(): number[] {
    const pids: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === this.holder.pid) continue;
      try {
        if (readlinkSync(`/proc/${name}/ns/mnt`) === this.mountNs) pids.push(Number(name));
      } catch {
        // gone, or a kernel thread
      }
    }
    return pids;
  }

  /** Kills what is left in the mount namespace (returns how many were), the holder and the namespaces. */
  async destroy(): Promise<number> {
    const left = this.processesInside();
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.holder.kill('SIGKILL');
    await waitForExit(this.holder, 5000);
    await this.netlab.destroy();
    return left.length;
  }
}
