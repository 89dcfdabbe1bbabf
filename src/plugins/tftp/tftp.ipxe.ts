/**
 * The iPXE script bramble writes per PC (`bramble.ipxe`): what a lab PC's iPXE runs to boot the
 * image assigned to it, with the same NFS root a Pi gets. Pure: the caller lists the image's boot
 * folder and passes the names.
 *
 * A PC's path: its PXE ROM gets iPXE from bramble (undionly.kpxe for BIOS, ipxe.efi for UEFI, from
 * Debian's `ipxe` package), iPXE asks DHCP again (user class `iPXE`) and gets
 * `<mac>/bramble.ipxe`, this script; the script loads the kernel and the initrd from the image's
 * boot folder over TFTP and boots them. Each URL carries the client's MAC as its first folder
 * (`tftp://<server>/aa-bb-cc-dd-ee-ff/vmlinuz-...`), which the TFTP plugin reads as a MAC prefix and
 * strips: the requests are tied to the client (its boot facts, its image version pin) whatever
 * address it has.
 *
 * Which kernel: a Debian-style boot folder holds `vmlinuz-<version>` and `initrd.img-<version>`
 * per installed kernel (the `vmlinuz`/`initrd.img` symlinks live in the root folder, outside the
 * boot folder, unless the image put them in /boot). The newest version (compared as numbers where
 * digits are) that has both files wins; else the plain `vmlinuz` + `initrd.img` pair; else the
 * newest kernel alone (a kernel with its drivers built in needs no initrd). Names with characters
 * outside `[A-Za-z0-9._+~-]` are never chosen: they go into a script line and a URL. Debian's
 * kernels mount an NFS root only from their initramfs (initramfs-tools with BOOT=nfs), so an image
 * without an initrd will usually not get far; the script is still the honest answer.
 *
 * The kernel arguments are the Pi's (tftp.generated.ts renderCmdline with an empty original):
 * `ip=dhcp root=/dev/nfs nfsroot=<server>:<version root>,vers=3,tcp ro rootwait` and the client's
 * own arguments, plus `initrd=<name>` first, which the kernel's EFI stub needs to find the initrd
 * that iPXE's UEFI build hands over (iPXE documentation, "initrd"); a BIOS kernel ignores it.
 */
import { renderCmdline } from './tftp.generated';

/** The name of the script in a PC's boot file (`<mac>/bramble.ipxe`). */
export const IPXE_SCRIPT_NAME = 'bramble.ipxe';

/** The iPXE binaries served from the plugin's `ipxeDir` to PCs. */
export const IPXE_BINARIES: readonly string[] = ['undionly.kpxe', 'ipxe.efi'];

const SAFE_NAME = /^[A-Za-z0-9._+~-]+$/;

/** Compares version strings as sequences of numbers and text (`6.1.0-18` < `6.1.0-28` < `6.10.0-1`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d < 0 ? -1 : 1;
      // Same number, different spelling (leading zeros): fall back to the text.
    }
    return x < y ? -1 : 1;
  }
  return 0;
}

export interface BootImages {
  kernel: string;
  initrd: string | null;
}

/** The kernel and initrd to boot from the names in an image's boot folder, or null (no kernel). */
export function chooseBootImages(names: readonly string[]): BootImages | null {
  const present = new Set(names.filter((n) => SAFE_NAME.test(n)));
  const versions = [...present]
    .filter((n) => n.startsWith('vmlinuz-') && n.length > 'vmlinuz-'.length)
    .map((n) => n.slice('vmlinuz-'.length))
    .sort((a, b) => compareVersions(b, a));
  const paired = versions.find((v) => present.has(`initrd.img-${v}`));
  if (paired !== undefined) return { kernel: `vmlinuz-${paired}`, initrd: `initrd.img-${paired}` };
  if (present.has('vmlinuz')) return { kernel: 'vmlinuz', initrd: present.has('initrd.img') ? 'initrd.img' : null };
  if (versions.length > 0) return { kernel: `vmlinuz-${versions[0]}`, initrd: null };
  return null;
}

export interface IpxeScriptInput {
  /** The TFTP (and NFS) server's address, as the PC reaches it. */
  serverIp: string;
  /** The client's MAC, `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** The names in the (pinned version's) boot folder. */
  bootFolderNames: readonly string[];
  /** The exported root of the image version, e.g. `/srv/bramble/images/bookworm/v3`. */
  exportPath: string;
  /** The client's own kernel arguments (bramble's `cmdlineArgs`). */
  extraArgs: string;
  /** For the comment line: which image and version this script boots. */
  imageName: string;
  imageVersion: number;
}

export type IpxeScript =
  | { ok: true; text: string; kernel: string; initrd: string | null }
  /** No kernel to boot: `text` is a script that says so on the PC's screen and gives up (exit 1: the firmware tries its next boot device). */
  | { ok: false; text: string; reason: 'no-kernel' };

/** One-line text for a script comment or `echo`: no line breaks, no iPXE `${` expansion. */
function scriptText(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/\$\{/g, '$ {');
}

export function renderIpxeScript(input: IpxeScriptInput): IpxeScript {
  const header = `#!ipxe\n# bramble: ${input.mac}, image ${scriptText(input.imageName)} version ${input.imageVersion}\n`;
  const chosen = chooseBootImages(input.bootFolderNames);
  if (!chosen) {
    return {
      ok: false,
      reason: 'no-kernel',
      text: `${header}echo bramble: the image ${scriptText(input.imageName)} has no kernel (vmlinuz-*) in its boot folder\nexit 1\n`,
    };
  }
  const base = `tftp://${input.serverIp}/${input.mac.replace(/:/g, '-')}`;
  const args = renderCmdline('', { serverIp: input.serverIp, exportPath: input.exportPath, extraArgs: input.extraArgs }).trim();
  const kernelArgs = chosen.initrd ? `initrd=${chosen.initrd} ${args}` : args;
  const lines = [`kernel ${base}/${chosen.kernel} ${kernelArgs}`];
  if (chosen.initrd) lines.push(`initrd ${base}/${chosen.initrd}`);
  lines.push('boot');
  return { ok: true, text: `${header}${lines.join('\n')}\n`, kernel: chosen.kernel, initrd: chosen.initrd };
}
