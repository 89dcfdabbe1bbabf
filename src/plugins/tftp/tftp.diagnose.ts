/**
 * The TFTP plugin's part of `diagnose(mac)` (ctx.diagnostics.provide): whether the image assigned
 * to a client holds the files its model's firmware asks for, and whether the client asks for its
 * files under somebody else's serial folder.
 *
 * Which files each generation needs (docs/pi-netboot-protocol.md §0 and §3.2):
 * - BCM2837 and older (Pi 1–3, Zero 2; MAC prefix b8:27:eb): the ROM loads `bootcode.bin`, which
 *   loads `start.elf` and `fixup.dat`, then a kernel (`kernel8.img`, `kernel7.img` or `kernel.img`).
 * - BCM2711 (Pi 4, 400, CM4): `start4.elf` and `fixup4.dat` from the EEPROM bootloader, a
 *   `bcm2711-*.dtb`, and `kernel8.img` or `kernel7l.img`.
 * - BCM2712 (Pi 5, 500, CM5): no GPU firmware file; `config.txt`, a `bcm2712*.dtb`, and
 *   `kernel_2712.img` or `kernel8.img`.
 * A file missing from the image is what a real Pi shows as a rainbow screen or a boot loop with
 * "file not found" on the wire; PiServer's users met it whenever an image was made for one model
 * and assigned to another.
 *
 * Pure: the plugin lists the boot folder (one readdir) and keeps `SerialNotes`.
 */
import type { DiagnosisFinding } from '../../core/plugin-api';
import { chooseBootImages } from './tftp.ipxe';

export type PiFamily = 'bcm2837' | 'bcm2711' | 'bcm2712';

const FAMILY_BY_MODEL: Readonly<Record<string, PiFamily>> = {
  RPi1: 'bcm2837',
  RPi2: 'bcm2837',
  RPi3: 'bcm2837',
  RPi4: 'bcm2711',
  RPi400: 'bcm2711',
  CM4: 'bcm2711',
  CM4S: 'bcm2711',
  RPi5: 'bcm2712',
  RPi500: 'bcm2712',
  CM5: 'bcm2712',
  CM5Lite: 'bcm2712',
};

/**
 * MAC prefixes that name one family on their own (the DHCP plugin's OUI table, pi-oui.data.ts;
 * 28:cd:c1 and d8:3a:dd ship on both Pi 4 and Pi 5 boards, so they are not here).
 */
const FAMILY_BY_OUI: Readonly<Record<string, PiFamily>> = {
  'b8:27:eb': 'bcm2837',
  'dc:a6:32': 'bcm2711',
  'e4:5f:01': 'bcm2711',
  '2c:cf:67': 'bcm2712',
};

/** The family of a client: by its model when known, else by a MAC prefix that names one, else null. */
export function piFamily(model: string | null, mac: string): PiFamily | null {
  if (model && FAMILY_BY_MODEL[model]) return FAMILY_BY_MODEL[model];
  return FAMILY_BY_OUI[mac.slice(0, 8)] ?? null;
}

/** One need: any one of `names` (one `*` in a name matches anything) in the boot folder's top level. */
export interface BootFileNeed {
  names: readonly string[];
  what: string;
}

const NEEDS: Readonly<Record<PiFamily, readonly BootFileNeed[]>> = {
  bcm2837: [
    { names: ['bootcode.bin'], what: 'the second-stage loader the Pi 3 ROM fetches first' },
    { names: ['start.elf', 'start_x.elf'], what: 'the GPU firmware' },
    { names: ['fixup.dat', 'fixup_x.dat'], what: 'the GPU firmware\u2019s memory split' },
    { names: ['kernel8.img', 'kernel7.img', 'kernel.img'], what: 'a kernel' },
  ],
  bcm2711: [
    { names: ['start4.elf', 'start4x.elf'], what: 'the Pi 4 GPU firmware' },
    { names: ['fixup4.dat', 'fixup4x.dat'], what: 'the Pi 4 GPU firmware\u2019s memory split' },
    { names: ['bcm2711-*.dtb'], what: 'a Pi 4 device tree' },
    { names: ['kernel8.img', 'kernel7l.img'], what: 'a kernel' },
  ],
  bcm2712: [
    { names: ['config.txt'], what: 'the firmware configuration the Pi 5 bootloader reads first' },
    { names: ['bcm2712*.dtb'], what: 'a Pi 5 device tree' },
    { names: ['kernel_2712.img', 'kernel8.img'], what: 'a kernel' },
  ],
};

export function bootFileNeeds(family: PiFamily): readonly BootFileNeed[] {
  return NEEDS[family];
}

function matches(pattern: string, name: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return name === pattern;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return name.length >= head.length + tail.length && name.startsWith(head) && name.endsWith(tail);
}

/** The needs of `family` that no name of the boot folder's top level (`present`) meets. */
export function unmetNeeds(family: PiFamily, present: ReadonlySet<string> | readonly string[]): BootFileNeed[] {
  const names = [...present];
  return NEEDS[family].filter((need) => !need.names.some((pattern) => names.some((name) => matches(pattern, name))));
}

const FAMILY_TEXT: Readonly<Record<PiFamily, string>> = {
  bcm2837: 'a Pi 3 (or older)',
  bcm2711: 'a Pi 4',
  bcm2712: 'a Pi 5',
};

export interface TftpDiagnosisInput {
  mac: string;
  model: string | null;
  image: { name: string; version: number; bootFolder: string } | null;
  /** Top-level names of the image's boot folder; null when it cannot be read. */
  bootFolderNames: readonly string[] | null;
  /** How the client last asked under a serial folder that is not its own (SerialNotes). */
  serialNote: SerialNote | null;
  /** For a PC: the `ipxeDir` setting and whether its iPXE binary for the PC's firmware is there. */
  ipxe?: { dir: string; binary: string; present: boolean };
}

/** A lab PC (generic PXE, tftp.ipxe.ts): a kernel and an initrd to chain-load, and iPXE for a ROM that is not iPXE. */
function pcFindings(input: TftpDiagnosisInput): DiagnosisFinding[] {
  const findings: DiagnosisFinding[] = [];
  if (input.image && input.bootFolderNames) {
    const chosen = chooseBootImages(input.bootFolderNames);
    if (!chosen) {
      findings.push({
        code: 'IMAGE_HAS_NO_KERNEL',
        severity: 'error',
        message: `it is a PC, and image ${input.image.name} (version ${input.image.version}) has no vmlinuz-* or vmlinuz in ${input.image.bootFolder}: there is nothing for iPXE to load. Assign an x86 image with a kernel.`,
      });
    } else if (!chosen.initrd) {
      findings.push({
        code: 'IMAGE_HAS_NO_INITRD',
        severity: 'warning',
        message: `image ${input.image.name} has a kernel (${chosen.kernel}) but no matching initrd.img: a stock Debian kernel mounts an NFS root only from its initramfs (initramfs-tools with BOOT=nfs).`,
      });
    }
  }
  if (input.ipxe && !input.ipxe.present) {
    findings.push({
      code: 'IPXE_BINARY_MISSING',
      severity: 'warning',
      message: `${input.ipxe.binary} is not in ${input.ipxe.dir} (the TFTP plugin's ipxeDir): a PC whose network card ROM is not iPXE cannot chain-load. Install Debian's ipxe package, or point ipxeDir at the iPXE binaries.`,
    });
  }
  return findings;
}

export function tftpFindings(input: TftpDiagnosisInput): DiagnosisFinding[] {
  const findings: DiagnosisFinding[] = [];
  const family = piFamily(input.model, input.mac);
  if (input.model === 'pc-bios' || input.model === 'pc-uefi') findings.push(...pcFindings(input));
  if (input.image && input.bootFolderNames === null) {
    findings.push({
      code: 'BOOT_FOLDER_UNREADABLE',
      severity: 'error',
      message: `the boot folder of image ${input.image.name} (version ${input.image.version}), ${input.image.bootFolder}, cannot be read: nothing can be served from it.`,
    });
  } else if (input.image && input.bootFolderNames && family) {
    const unmet = unmetNeeds(family, input.bootFolderNames);
    if (unmet.length > 0) {
      findings.push({
        code: 'IMAGE_LACKS_MODEL_FILES',
        severity: 'error',
        message:
          `it is ${FAMILY_TEXT[family]}, and image ${input.image.name} (version ${input.image.version}) lacks what its firmware asks for: ` +
          unmet.map((n) => `${n.names.join(' or ')} (${n.what})`).join('; ') +
          `. Assign an image made for this model, or add the files to ${input.image.bootFolder}.`,
      });
    }
  }
  const updates = (input.bootFolderNames ?? []).filter((n) => /^(pieeprom|recovery)\.(upd|sig|bin)$/.test(n));
  if (input.image && updates.some((n) => n.startsWith('pieeprom'))) {
    findings.push({
      code: 'EEPROM_UPDATE_IN_BOOT_FOLDER',
      severity: 'warning',
      message:
        `image ${input.image.name} has an EEPROM update in its boot folder (${updates.join(', ')}): with self-update on, every Pi 4/5 that boots ` +
        'it rewrites its bootloader, at every boot while the file is newer. Remove the files unless that is meant (protocol notes \u00a73.2).',
    });
  }
  const note = input.serialNote;
  if (note) {
    findings.push(
      note.otherMac
        ? {
            code: 'SERIAL_FOLDER_OF_ANOTHER_CLIENT',
            severity: 'error',
            message:
              `it asked for ${note.file} under the serial folder ${note.folder}/, which is the serial of ${note.otherMac}: bramble served that client\u2019s image. ` +
              'Fix the serial on record (one of the two is wrong), or remove a TFTP_PREFIX_STR set in the EEPROM.',
          }
        : {
            code: 'SERIAL_FOLDER_MISMATCH',
            severity: 'warning',
            message:
              `it asks for its files under ${note.folder}/, but its serial on record is ${note.recordedSerial}. bramble serves it by its address anyway; ` +
              'check the serial (a client pre-registered with a wrong one?) or a TFTP_PREFIX_STR in its EEPROM.',
          },
    );
  }
  return findings;
}

export interface SerialNote {
  /** The 8-hex-digit folder it asked under. */
  folder: string;
  file: string;
  /** Its own serial on record, when known. */
  recordedSerial: string | null;
  /** The client that serial belongs to, when it is another one. */
  otherMac: string | null;
  at: number;
}

const MAX_NOTES = 4_096;

/**
 * The last serial-folder mix-up per client (bounded; oldest forgotten). A request is a mix-up when
 * the client at the source address has a serial on record and the folder is not it.
 */
export class SerialNotes {
  private readonly notes = new Map<string, SerialNote>();

  /**
   * `byAddress`: the client that last used the source address; `named`: the client the folder names
   * (null when none). Called for requests with a serial prefix only.
   */
  observe(
    folder: string,
    file: string,
    byAddress: { mac: string; serial: string | null } | null,
    named: { mac: string } | null,
    at: number,
  ): void {
    if (!byAddress) return;
    if (named && named.mac === byAddress.mac) return;
    if (!named && (byAddress.serial === null || byAddress.serial === folder)) return;
    this.notes.delete(byAddress.mac);
    this.notes.set(byAddress.mac, { folder, file, recordedSerial: byAddress.serial, otherMac: named?.mac ?? null, at });
    if (this.notes.size > MAX_NOTES) this.notes.delete(this.notes.keys().next().value!);
  }

  /** The note of `mac` when newer than `since`. */
  get(mac: string, since = 0): SerialNote | null {
    const note = this.notes.get(mac);
    return note && note.at >= since ? note : null;
  }
}
