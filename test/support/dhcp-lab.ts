/**
 * A DHCP test lab: a network-namespace LAN with bramble's DHCP plugin serving the server host's
 * interface from an in-process bramble (the plugin's sockets are created inside the namespace),
 * and helpers to run real clients (busybox udhcpc, dhclient, nmap) as Pis on the LAN.
 */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { createDhcpPlugin, type DhcpPluginOptions } from '../../src/plugins/dhcp/dhcp.plugin';
import type { PluginFactory } from '../../src/core/plugin-api/plugin';
import { startCoreApp, type CoreApp } from './core-app';
import { NetLab } from './netlab';
import { tempDir } from './temp';

/** The Pi 4's DISCOVER fingerprint (protocol doc §1): options 60, 93, 94, 97. */
export const PI_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';

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

export interface DhcpLab {
  lab: NetLab;
  core: CoreApp;
  serverIp: string;
  tmp: string;
  /** Adds a Pi (or any client) host on the LAN with this MAC and no address. */
  addClient(name: string, mac: string): Promise<void>;
  /** Runs busybox udhcpc as a Pi 4 would ask; returns the env of each script call, by event. */
  udhcpc(host: string, options?: { pi?: { mac: string; serial: number }; tries?: number; timeoutSec?: number; extra?: string[] }): Promise<Record<string, Record<string, string>>>;
  close(): Promise<void>;
}

export async function startDhcpLab(options: { env?: Record<string, string>; plugin?: DhcpPluginOptions; extraPlugins?: PluginFactory[] } = {}): Promise<DhcpLab> {
  const lab = await NetLab.create();
  const dir = tempDir('bramble-dhcp-lab-');
  try {
    await lab.addSwitch('lan');
    const serverIp = lab.ip(1);
    await lab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/24` });
    const plugin = createDhcpPlugin({
      createFd: (o) => lab.inNamespace('srv', () => createBoundUdpFd(o)),
      probeIntervalMs: 0,
      ...options.plugin,
    });
    const core = await startCoreApp({
      env: { BRAMBLE_INTERFACE: 'eth0', BRAMBLE_SERVER_IP: serverIp, ...options.env },
      plugins: [plugin, ...(options.extraPlugins ?? [])],
    });
    const script = path.join(dir.dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\nenv > "$OUT.$1"\nexit 0\n');
    chmodSync(script, 0o755);
    let run = 0;
    return {
      lab,
      core,
      serverIp,
      tmp: dir.dir,
      async addClient(name, mac) {
        await lab.addHost(name, 'lan', { ifname: 'eth0', mac, cidr: null });
      },
      async udhcpc(host, o = {}) {
        const out = path.join(dir.dir, `run${++run}`);
        const args = ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', String(o.tries ?? 3), '-T', String(o.timeoutSec ?? 1), '-A', '1', '-s', script];
        if (o.pi) {
          args.push('-V', PI_VENDOR_CLASS, '-x', '0x5d:0000', '-x', '0x5e:010201', '-x', `0x61:${pi4Guid(o.pi.mac, o.pi.serial)}`, '-O', '43', '-O', '66');
        }
        args.push(...(o.extra ?? []));
        try {
          await lab.exec(host, 'env', ['-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `OUT=${out}`, 'busybox', ...args], { timeoutMs: 60_000 });
        } catch {
          // udhcpc -n exits 1 when no lease was obtained: the script's records say what happened.
        }
        const events: Record<string, Record<string, string>> = {};
        for (const f of readdirSync(dir.dir).filter((f) => f.startsWith(`${path.basename(out)}.`))) {
          const env: Record<string, string> = {};
          for (const line of readFileSync(path.join(dir.dir, f), 'utf8').split('\n')) {
            const i = line.indexOf('=');
            if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
          }
          events[f.slice(path.basename(out).length + 1)] = env;
        }
        return events;
      },
      async close() {
        await core.close();
        await lab.destroy();
        dir.cleanup();
      },
    };
  } catch (error) {
    await lab.destroy();
    dir.cleanup();
    throw error;
  }
}
