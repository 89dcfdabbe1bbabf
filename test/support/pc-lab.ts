/**
 * A lab for generic PXE clients (lab PCs): the DHCP lab (test/support/dhcp-lab.ts) with bramble's
 * TFTP plugin as well, both serving the `srv` host, and a Debian-style x86 image registered in
 * bramble (`boot/` with `vmlinuz-<version>` and `initrd.img-<version>`: small files of a pattern,
 * unless the test writes real ones). Helpers pose as PC firmware with real clients: busybox udhcpc
 * with a BIOS or UEFI PXE ROM's options (60, 93, 94, and 77 `iPXE` for iPXE), curl over TFTP.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApproveClientCommand } from '../../src/core/commands/client.commands';
import { RegisterImageCommand } from '../../src/core/commands/image.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { UpdatePluginSettingsCommand } from '../../src/core/commands/system.commands';
import type { Logger, RecordedEvent } from '../../src/core/plugin-api';
import type { DhcpSettings } from '../../src/plugins/dhcp/dhcp.config';
import type { TftpSettings } from '../../src/plugins/tftp/tftp.config';
import { createTftpSocket } from '../../src/plugins/tftp/tftp.libc';
import { createTftpPlugin } from '../../src/plugins/tftp/tftp.plugin';
import { dhcpLabUnavailable, startDhcpLab, type DhcpLab, type UdhcpcEvents } from './dhcp-lab';
import { patternFile } from './tftp-lab';

/** The kernel version of the lab image's files. */
export const LAB_KERNEL_VERSION = '6.1.0-42-amd64';

export const IPXE_DIR = '/usr/lib/ipxe';

/** Why PC lab tests cannot run here, or null. */
export function pcLabUnavailable(): string | null {
  const dhcp = dhcpLabUnavailable();
  if (dhcp) return dhcp;
  for (const f of ['undionly.kpxe', 'ipxe.efi']) {
    if (!existsSync(path.join(IPXE_DIR, f)))
      return `${IPXE_DIR}/${f} is missing (Debian package ipxe; scripts/ensure-test-deps.sh installs it)`;
  }
  if (!['/usr/bin/curl', '/bin/curl'].some((p) => existsSync(p))) return 'curl is not installed';
  return null;
}

export type PcFirmware = 'bios' | 'uefi' | 'ipxe-bios' | 'ipxe-uefi' | 'arm64-uefi';

/** Option 60 and 93 (hex) of each kind of firmware, as udhcpc sends them. */
const FIRMWARE: Record<PcFirmware, { vendor: string; arch: string; ipxe: boolean }> = {
  bios: { vendor: 'PXEClient:Arch:00000:UNDI:002001', arch: '0000', ipxe: false },
  uefi: { vendor: 'PXEClient:Arch:00007:UNDI:003016', arch: '0007', ipxe: false },
  'ipxe-bios': { vendor: 'PXEClient:Arch:00000:UNDI:002001', arch: '0000', ipxe: true },
  'ipxe-uefi': { vendor: 'PXEClient:Arch:00007:UNDI:003001', arch: '0007', ipxe: true },
  'arm64-uefi': { vendor: 'PXEClient:Arch:00011:UNDI:003000', arch: '000b', ipxe: false },
};

/** udhcpc arguments posing as this firmware: options 60, 93, 94 (and 77 `iPXE`), asking for 43, 66, 67. */
export function firmwareArgs(fw: PcFirmware): string[] {
  const f = FIRMWARE[fw];
  const args = ['-V', f.vendor, '-x', `0x5d:${f.arch}`, '-x', '0x5e:010201', '-O', '43', '-O', '66', '-O', '67'];
  if (f.ipxe) args.push('-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`);
  return args;
}

export interface PcLab {
  dhcp: DhcpLab;
  serverIp: string;
  image: { id: string; root: string; boot: string; kernel: Buffer; initrd: Buffer };
  /** Adds a PC host (no address) with this MAC. */
  addPc(name: string, mac: string): Promise<void>;
  /** Runs udhcpc on the host posing as this firmware; the env of each script call, by event. */
  pxe(host: string, fw: PcFirmware, options?: { tries?: number }): Promise<UdhcpcEvents>;
  /** Approves the client with the lab image (or none). */
  approve(mac: string, imageId?: string | null): Promise<void>;
  /** Fetches a file over TFTP from the host with curl (the host needs an address); null when curl failed. */
  tftp(host: string, name: string): Promise<{ data: Buffer | null; stderr: string }>;
  /** Gives a host a static address in the lab (as its DHCP lease would). */
  setAddress(host: string, hostNumber: number): Promise<string>;
  dhcpSettings(values: Partial<DhcpSettings>): Promise<void>;
  tftpSettings(values: Partial<TftpSettings>): Promise<void>;
  /** Boot facts as recorded for a client (its `boot-<mac>` stream). */
  bootEvents(mac: string): Promise<RecordedEvent[]>;
  close(): Promise<void>;
}

export async function startPcLab(options: { dhcp?: Partial<DhcpSettings>; logger?: Logger } = {}): Promise<PcLab> {
  const dhcp = await startDhcpLab({
    extraPlugins: (lab) => [createTftpPlugin({ createFd: (o) => lab.inNamespace('srv', () => createTftpSocket(o)) })],
    settings: options.dhcp,
    logger: options.logger,
  });
  try {
    const meta = (): ReturnType<typeof commandMeta> => commandMeta('admin:test');
    const root = path.join(dhcp.tmp, 'debian-image');
    const boot = path.join(root, 'boot');
    for (const d of ['etc', 'usr/bin', 'boot']) mkdirSync(path.join(root, d), { recursive: true });
    const kernel = patternFile(40_000, 7);
    const initrd = patternFile(25_000, 11);
    writeFileSync(path.join(boot, `vmlinuz-${LAB_KERNEL_VERSION}`), kernel);
    writeFileSync(path.join(boot, `initrd.img-${LAB_KERNEL_VERSION}`), initrd);
    writeFileSync(path.join(boot, `config-${LAB_KERNEL_VERSION}`), 'CONFIG_ROOT_NFS=y\n');
    const { imageId } = await dhcp.core.exec<{ imageId: string }>(new RegisterImageCommand({ name: 'lab-debian', path: root }, meta()));
    let out = 0;
    const self: PcLab = {
      dhcp,
      serverIp: dhcp.serverIp,
      image: { id: imageId, root, boot, kernel, initrd },
      addPc: (name, mac) => dhcp.addClient(name, mac),
      pxe: (host, fw, o = {}) => dhcp.udhcpc(host, { tries: o.tries ?? 2, extra: firmwareArgs(fw) }),
      async approve(mac, id) {
        await dhcp.core.exec(new ApproveClientCommand({ mac, imageId: id === undefined ? imageId : id }, meta()));
      },
      async setAddress(host, hostNumber) {
        const ip = dhcp.ip(hostNumber);
        await dhcp.lab.ipIn(dhcp.lab.ns(host), ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
        return ip;
      },
      async tftp(host, name) {
        const file = path.join(dhcp.tmp, `tftp-out-${++out}`);
        try {
          await dhcp.lab.exec(host, 'curl', ['-sS', '--max-time', '10', '-o', file, `tftp://${dhcp.serverIp}/${name}`], {
            timeoutMs: 15_000,
          });
        } catch (error) {
          return { data: null, stderr: (error as { stderr?: string }).stderr ?? String(error) };
        }
        return { data: existsSync(file) ? readFileSync(file) : Buffer.alloc(0), stderr: '' };
      },
      dhcpSettings: (values) => dhcp.settings(values),
      async tftpSettings(values) {
        await dhcp.core.exec(new UpdatePluginSettingsCommand({ plugin: 'tftp', values }, meta()));
      },
      bootEvents: (mac) => dhcp.stream(`boot-${mac}`),
      close: () => dhcp.close(),
    };
    return self;
  } catch (error) {
    await dhcp.close();
    throw error;
  }
}
