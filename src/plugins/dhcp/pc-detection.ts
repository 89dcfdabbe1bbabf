/**
 * Which DHCP packets come from a generic PXE client (a lab PC next to the Pis), and which boot
 * loader it needs. Pure. Asked only for packets that pi-detection.ts did not claim: a Pi also sends
 * `PXEClient:Arch:00000`, so the Pi test always runs first.
 *
 * A packet is a PC's PXE ROM (or iPXE) when its option 60 starts with `PXEClient` (PXE 2.1 spec;
 * RFC 4578 §2.1 carries the architecture in option 93, and PXE ROMs repeat it in option 60 as
 * `PXEClient:Arch:xxxxx:UNDI:yyyzzz`). The architecture is option 93's first entry, else the
 * `Arch:` field of option 60. Values (RFC 4578 §2.1 and the IANA "Processor Architecture Types"
 * registry, which corrected RFC 4578's swapped 7 and 9):
 *
 *   0   x86 BIOS                 → `pc-bios`, boot file undionly.kpxe (iPXE over the ROM's UNDI driver)
 *   6   x86 (32-bit) UEFI        → refused: Debian's `ipxe` package has no 32-bit EFI build
 *   7   x64 UEFI                 → `pc-uefi`, boot file ipxe.efi
 *   9   EFI byte code / x64 UEFI → `pc-uefi` (firmware in the field sends 9 for x64 too, as RFC 4578's
 *                                  original table told it to; dnsmasq users match both)
 *   10  ARM 32-bit UEFI          → refused (no ARM build in Debian's `ipxe`)
 *   11  ARM 64-bit UEFI          → refused (idem; a Pi 4/5 running UEFI firmware falls here)
 *   anything else (Itanium, PC-98, HTTP boot 15/16...) → refused
 *
 * "Refused" is polite: no reply (the LAN's own DHCP server, or nobody, answers it), no client
 * record, and the plugin logs once per MAC what the machine is and why bramble cannot boot it.
 *
 * iPXE (already running: QEMU's NIC ROM, or the undionly.kpxe / ipxe.efi bramble sent) says so in
 * option 77, user class `iPXE` (sent raw, not in RFC 3004's length-prefixed form; both are
 * accepted), and in option 175, its own encapsulated options. Such a client gets the per-client
 * iPXE script instead of another copy of iPXE, which would loop.
 *
 * A packet without `PXEClient` from a MAC that bramble recorded as a PC (model `pc-bios` /
 * `pc-uefi`) is that PC's operating system (the kernel's `ip=dhcp`, then the booted OS): it is the
 * client too, not PXE, like a Pi's OS. Any other packet is nobody bramble serves.
 */
import type { DhcpPacket } from './dhcp.codec';

export type PcModel = 'pc-bios' | 'pc-uefi';

export const PC_MODELS: readonly PcModel[] = ['pc-bios', 'pc-uefi'];

/** RFC 4578 §2.1 / IANA architecture types bramble has a boot loader for. */
const SUPPORTED: ReadonlyMap<number, PcModel> = new Map([
  [0, 'pc-bios'],
  [7, 'pc-uefi'],
  [9, 'pc-uefi'],
]);

/** Names of the architecture types, for the "cannot boot it" log line. */
export const ARCH_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'x86 BIOS'],
  [1, 'NEC PC-98'],
  [2, 'Itanium EFI'],
  [3, 'DEC Alpha'],
  [4, 'Arc x86'],
  [5, 'Intel Lean Client'],
  [6, 'x86 32-bit UEFI'],
  [7, 'x64 UEFI'],
  [8, 'Xscale EFI'],
  [9, 'x64 UEFI (EFI byte code in RFC 4578)'],
  [10, 'ARM 32-bit UEFI'],
  [11, 'ARM 64-bit UEFI'],
  [12, 'PowerPC Open Firmware'],
  [13, 'PowerPC ePAPR'],
  [14, 'POWER OPAL v3'],
  [15, 'x86 UEFI HTTP boot'],
  [16, 'x64 UEFI HTTP boot'],
]);

export interface PcIdentity {
  mac: string;
  /** PCs have no serial bramble can read. */
  serial: null;
  model: PcModel;
  /** `pxe-arch`: seen by its PXE options; `known`: a MAC bramble recorded as a PC, not PXE now. */
  via: 'pxe-arch' | 'known';
  pxe: boolean;
  /** RFC 4578 architecture, or null (`known`, no option 93). */
  arch: number | null;
  /** The client is iPXE already (option 77 `iPXE` or option 175 present). */
  ipxe: boolean;
}

export type PcDetection =
  { kind: 'pc'; identity: PcIdentity } | { kind: 'unsupported'; mac: string; arch: number | null; archName: string } | null;

/** What the decider knows of a MAC (the core's client record). */
export interface KnownModel {
  model?: string | null;
}

const PXE_CLIENT = 'PXEClient';
const IPXE = Buffer.from('iPXE', 'latin1');

function isPcModel(model: string | null | undefined): model is PcModel {
  return model === 'pc-bios' || model === 'pc-uefi';
}

/** Option 93's first architecture, else the `Arch:` field of option 60, else null. */
export function pxeArchitecture(packet: DhcpPacket): number | null {
  const opt93 = packet.options.get(93);
  if (opt93 !== undefined && opt93.length >= 2) return (opt93[0] << 8) | opt93[1];
  const vendor = packet.options.get(60)?.toString('latin1') ?? '';
  const m = /^PXEClient:Arch:(\d{5})(?::|$)/.exec(vendor);
  return m ? Number(m[1]) : null;
}

/** Option 77 says `iPXE` (raw, as iPXE sends it, or one entry of an RFC 3004 list), or option 175 is there. */
export function isIpxe(packet: DhcpPacket): boolean {
  if (packet.options.has(175)) return true;
  const uc = packet.options.get(77);
  if (uc === undefined) return false;
  if (uc.equals(IPXE)) return true;
  // RFC 3004 §4: a list of (length, data) entries.
  for (let i = 0; i < uc.length;) {
    const n = uc[i];
    if (n === 0 || i + 1 + n > uc.length) return false;
    if (uc.subarray(i + 1, i + 1 + n).equals(IPXE)) return true;
    i += 1 + n;
  }
  return false;
}

/**
 * A PC, an architecture bramble cannot boot, or null. `known` is the client bramble has for this
 * MAC (ctx.views.clients), if any: it identifies a PC's non-PXE packets.
 */
export function detectPc(packet: DhcpPacket, known: KnownModel | null | undefined): PcDetection {
  const mac = packet.mac;
  if (mac === null) return null;
  const vendor = packet.options.get(60);
  const pxe = vendor !== undefined && vendor.toString('latin1', 0, PXE_CLIENT.length) === PXE_CLIENT;
  if (!pxe) {
    if (!isPcModel(known?.model)) return null;
    return { kind: 'pc', identity: { mac, serial: null, model: known.model, via: 'known', pxe: false, arch: null, ipxe: false } };
  }
  const arch = pxeArchitecture(packet);
  const model = arch === null ? undefined : SUPPORTED.get(arch);
  if (model === undefined) {
    return { kind: 'unsupported', mac, arch, archName: arch === null ? 'no architecture given' : (ARCH_NAMES.get(arch) ?? `type ${arch}`) };
  }
  return { kind: 'pc', identity: { mac, serial: null, model, via: 'pxe-arch', pxe: true, arch, ipxe: isIpxe(packet) } };
}

/** Boot loaders bramble serves PCs from the TFTP plugin's `ipxeDir` (Debian's `ipxe` package). */
export const PC_BOOT_FILES = { bios: 'undionly.kpxe', uefi: 'ipxe.efi', script: 'bramble.ipxe' } as const;

/**
 * The boot file a PC's PXE request gets: the per-client iPXE script when it is iPXE already, else
 * iPXE for its firmware. Prefixed with the client's MAC as a folder (`aa-bb-cc-dd-ee-ff/...`, the
 * form the TFTP plugin reads as a MAC prefix), so its TFTP requests name the client whatever
 * address it has: in proxy mode bramble learns the address only from the broadcasts it overhears.
 */
export function pcBootFile(identity: PcIdentity): string {
  const name = identity.ipxe ? PC_BOOT_FILES.script : identity.model === 'pc-bios' ? PC_BOOT_FILES.bios : PC_BOOT_FILES.uefi;
  return `${identity.mac.replace(/:/g, '-')}/${name}`;
}
