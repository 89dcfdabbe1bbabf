/**
 * PXE option builders for Raspberry Pi replies. Pure.
 *
 * Option 43 (vendor-encapsulated options, RFC 2132 §8.4) holds PXE sub-options when option 60 is
 * `PXEClient` (PXE 2.1 spec): code, length, data, ..., END (255). Every Pi bootloader accepts the
 * layout dnsmasq sends for `pxe-service=0,"Raspberry Pi Boot"` (docs/pi-netboot-protocol.md §2):
 *
 *   06 01 03                        sub-option 6  PXE_DISCOVERY_CONTROL, 1 byte: 3 (bit 0: no
 *                                   broadcast discovery, bit 1: no multicast discovery)
 *   0a 04 00 50 58 45               sub-option 10 PXE_MENU_PROMPT, 4 bytes: timeout 0, "PXE"
 *   09 14 00 00 11 "Raspberry Pi Boot"
 *                                   sub-option 9  PXE_BOOT_MENU, 20 bytes: type 0x0000 (2 bytes),
 *                                   description length 17 (1 byte), the 17 bytes of the text
 *   ff                              END
 *
 * The Pi 3B boot ROM's length bug (it needs three trailing spaces after the text) only bites when
 * the text is sent as a bare option 43; this menu layout works on every model.
 */
import type { DhcpPacket } from './dhcp.codec';

export interface VendorSubOption {
  code: number;
  data: Buffer;
}

/** Encodes sub-options as code/length/data triples followed by END (255). */
export function encodeVendorSubOptions(subs: readonly VendorSubOption[]): Buffer {
  let size = 1;
  for (const s of subs) {
    if (!(s.code >= 1 && s.code <= 254) || s.data.length > 255) {
      throw new RangeError(`vendor sub-option ${s.code}: code must be 1..254 and data at most 255 bytes`);
    }
    size += 2 + s.data.length;
  }
  const out = Buffer.alloc(size);
  let pos = 0;
  for (const s of subs) {
    out[pos++] = s.code;
    out[pos++] = s.data.length;
    s.data.copy(out, pos);
    pos += s.data.length;
  }
  out[pos] = 255;
  return out;
}

export const PxeSubOption = {
  DISCOVERY_CONTROL: 6,
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71,
} as const;

/** Sub-option 6: discovery control bits (3 = use neither broadcast nor multicast discovery). */
export function pxeDiscoveryControl(bits: number): VendorSubOption {
  return { code: PxeSubOption.DISCOVERY_CONTROL, data: Buffer.from([bits & 0xff]) };
}

/** Sub-option 10: menu prompt — timeout in seconds (1 byte), then the prompt text. */
export function pxeMenuPrompt(timeout: number, prompt: string): VendorSubOption {
  return { code: PxeSubOption.MENU_PROMPT, data: Buffer.concat([Buffer.from([timeout & 0xff]), latin1(prompt)]) };
}

export interface PxeMenuItem {
  /** Boot server type (0 = PXE bootstrap server). */
  type: number;
  description: string;
}

/** Sub-option 9: boot menu — per item: type (uint16 BE), description length (1 byte), description. */
export function pxeBootMenu(items: readonly PxeMenuItem[]): VendorSubOption {
  const parts: Buffer[] = [];
  for (const item of items) {
    const text = latin1(item.description);
    if (text.length > 255) throw new RangeError('PXE menu item description longer than 255 bytes');
    const head = Buffer.alloc(3);
    head.writeUInt16BE(item.type, 0);
    head[2] = text.length;
    parts.push(head, text);
  }
  return { code: PxeSubOption.BOOT_MENU, data: Buffer.concat(parts) };
}

function latin1(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** The text every Pi bootloader looks for in option 43. */
export const RPI_BOOT_TEXT = 'Raspberry Pi Boot';

/**
 * Option 43 for a Pi: the 32 bytes dnsmasq sends for `pxe-service=0,"Raspberry Pi Boot"`.
 * Shared: do not mutate (the encoder only copies it).
 */
export const RPI_OPTION43: Buffer = encodeVendorSubOptions([
  pxeDiscoveryControl(3),
  pxeMenuPrompt(0, 'PXE'),
  pxeBootMenu([{ type: 0, description: RPI_BOOT_TEXT }]),
]);

/** The boot menu text a PC's PXE ROM may show for bramble's one item. */
export const PC_BOOT_TEXT = 'bramble network boot';

/**
 * Option 43 of a proxy offer to a PC's PXE ROM. Discovery control 0x0b: bits 0 and 1 (no broadcast
 * or multicast boot server discovery) as for the Pis, plus bit 3, "if a boot file name is present
 * in the initial DHCP or ProxyDHCP offer packet, download the boot file (do not prompt, menu,
 * discover)" (PXE 2.1 §2.4.2.1, PXE_DISCOVERY_CONTROL): the offer carries siaddr and the file, so
 * the ROM boots it at once. A ROM that ignores bit 3 asks the proxy server on port 4011 instead,
 * which answers with the same file (dnsmasq's `pxe-service` behaves the same way). The one-item
 * menu (type 0, "PXE bootstrap server") and the zero-second prompt are there for ROMs that insist
 * on a menu before they go to port 4011. Shared: do not mutate.
 */
export const PC_OPTION43: Buffer = encodeVendorSubOptions([
  pxeDiscoveryControl(0x0b),
  pxeMenuPrompt(0, 'PXE'),
  pxeBootMenu([{ type: 0, description: PC_BOOT_TEXT }]),
]);

/**
 * Sub-options of an option 43 value (code, length, data ... END). Stops at END, at a truncated
 * entry, or at the end of the value; PAD (0) is skipped. Never throws.
 */
export function decodeVendorSubOptions(value: Buffer): VendorSubOption[] {
  const out: VendorSubOption[] = [];
  for (let i = 0; i < value.length;) {
    const code = value[i];
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    if (i + 1 >= value.length) break;
    const n = value[i + 1];
    if (i + 2 + n > value.length) break;
    out.push({ code, data: value.subarray(i + 2, i + 2 + n) });
    i += 2 + n;
  }
  return out;
}

/**
 * Option 43 of a port-4011 ACK to a PC: the request's PXE_BOOT_ITEM (sub-option 71: type, layer)
 * echoed, as the PXE 2.1 boot server ACK carries it, or null when the request named none.
 */
export function pcBootServerOption43(request: DhcpPacket): Buffer | null {
  const opt43 = request.options.get(43);
  if (opt43 === undefined) return null;
  const item = decodeVendorSubOptions(opt43).find((s) => s.code === PxeSubOption.BOOT_ITEM && s.data.length === 4);
  return item ? encodeVendorSubOptions([item]) : null;
}

/** Option 60 value of a PXE reply: `PXEClient`. Shared: do not mutate. */
export const PXE_CLIENT_VENDOR_CLASS: Buffer = latin1('PXEClient');

export function pxeClientOption(): Buffer {
  return PXE_CLIENT_VENDOR_CLASS;
}

/**
 * Option 97 to echo in the reply (PXE clients expect their GUID back), or null when the request
 * had none. Returns the request's bytes as they are (the encoder copies them).
 */
export function echoClientGuid(request: DhcpPacket): Buffer | null {
  return request.options.get(97) ?? null;
}
