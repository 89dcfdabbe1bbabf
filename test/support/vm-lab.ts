/**
 * The lab a network-booting VM needs: the NFS lab (test/support/nfs-lab.ts: a switch, a server
 * namespace with a private mount namespace and tmpfs /run for ganesha and rpcbind), a router
 * advertisement on the LAN, and QEMU VMs plugged into the switch (test/support/qemu-vm.ts).
 *
 * Why a router advertisement: iPXE configures IPv6 and IPv4 at once and waits about 13 s for an
 * IPv6 router before it gives up on it (docs/test-lab.md "A real operating system booting in a virtual machine"). A LAN
 * with a router answers at once. radvd, run in the server namespace, plays that router: it
 * advertises no prefix, no managed/other configuration and a router lifetime of 0 (not a default
 * router), so iPXE's IPv6 configuration ends as soon as the first advertisement arrives and nothing
 * else on the LAN changes.
 *
 * Everything started here is stopped by `destroy()` (VMs, radvd, the namespaces).
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { NfsLab, missingTool } from './nfs-lab';
import { waitForExit } from './netlab';
import { QemuVm, qemuUnavailable, type QemuVmOptions } from './qemu-vm';

/** A MAC of QEMU's own range (52:54:00), as a stock VM has. */
export const VM_MAC = '52:54:00:b7:a0:01';

/** Why the VM lab cannot run here, or null. */
export function vmLabUnavailable(): string | null {
  return qemuUnavailable() ?? missingTool(['radvd', 'nsenter', 'unshare']);
}

export class VmLab {
  private readonly vms = new Set<QemuVm>();
  private radvd: ChildProcess | null = null;
  private tapCounter = 0;

  private constructor(
    readonly nfs: NfsLab,
    /** Folder for radvd's files and the VMs' consoles (the caller's temp folder). */
    readonly dir: string,
  ) {}

  static async create(dir: string): Promise<VmLab> {
    return new VmLab(await NfsLab.create(), dir);
  }

  get serverIp(): string {
    return this.nfs.serverIp;
  }

  /** `10.x.y.<host>` of the lab's /24. */
  ip(host: number): string {
    return this.nfs.netlab.ip(host);
  }

  /** Starts radvd on the server's eth0 (see above); resolves once it has started. */
  async startRouterAdvertisements(): Promise<void> {
    const conf = path.join(this.dir, 'radvd.conf');
    writeFileSync(
      conf,
      [
        'interface eth0 {',
        '  AdvSendAdvert on;',
        '  MinRtrAdvInterval 3;',
        '  MaxRtrAdvInterval 10;',
        '  AdvDefaultLifetime 0;',
        '  AdvManagedFlag off;',
        '  AdvOtherConfigFlag off;',
        '};',
        '',
      ].join('\n'),
    );
    // radvd wants forwarding on (a router); this is the lab namespace's own sysctl.
    await this.nfs.netlab.exec('server', 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    const child = this.nfs.netlab.spawn('server', 'radvd', ['-n', '-C', conf, '-p', path.join(this.dir, 'radvd.pid'), '-m', 'stderr']);
    this.radvd = child;
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    // radvd has no readiness signal; it either exits at once on a bad config or keeps running.
    await waitForExit(child, 1000);
    if (child.exitCode !== null) throw new Error(`radvd exited (${child.exitCode}):\n${log}`);
  }

  /** Starts a VM on the lab switch (its console connected: the guest is running). */
  async startVm(options: Partial<Omit<QemuVmOptions, 'netns' | 'bridge' | 'tap'>> = {}): Promise<QemuVm> {
    const vm = await QemuVm.start({
      netns: this.nfs.netlab.ns('switch'),
      bridge: 'sw0',
      tap: `vmtap${++this.tapCounter}`,
      mac: VM_MAC,
      dir: this.dir,
      ...options,
    });
    this.vms.add(vm);
    return vm;
  }

  async destroy(): Promise<void> {
    for (const vm of this.vms) await vm.stop().catch(() => undefined);
    this.vms.clear();
    this.radvd?.kill('SIGKILL');
    if (this.radvd) await waitForExit(this.radvd, 2000);
    await this.nfs.destroy();
  }
}
