/**
 * What each emulated Raspberry Pi model says and does on the wire: its DHCP fingerprint, its TFTP
 * block size, the files its boot code asks for, and its timeouts. Pure data and small builders.
 *
 * Sources are the protocol notes (docs/pi-netboot-protocol.md), cited by section:
 * - §1.2 the DISCOVER's options (55, 60, 93, 94, 97) per model;
 * - §1.3 option 97 layouts: the Pi 3B ROM's constant (00 + sixteen 44 bytes), the Pi 4/5 layout
 *   (FourCC, board revision, low MAC bytes, serial; little-endian words);
 * - §2.5 message flow and timing: Pi 3B sends 5 DISCOVERs 5 s apart, never REQUESTs and takes the
 *   first acceptable OFFER as its lease; Pi 4/5 do DISCOVER/OFFER/REQUEST/ACK, retry every
 *   DHCP_REQ_TIMEOUT (4 s) and give up after DHCP_TIMEOUT (45 s); TFTP_FILE_TIMEOUT 30 s a file;
 * - §3.2 the files in the order asked for; §3.3 options and block sizes.
 * Where the notes say "unverified" (Pi 5's prefix probe, the exact Pi 5 order) the choice made here
 * is named in a comment: it is the emulator's assumption, not the firmware's documented behaviour.
 */

export type PiModel = 'pi3b' | 'pi4' | 'pi5';

export const PI_MODELS: readonly PiModel[] = ['pi3b', 'pi4', 'pi5'];

/** One TFTP read in a boot sequence. */
export interface BootFile {
  /** File name relative to the boot folder (the serial/MAC prefix is added by the machine). */
  name: string;
  /** false: the firmware asks and goes on when it is missing (§3.2 "missing is normal"). */
  required: boolean;
  /** The folder prefix applies (everything except the Pi 3 ROM's bootcode.bin/bootsig.bin). */
  prefixed: boolean;
  /** Options sent with the RRQ (§3.3): none (the Pi 3 ROM) or tsize 0 [+ blksize]. */
  tsize: boolean;
  /** Stage the contract maps this file to (FIRMWARE or KERNEL). */
  stage: 'FIRMWARE' | 'KERNEL';
  /** Skipped when this other file was loaded (a Pi 5 reads `kernel8.img` only without `kernel_2712.img`). */
  unlessLoaded?: string;
}

export interface PiTimings {
  /** Time between DHCP DISCOVERs (and REQUEST retries) without an acceptable answer. */
  dhcpRetryMs: number;
  /** DISCOVERs sent before the DHCP attempt fails. */
  dhcpTries: number;
  /** How long the Pi collects OFFERs after the first one (proxy mode: the address and the boot offer come from two servers). */
  offerWaitMs: number;
  /** Resend the last TFTP packet after this long without an answer. */
  tftpRetransmitMs: number;
  /** A file that has not arrived in full after this long fails (TFTP_FILE_TIMEOUT). */
  tftpFileTimeoutMs: number;
  /** Pause before a failed boot starts again from DHCP (the firmware going round BOOT_ORDER). */
  restartDelayMs: number;
  /**
   * From the last kernel-stage file to the root mount: the kernel starting, its own DHCP (§5.1),
   * then the mount. Not in the notes: a few seconds on a real Pi; 2 s here (an assumption).
   */
  kernelBootMs: number;
  /**
   * From the root mount to the login and the report: the OS starting (systemd to multi-user). A
   * real Pi OS takes well over 10 s; 3 s here (an assumption, kept short for tests).
   */
  osBootMs: number;
  /** Root mount attempts, `nfsRetryMs` apart, before the boot fails (the kernel and initramfs retry). */
  nfsTries: number;
  nfsRetryMs: number;
}

export interface PiProfile {
  model: PiModel;
  /** Human name for timelines. */
  label: string;
  /** Option 55 (§1.2). */
  parameterList: number[];
  /** Option 60 (§1.2). */
  vendorClass: string;
  /** Does the Pi send a REQUEST after the OFFER (§2.5)? The Pi 3B ROM does not. */
  sendsRequest: boolean;
  /** Block size asked for with `blksize`; null = no blksize option (512-byte blocks). */
  blksize: number | null;
  /** Board revision code sent in option 97 (Pi 4/5). */
  revision: number | null;
  timings: PiTimings;
}

const PI3B_PARAMS = [43, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135, 66];
const PI4_PARAMS = [1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135];

export const PXE_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';

export const PROFILES: Readonly<Record<PiModel, PiProfile>> = {
  pi3b: {
    model: 'pi3b',
    label: 'Pi 3B',
    parameterList: PI3B_PARAMS,
    vendorClass: PXE_VENDOR_CLASS,
    sendsRequest: false,
    blksize: null,
    revision: null,
    // 5 DISCOVERs 5 s apart (§2.5). The ROM's TFTP timeouts are not documented: 1 s/30 s like the Pi 4.
    timings: {
      dhcpRetryMs: 5000,
      dhcpTries: 5,
      offerWaitMs: 0,
      tftpRetransmitMs: 1000,
      tftpFileTimeoutMs: 30_000,
      restartDelayMs: 5000,
      kernelBootMs: 2000,
      osBootMs: 3000,
      nfsTries: 5,
      nfsRetryMs: 2000,
    },
  },
  pi4: {
    model: 'pi4',
    label: 'Pi 4',
    parameterList: PI4_PARAMS,
    vendorClass: PXE_VENDOR_CLASS,
    sendsRequest: true,
    blksize: 1468,
    revision: 0x00c03111,
    // DHCP_REQ_TIMEOUT 4 s, DHCP_TIMEOUT 45 s (so about 11 tries), TFTP_FILE_TIMEOUT 30 s (§2.5).
    timings: {
      dhcpRetryMs: 4000,
      dhcpTries: 11,
      offerWaitMs: 200,
      tftpRetransmitMs: 1000,
      tftpFileTimeoutMs: 30_000,
      restartDelayMs: 5000,
      kernelBootMs: 2000,
      osBootMs: 3000,
      nfsTries: 5,
      nfsRetryMs: 2000,
    },
  },
  pi5: {
    model: 'pi5',
    label: 'Pi 5',
    // §1.2: "Pi 5: assumed as Pi 4 (unverified)".
    parameterList: PI4_PARAMS,
    vendorClass: PXE_VENDOR_CLASS,
    sendsRequest: true,
    blksize: 1468,
    revision: 0x00d04170,
    timings: {
      dhcpRetryMs: 4000,
      dhcpTries: 11,
      offerWaitMs: 200,
      tftpRetransmitMs: 1000,
      tftpFileTimeoutMs: 30_000,
      restartDelayMs: 5000,
      kernelBootMs: 2000,
      osBootMs: 3000,
      nfsTries: 5,
      nfsRetryMs: 2000,
    },
  },
};

/** `aa:bb:cc:dd:ee:ff` → 6 bytes. */
export function macBytes(mac: string): Buffer {
  const hex = mac.toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) throw new Error(`not a MAC address: ${mac}`);
  return Buffer.from(hex, 'hex');
}

/**
 * Option 97 (§1.3): the Pi 3B ROM's constant GUID, or the Pi 4/5 layout with the serial as a
 * little-endian word. A Pi 5 sends the "RPi5" FourCC (bootloaders since 2023-10-30).
 */
export function clientGuid(model: PiModel, mac: string, serial: number): Buffer {
  const b = Buffer.alloc(17);
  if (model === 'pi3b') {
    b.fill(0x44, 1);
    return b;
  }
  b.write(model === 'pi5' ? 'RPi5' : 'RPi4', 1, 'latin1');
  b.writeUInt32LE(PROFILES[model].revision ?? 0, 5);
  macBytes(mac).copy(b, 9, 2);
  b.writeUInt32LE(serial >>> 0, 13);
  return b;
}

/** The serial as the firmware prints it in a TFTP prefix: 8 lower-case hex digits (§3.1). */
export function serialHex(serial: number): string {
  return (serial >>> 0).toString(16).padStart(8, '0');
}

/** How a Pi 4/5 chooses its folder prefix (TFTP_PREFIX, §3.1); the Pi 3 always probes its serial. */
export type PrefixMode = { kind: 'serial' } | { kind: 'string'; value: string } | { kind: 'mac' };

/** The folder prefix (with trailing `/`, or '' for an empty TFTP_PREFIX_STR) a Pi probes first. */
export function probePrefix(model: PiModel, serial: number, mac: string, mode: PrefixMode = { kind: 'serial' }): string {
  if (model === 'pi3b' || mode.kind === 'serial') return `${serialHex(serial)}/`;
  if (mode.kind === 'mac') return `${mac.toLowerCase().replace(/:/g, '-')}/`;
  return mode.value === '' ? '' : `${mode.value.slice(0, 32)}/`;
}

/**
 * The file whose presence in the prefixed folder keeps the prefix (§3.1): `start.elf` on a Pi 3;
 * `start4.elf` on a Pi 4 (the bootloader also accepts `start.elf`, asked for second). For a Pi 5
 * the notes say it is unverified: the emulator probes `config.txt`, the one file a Pi 5 boot
 * folder must have (§3.2).
 */
export function prefixProbeFiles(model: PiModel): string[] {
  if (model === 'pi3b') return ['start.elf'];
  if (model === 'pi4') return ['start4.elf', 'start.elf'];
  return ['config.txt'];
}

const fw = (name: string, required = false): BootFile => ({ name, required, prefixed: true, tsize: true, stage: 'FIRMWARE' });
const kn = (name: string, required = true): BootFile => ({ name, required, prefixed: true, tsize: true, stage: 'KERNEL' });

/**
 * The firmware-stage files after the prefix probe, in the order asked for (§3.2). The Pi 3 ROM's
 * own `bootcode.bin` and `bootsig.bin` come before the probe, unprefixed and without options.
 */
export function firmwareFiles(model: PiModel): { beforeProbe: BootFile[]; afterProbe: BootFile[] } {
  if (model === 'pi3b') {
    return {
      beforeProbe: [
        { name: 'bootcode.bin', required: true, prefixed: false, tsize: false, stage: 'FIRMWARE' },
        { name: 'bootsig.bin', required: false, prefixed: false, tsize: true, stage: 'FIRMWARE' },
      ],
      afterProbe: [
        fw('autoboot.txt'),
        fw('config.txt'),
        fw('recovery.elf'),
        fw('start.elf', true),
        fw('fixup.dat', true),
        fw('config.txt'),
      ],
    };
  }
  if (model === 'pi4') {
    return {
      beforeProbe: [],
      afterProbe: [
        fw('config.txt'),
        fw('recover4.elf'),
        fw('recovery.elf'),
        fw('start4.elf', true),
        fw('fixup4.dat', true),
        fw('config.txt'),
      ],
    };
  }
  // Pi 5: no GPU firmware file (§0, §3.2); the order is unverified (the notes' list is used).
  return { beforeProbe: [], afterProbe: [fw('config.txt', true)] };
}

/** What config.txt changes in the kernel stage (the keys the emulator honours). */
export interface ConfigTxt {
  kernel: string | null;
  initramfs: string | null;
  deviceTree: string | null;
}

/**
 * Reads the keys of config.txt that change which files the kernel stage loads, honouring the
 * `[all]` and model filters (`[pi3]`, `[pi4]`, `[pi5]`); any other filter section (`[cm4]`,
 * `[board-type=…]`, `[none]`) is taken as not matching this board. `initramfs <file> followkernel`.
 */
export function parseConfigTxt(text: string, model: PiModel): ConfigTxt {
  const filter = model === 'pi3b' ? 'pi3' : model;
  const out: ConfigTxt = { kernel: null, initramfs: null, deviceTree: null };
  let active = true;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      const name = section[1].trim().toLowerCase();
      active = name === 'all' || name === filter;
      continue;
    }
    if (!active) continue;
    const initramfs = /^initramfs\s+(\S+)/.exec(line);
    if (initramfs) {
      out.initramfs = initramfs[1];
      continue;
    }
    const kv = /^([A-Za-z_0-9]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    if (kv[1] === 'kernel') out.kernel = kv[2].trim();
    if (kv[1] === 'device_tree') out.deviceTree = kv[2].trim();
  }
  return out;
}

/** The default device tree of each model (§3.2). */
export const DEFAULT_DTB: Readonly<Record<PiModel, string>> = {
  pi3b: 'bcm2710-rpi-3-b.dtb',
  pi4: 'bcm2711-rpi-4-b.dtb',
  pi5: 'bcm2712-rpi-5-b.dtb',
};

/**
 * The kernel-stage files once config.txt is known (§3.2, §0): the device tree, `cmdline.txt`, the
 * kernel (config.txt's `kernel=`, else the model's default: `kernel8.img`; a Pi 5 tries
 * `kernel_2712.img` first, optional, then `kernel8.img`) and the initramfs when config.txt names one.
 * Overlays are not requested (the emulator does not parse `dtoverlay=`).
 */
export function kernelFiles(model: PiModel, config: ConfigTxt): BootFile[] {
  const files: BootFile[] = [kn(config.deviceTree ?? DEFAULT_DTB[model]), kn('cmdline.txt')];
  if (config.kernel) files.push(kn(config.kernel));
  else if (model === 'pi5') files.push(kn('kernel_2712.img', false), { ...kn('kernel8.img'), unlessLoaded: 'kernel_2712.img' });
  else files.push(kn('kernel8.img'));
  if (config.initramfs) files.push(kn(config.initramfs));
  return files;
}

/** `nfsroot=<server>:<path>[,options]` of a cmdline.txt, or null (§5.1). */
export function parseNfsRoot(cmdline: string): { server: string; path: string; options: string[] } | null {
  let found: string | null = null;
  for (const arg of cmdline.trim().split(/\s+/)) if (arg.startsWith('nfsroot=')) found = arg.slice('nfsroot='.length);
  if (!found) return null;
  const m = /^([^:,]+):([^,]+)(?:,(.*))?$/.exec(found);
  if (!m) return null;
  return { server: m[1], path: m[2], options: m[3] ? m[3].split(',') : [] };
}
